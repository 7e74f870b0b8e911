"""``--debug``: log lines on stderr with secrets and clinical text taken out.

Every record passes through ``Redactor`` before it is written: registered secret
values (the secret key, the session token, each text parameter) become ``****`` and
any SigV4 signature or credential scope in a line is masked too. The client's own
log lines carry no request text; the redactor is the second line of defence.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import IO

__all__ = ["Redactor", "enable_debug", "mask_key"]

_PATTERNS = (
    (re.compile(r"(Signature=)[0-9a-fA-F]+"), r"\1****"),
    (re.compile(r"(Credential=)[^,\s]+"), r"\1****"),
    (re.compile(r"((?:aws_secret_access_key|SecretAccessKey|SessionToken|"
                r"X-Amz-Security-Token)['\"]?\s*[:=]\s*['\"]?)[^'\",\s]+", re.I), r"\1****"),
)


class Redactor(logging.Filter):
    """Rewrites each record's message with secrets masked."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, *values: str | None) -> None:
        for value in values:
            if value and len(value) >= 4:
                self.secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "****")
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: drop its arguments rather than fail
            message = str(record.msg)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.msg = f"{record.msg}\n{self.redact(formatted)}"
            record.exc_info = None
            record.exc_text = None
        return True


def enable_debug(stream: IO[str] | None = None) -> Redactor:
    """Send cmclient's and httpx's log records to stderr at DEBUG, through a
    redactor that the caller feeds the values to hide."""
    redactor = Redactor()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    handler.addFilter(redactor)
    for name in ("cmclient", "httpx"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    return redactor


def mask_key(access_key_id: str | None) -> str:
    """An access key id with all but its last four characters hidden."""
    if not access_key_id:
        return "(none)"
    return "*" * max(len(access_key_id) - 4, 0) + access_key_id[-4:]
