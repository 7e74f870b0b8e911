"""Where S3 requests go, resolved once into plain values, as the AWS SDKs resolve it.

The endpoint comes from, highest first: the client's ``s3_endpoint_url=``; then the
SDKs' configured-endpoint rules for the service id ``s3`` (``AWS_ENDPOINT_URL_S3``,
``AWS_ENDPOINT_URL``, the profile's ``services`` section ``s3 =`` block, the profile's
``endpoint_url``; all skipped under ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS``), read with
the very function that resolves the Comprehend Medical endpoint; else S3's regional
endpoint ``https://s3[-fips].{region}.{dnsSuffix}`` from the same partition table.

Addressing: virtual-hosted (``https://{bucket}.s3.{region}.amazonaws.com/{key}``) on
S3's own endpoint, path-style (``{endpoint}/{bucket}/{key}``) on a configured endpoint
(a mock, moto, MinIO, a VPC endpoint) and for any bucket name that cannot be a DNS
label under TLS (dots, capitals, underscores). The profile's ``s3 = addressing_style``
setting (``auto``, ``path`` or ``virtual``) is honoured, as botocore honours it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from cmclient._protocol.config import (
    ClientConfig,
    InvalidConfigError,
    configured_endpoint,
    service_endpoint,
)

__all__ = ["ADDRESSING_STYLES", "S3Endpoint", "resolve_s3_endpoint", "virtual_host_compatible"]

SERVICE_ID = "s3"
ADDRESSING_STYLES = frozenset({"auto", "path", "virtual"})
_DNS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class S3Endpoint(NamedTuple):
    """S3's endpoint for one client: base URL (no trailing slash), signing region,
    addressing style, and whether the URL was configured rather than S3's own."""

    url: str
    region: str
    addressing_style: str = "auto"
    configured: bool = False

    def use_path_style(self, bucket: str) -> bool:
        """Whether requests for ``bucket`` put it in the path rather than the host."""
        if self.addressing_style == "path":
            return True
        if self.addressing_style == "virtual":
            return False
        return self.configured or not virtual_host_compatible(bucket)


def virtual_host_compatible(bucket: str) -> bool:
    """Whether ``bucket`` can be the first label of an https host name: lower-case
    letters, digits and hyphens, 3 to 63 characters, no dots (a dotted name breaks the
    wildcard TLS certificate), not an IP address."""
    if not _DNS_BUCKET.match(bucket):
        return False
    try:
        ipaddress.ip_address(bucket)
    except ValueError:
        return True
    return False


def resolve_s3_endpoint(
    config: ClientConfig,
    *,
    s3_endpoint_url: str | None = None,
    addressing_style: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> S3Endpoint:
    """The S3 endpoint for a client resolved into ``config`` (see the module docstring).

    Raises ``InvalidConfigError`` for an unknown addressing style, for a configured
    endpoint that is not an http(s) URL, and for FIPS with a configured endpoint (the
    SDKs' endpoint rules refuse the pair, as for Comprehend Medical).
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    style = addressing_style or _profile_addressing_style(config.settings) or "auto"
    style = style.strip().lower()
    if style not in ADDRESSING_STYLES:
        raise InvalidConfigError(
            f"addressing_style must be one of {', '.join(sorted(ADDRESSING_STYLES))}, "
            f"not {style!r}"
        )
    url = s3_endpoint_url or configured_endpoint(
        SERVICE_ID, environ=env, settings=config.settings, services=config.services
    )
    if url:
        if config.use_fips:
            raise InvalidConfigError(
                "Invalid configuration: FIPS and a custom S3 endpoint are not supported "
                f"together (endpoint {url}). Drop use_fips / AWS_USE_FIPS_ENDPOINT / "
                "use_fips_endpoint, or the custom S3 endpoint."
            )
        if not url.startswith(("http://", "https://")):
            raise InvalidConfigError(f"The S3 endpoint {url!r} is not an http(s) URL")
        return S3Endpoint(url.rstrip("/"), config.region, style, configured=True)
    default = service_endpoint(SERVICE_ID, config.region, use_fips=config.use_fips)
    return S3Endpoint(default, config.region, style, configured=False)


def _profile_addressing_style(settings: Mapping[str, Any]) -> str | None:
    """The profile's ``s3 =`` block's ``addressing_style``, if any."""
    block = settings.get("s3")
    if isinstance(block, Mapping):
        value = block.get("addressing_style")
        return str(value) if value else None
    return None
