"""EXPERIMENT: SigV4 with a per-operation template, to size a change to cmclient.sigv4.

Everything in the canonical request but the date and the body hash is the same for
every call of one operation on one client, so it is built once (with the general
``cmclient.sigv4.canonical_request`` and a placeholder date) and each signature only
formats the date, hashes the body and runs the two hashes and one HMAC. The result is
checked against ``cmclient.sigv4.sign_request`` by the benchmark.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

from cmclient.credentials import Credentials
from cmclient.sigv4 import ALGORITHM, Headers, canonical_request

_PLACEHOLDER = "\x00DATE\x00"
_EMPTY_HASH = hashlib.sha256(b"").hexdigest()
_UTC = timezone.utc


class SigningTemplate:
    """The fixed part of one request shape's canonical request (no session token)."""

    def __init__(
        self, method: str, url: str, headers: Headers, credentials: Credentials,
        region: str, service: str,
    ) -> None:
        creq, self.signed = canonical_request(
            method, url, headers, b"", [("x-amz-date", _PLACEHOLDER)]
        )
        assert creq.endswith(_EMPTY_HASH) and creq.count(_PLACEHOLDER) == 1
        self.head, self.tail = creq[: -len(_EMPTY_HASH)].split(_PLACEHOLDER)
        self.credentials = credentials
        self.region, self.service = region, service
        self._day = ""
        self._key = b""
        self._prefix = ""

    def sign(self, body: bytes, timestamp: datetime) -> dict[str, str]:
        t = timestamp if timestamp.tzinfo is _UTC else timestamp.astimezone(_UTC)
        day = f"{t.year:04d}{t.month:02d}{t.day:02d}"
        amz_date = f"{day}T{t.hour:02d}{t.minute:02d}{t.second:02d}Z"
        if day != self._day:  # the key and the scope change once a day
            scope = f"{day}/{self.region}/{self.service}/aws4_request"
            key = hmac.new(
                f"AWS4{self.credentials.secret_access_key}".encode(), day.encode(), hashlib.sha256
            ).digest()
            for part in (self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._day, self._key, self._scope = day, key, scope
            self._prefix = (
                f"{ALGORITHM} Credential={self.credentials.access_key_id}/{scope}, "
                f"SignedHeaders={self.signed}, Signature="
            )
        creq = f"{self.head}{amz_date}{self.tail}{hashlib.sha256(body).hexdigest()}"
        to_sign = (
            f"{ALGORITHM}\n{amz_date}\n{self._scope}\n"
            f"{hashlib.sha256(creq.encode()).hexdigest()}"
        )
        signature = hmac.new(self._key, to_sign.encode(), hashlib.sha256).hexdigest()
        return {"X-Amz-Date": amz_date, "Authorization": self._prefix + signature}
