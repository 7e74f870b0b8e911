"""The rules both of cmclient's connection pools follow (``sync_pool`` on
http.client, ``async_pool`` on asyncio): the settings they take, which pool a
request goes to, when a request may be sent again on a fresh connection, and when to
step aside for a test library that mocks httpx. Pure code; no I/O, no asyncio."""

from __future__ import annotations

import ssl
import sys
from typing import Any

import httpx

#: A request extension: a ``time.monotonic()`` deadline for the whole exchange, which
#: cmclient's drivers set from ``call_timeout``. The sync transport lets no wait
#: (connecting, sending, each receive) go past it; the async driver needs none, since
#: it bounds the whole call with a cancel scope.
DEADLINE = "cmclient.deadline"

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


class Stale(Exception):
    """A reused connection failed before any response byte arrived: the request may be
    sent again on a fresh one (see ``may_resend``); ``error`` is what to raise if not."""

    def __init__(self, error: httpx.TransportError) -> None:
        super().__init__(str(error))
        self.error = error


def may_resend(request: httpx.Request, all_requests_idempotent: bool) -> bool:
    """Whether ``request`` may go out once more after a reused connection turned out
    closed before any response byte arrived: its body can be replayed and its method
    is idempotent (or the caller said all of its requests are)."""
    return isinstance(request.stream, httpx.ByteStream) and (
        all_requests_idempotent or request.method in IDEMPOTENT
    )


def mocked(asynchronous: bool) -> bool:
    """Whether a test library intercepts httpx's transports, sync or async: pytest-httpx
    patches httpx's default transport, respx (``using="httpcore"``, its default)
    httpcore's pool. A transport of cmclient's then hands its requests to httpx's own
    transport, so the mock sees them. httpcore is looked at only if something imported
    it: nobody can have patched a module that was never loaded (and cmclient's sync
    path does not load it)."""
    prefix, method = _names(asynchronous)
    patchable: list[Any] = [getattr(getattr(httpx, f"{prefix}HTTPTransport"), method)]
    httpcore = sys.modules.get("httpcore")
    if httpcore is not None:
        patchable.append(getattr(getattr(httpcore, f"{prefix}ConnectionPool"), method))
    return any(_patched(function) for function in patchable)


def transport_chosen_by_mock(asynchronous: bool) -> bool:
    """Whether a test library chooses the transport of every httpx client (respx's
    ``using="httpx"`` patches ``Client._transport_for_url``): a request must then go
    through ``client.send``, or it would never reach the mock."""
    prefix, _ = _names(asynchronous)
    return _patched(getattr(httpx, f"{prefix}Client")._transport_for_url)


def _names(asynchronous: bool) -> tuple[str, str]:
    return ("Async", "handle_async_request") if asynchronous else ("", "handle_request")


def _patched(function: Any) -> bool:
    return getattr(function, "__module__", "").partition(".")[0] not in ("httpcore", "httpx")


class PoolSettings:
    """What both transports are built with, and what they derive from it.

    ``max_connections`` caps the connections open at once, over all origins.
    ``ssl_context`` is used for ``https`` URLs (default: ``httpx.create_ssl_context()``,
    verifying as httpx does, built at the first https request). ``keepalive_expiry``
    (seconds, or ``None``) drops connections idle that long before reusing them.
    ``all_requests_idempotent`` lets a request of any method be resent once when a
    reused connection turns out to be closed before any response byte arrived.
    Timeouts come from each request's ``extensions["timeout"]`` (httpx puts its
    ``connect``, ``read``, ``write`` and ``pool`` limits there).
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_expiry: float | None = 5.0,
        all_requests_idempotent: bool = False,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._max_connections = max_connections
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._resend_any = all_requests_idempotent

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    def _fallback_options(self) -> dict[str, Any]:
        """The same settings for httpx's own transport (``httpx.HTTPTransport`` or its
        async twin), used while a test library mocks it."""
        return {
            "verify": self._ssl_context or True,
            "limits": httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
                keepalive_expiry=self._keepalive_expiry,
            ),
        }
