"""The rules both of cmclient's connection pools follow (``_sync_transport`` on
http.client, ``_aio_transport`` on asyncio): which pool a request goes to, when a
request may be sent again on a fresh connection, and when to step aside for a test
library that mocks httpx. Pure code; no I/O, no asyncio."""

from __future__ import annotations

import sys
from typing import Any

import httpx

#: A pool key: scheme, host, port.
Origin = tuple[str, str, int]

#: RFC 9110 section 9.2.2.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(request: httpx.Request) -> Origin:
    url = request.url
    scheme = url.scheme
    if scheme not in DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(
            f"Request URL has an unsupported scheme {scheme!r}", request=request
        )
    return scheme, url.raw_host.decode("ascii"), url.port or DEFAULT_PORTS[scheme]


def may_resend(request: httpx.Request, all_requests_idempotent: bool) -> bool:
    """Whether ``request`` may go out once more after a reused connection turned out
    closed before any response byte arrived: its body can be replayed and its method
    is idempotent (or the caller said all of its requests are)."""
    return isinstance(request.stream, httpx.ByteStream) and (
        all_requests_idempotent or request.method in IDEMPOTENT
    )


def mocked(asynchronous: bool) -> bool:
    """Whether a test library has patched httpx's default transport (pytest-httpx) or
    httpcore's pool (respx), sync or async: a request is then meant to be mocked and
    goes through them. httpcore is looked at only if something imported it: nobody
    can have patched a module that was never loaded (and cmclient's sync path does
    not load it)."""
    prefix, method = ("Async", "handle_async_request") if asynchronous else ("", "handle_request")
    owners: list[Any] = [getattr(httpx, f"{prefix}HTTPTransport")]
    httpcore = sys.modules.get("httpcore")
    if httpcore is not None:
        owners.append(getattr(httpcore, f"{prefix}ConnectionPool"))
    return any(
        getattr(getattr(owner, method), "__module__", "").partition(".")[0]
        not in ("httpcore", "httpx")
        for owner in owners
    )
