"""S3 bucket naming rules, beyond what the service model's pattern and length say.

Kept apart from the job handlers so that anything else in the mock that names buckets
(a job's input and output configuration today, an S3 stand-in later) applies one rule.
Pure: a name in, the reason it is refused (or None) out.
"""

from __future__ import annotations

import re
from ipaddress import ip_address

__all__ = ["s3_bucket_problem"]

_SHAPE = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")


def s3_bucket_problem(name: str) -> str | None:
    """Why ``name`` breaks the S3 bucket naming rules (beyond the model's pattern and
    length), or None."""
    if not _SHAPE.fullmatch(name):
        return "it must use lower-case letters, digits, dots and hyphens, and begin and " \
               "end with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "it must not have adjacent dots, or a dot next to a hyphen"
    try:
        ip_address(name)
    except ValueError:
        pass
    else:
        return "it must not be formatted as an IP address"
    if name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3")):
        return "it uses a reserved prefix or suffix"
    return None
