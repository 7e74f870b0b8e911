"""The rules both of cmclient's connection pools follow (``sync_pool`` on
http.client, ``async_pool`` on asyncio and h11), written once so the two cannot drift:
the settings they take, which pool a request goes to, whether a response head is
acceptable and how its body is framed, when a connection may go back to the pool,
when a request may be sent again on a fresh connection, and when to step aside for a
test library that mocks httpx. Pure code; no I/O, no asyncio.

The response rules follow RFC 9112 section 6.3 in its strict reading: what is
ambiguous is rejected, never guessed at, because a guess about where one response
ends is how one request's answer becomes the next request's.
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Iterable
from typing import Any

import httpx

#: A request extension: a ``time.monotonic()`` deadline for the whole exchange, which
#: cmclient's drivers set from ``call_timeout``. The sync transport lets no wait
#: (connecting, sending, each receive) go past it; the async driver needs none, since
#: it bounds the whole call with a cancel scope.
DEADLINE = "cmclient.deadline"

#: A pool key: scheme, host, port.
Origin = tuple[str, str, int]

#: What ``socket.setsockopt`` takes, as in ``httpx.HTTPTransport(socket_options=)``.
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)

#: RFC 9110 section 9.2.2.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}

#: The most header lines, and bytes of head (status line and header lines), a response
#: may have. http.client enforces the same count and 64 KiB per line on its own.
MAX_HEADERS = 100
MAX_HEAD_BYTES = 64 * 1024


class BadResponse(Exception):
    """A response head (or framing line) the pools refuse; ``str()`` says which rule it
    broke, never what the server sent. The shells turn it into
    ``httpx.RemoteProtocolError``."""


#: How a response body ends: no body at all, after ``length`` bytes, with the last
#: chunk of a chunked body, or when the server closes the connection.
NO_BODY = -1
CHUNKED = -2
UNTIL_CLOSE = -3


def body_framing(
    status: int, request_method: str, headers: Iterable[tuple[bytes, bytes]]
) -> int:
    """The framing of a final (non-1xx) response's body: a byte count, or ``NO_BODY``,
    ``CHUNKED`` or ``UNTIL_CLOSE``. Raises ``BadResponse`` for a head whose length is
    ambiguous: Transfer-Encoding other than exactly ``chunked``, Transfer-Encoding
    together with Content-Length, a Content-Length that is not a plain decimal number,
    or several that disagree."""
    lengths: list[bytes] = []
    codings: list[bytes] = []
    count = 0
    for name, value in headers:
        count += 1
        lowered = name.lower()
        if lowered == b"content-length":
            lengths += (part.strip() for part in value.split(b","))
        elif lowered == b"transfer-encoding":
            codings += (part.strip().lower() for part in value.split(b","))
    if count > MAX_HEADERS:
        raise BadResponse(f"more than {MAX_HEADERS} header lines")
    if codings:
        if lengths:
            raise BadResponse("both Transfer-Encoding and Content-Length")
        if codings != [b"chunked"]:
            raise BadResponse("a Transfer-Encoding other than chunked")
    for length in lengths:
        # bytes.isdigit() is ASCII only ("²" is a digit to str.isdigit, not here).
        if not length.isdigit() or len(length) > 18 or length != lengths[0]:
            raise BadResponse("an invalid or conflicting Content-Length")
    if status in (204, 304) or request_method == "HEAD":
        return NO_BODY
    if codings:
        return CHUNKED
    if lengths:
        return int(lengths[0])
    return UNTIL_CLOSE


def check_head_line(line: bytes) -> None:
    """Refuse a status, header, chunk-size or trailer line holding a CR anywhere but
    before its final LF, or a NUL: http.client's header parser splits lines at a bare
    CR, which would let a value smuggle in a header of its own."""
    end = len(line) - (2 if line.endswith(b"\r\n") else 1 if line.endswith(b"\n") else 0)
    if b"\r" in line[:end] or b"\0" in line:
        raise BadResponse("a bare CR or a NUL in a response head line")


def chunk_size(line: bytes) -> int:
    """The size a chunk-size line announces (RFC 9112 section 7.1: hex digits, then
    optional extensions, which are ignored). Refuses a sign, spaces inside the number,
    an empty or over-long number: ``int(line, 16)`` would take "-1" or " 1_0"."""
    size, _, _ = line.rstrip(b"\r\n").partition(b";")
    size = size.rstrip(b" \t")
    if not 0 < len(size) <= 16 or size.strip(b"0123456789abcdefABCDEF"):
        raise BadResponse("an invalid chunk size")
    return int(size, 16)


def check_version(version: bytes) -> None:
    """Refuse a response that is not HTTP/1.0 or HTTP/1.1: the pools speak nothing else,
    and a status line claiming another version is not one they can frame."""
    if version not in (b"1.0", b"1.1"):
        raise BadResponse("a status line of an HTTP version other than 1.0 or 1.1")


def is_interim(status: int) -> bool:
    """A 1xx response to skip while waiting for the final one (RFC 9110 section 15.2).
    101 is not: cmclient never asks to switch protocols, so it is an error."""
    return 100 <= status < 200 and status != 101


def reusable(keep_alive: bool, leftover: bool) -> bool:
    """Whether a connection whose response was read to the end may carry another
    request: the server did not ask to close it, and nothing is left unread on it.
    Bytes past the end of a response (a server or middlebox answering twice) would
    otherwise be taken for the next request's response."""
    return keep_alive and not leftover


def unsafe_header(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The name of the first header whose value holds CR, LF or NUL, else ``None``.
    Such a value would end the header early and start another (request smuggling);
    the caller names the header, never the value, which may be a session token."""
    for name, value in headers:
        if b"\r" in value or b"\n" in value or b"\0" in value:
            return name
    return None


_forks = 0


def fork_generation() -> int:
    """How many times this process's ancestors forked on the way to it. A pool
    records it when created and starts afresh when it changes: sockets inherited
    across ``fork()`` are shared with the parent, and a request sent on one by the
    child would read the parent's answer."""
    return _forks


def _forked() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


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
    ``socket_options`` are set on each new socket before it connects.
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
        socket_options: Iterable[SocketOption] | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._max_connections = max_connections
        self._socket_options = list(socket_options or ())
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._resend_any = all_requests_idempotent
        self._start()

    def _start(self) -> None:
        """A transport's own state, set up once the settings are (its pool)."""

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    def _fallback_options(self) -> dict[str, Any]:
        """The same settings for httpx's own transport (``httpx.HTTPTransport`` or its
        async twin), used while a test library mocks it."""
        return {
            "socket_options": self._socket_options or None,
            "verify": self._ssl_context or True,
            "limits": httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
                keepalive_expiry=self._keepalive_expiry,
            ),
        }
