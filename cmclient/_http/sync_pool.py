"""An HTTP/1.1 keep-alive connection pool on ``http.client``, as an httpx transport.

``SyncPoolTransport`` replaces httpcore's pool under ``httpx.Client``
(``httpx.Client(transport=SyncPoolTransport())``); everything above the transport
(``build_request``, ``send(stream=True)``, ``iter_bytes``, decoding) is httpx's own.
Why: httpx loads httpcore, and with it anyio, h11 and certifi, when it builds its
default transport; that is about 15-20 ms and 1.2 MiB of a Lambda-style cold start.
``http.client`` is already loaded by httpx itself (through ``http.cookiejar``), and is
the HTTP/1.1 implementation under urllib3 and so under botocore.

The pool: idle keep-alive connections per origin (scheme, host, port), reused newest
first, at most ``max_connections`` open over all origins, and threads that find them
all busy wait (``pool`` timeout) for one to come back. Timeouts come from each
request's ``extensions["timeout"]``: ``connect`` (TCP and the TLS handshake),
``write`` (sending the request), ``read`` (each wait for response bytes).

Reuse and resending follow the same rules as ``async_pool`` (see
``rules``): a connection goes back to the pool only after its response was read
to the end and the server did not ask to close it; before reuse it is dropped if the
server closed it, wrote to it unasked, or it sat idle ``keepalive_expiry`` seconds.
A request that fails on a reused connection before any response byte arrived (the
server closed it just then) is sent once more on a fresh connection when its body can
be replayed and its method is idempotent (or ``all_requests_idempotent``).

Failures raise httpx's exceptions, with ``request=``: ``ConnectError`` /
``ConnectTimeout``, ``PoolTimeout``, ``WriteError`` / ``WriteTimeout``, ``ReadError``
/ ``ReadTimeout``, and ``RemoteProtocolError`` for a malformed response, one cut
short (fewer bytes than its Content-Length, a broken chunk) or none at all.

Limits: no proxies and no HTTP/2 (``client`` gives httpx's own pool to a client
behind a proxy); while respx or pytest-httpx has patched httpx's transport or
httpcore's pool, requests go to an ``httpx.HTTPTransport`` with the same settings, so
tests mocking httpx keep intercepting them.
"""

from __future__ import annotations

import functools
import http.client
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from cmclient._http import rules
from cmclient._http.pool import OPEN, WAIT, Open, PoolState, closed
from cmclient._http.rules import (
    DEADLINE,
    Origin,
    PoolSettings,
    SocketOption,
    Stale,
    fork_generation,
    may_resend,
    mocked,
    origin_of,
)

__all__ = ["SyncPoolTransport"]

_CHUNK = 64 * 1024
_MAX_LINE = 64 * 1024  # as http.client's own limit on a line

#: Connections opened and requests sent again (DEBUG): hosts and ports, never a header.
logger = logging.getLogger("cmclient.http")


class _Unanswered(Exception):
    """The connection ended (EOF or reset) before a byte of the response arrived."""


def _within(timeout: float | None, deadline: float | None) -> float | None:
    """``timeout`` cut to the time left before ``deadline``; TimeoutError once it passed."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("The request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Limits:
    """How long the response now being read may take: each receive waits at most
    ``read`` seconds and never past ``deadline`` (a ``time.monotonic()`` value, or
    ``None``). Set per request, read by the connection's ``_Reader``."""

    __slots__ = ("deadline", "read")

    def __init__(self) -> None:
        self.read: float | None = None
        self.deadline: float | None = None


class _Reader:
    """The one reader a connection's responses read its socket through, in place of
    the buffered file http.client would make for each response.

    It keeps its own buffer, so what is left in it after a response is known: bytes a
    server sent past the end of a response must never be read as the next request's
    answer (``leftover``). Every method receives from the socket at most once per step
    and sets the socket's timeout before it from ``limits``, so a server that trickles
    bytes (each within the read timeout) cannot hold a read open past the request's
    deadline. While ``head`` is set, every line read is checked against the pools'
    rules (``rules.check_head_line``) and counted against ``rules.MAX_HEAD_BYTES``.
    It offers what ``http.client.HTTPResponse`` calls on its reader (``readline``,
    ``read``, ``read1``, ``peek``, ``close``).
    """

    __slots__ = ("_buffer", "_hold", "_limits", "_sock", "head", "head_bytes", "line")

    def __init__(self, sock: socket.socket, limits: _Limits) -> None:
        self._sock = sock
        # An unbuffered file on the socket, never read: like the file http.client
        # makes, it keeps the descriptor open when http.client closes the socket
        # under a response that ends with the connection (its body is still to read).
        self._hold = sock.makefile("rb", buffering=0)
        self._limits = limits
        self._buffer = bytearray()
        self.line = b"\r\n"  # the last line read
        self.head = False
        self.head_bytes = 0

    def _receive(self) -> bool:
        """One receive into the buffer; ``False`` at EOF."""
        self._sock.settimeout(_within(self._limits.read, self._limits.deadline))
        data = self._sock.recv(_CHUNK)
        self._buffer += data
        return bool(data)

    def leftover(self) -> bool:
        """Whether any byte is waiting to be read: in the buffer, or decrypted inside
        the TLS object, where a readiness check on the socket cannot see it."""
        if self._buffer:
            return True
        pending = getattr(self._sock, "pending", None)
        return bool(pending is not None and pending())

    def peek(self, size: int = 0) -> bytes:
        if not self._buffer:
            self._receive()
        return bytes(self._buffer)

    def read1(self, size: int = -1) -> bytes:
        if size == 0 or (not self._buffer and not self._receive()):
            return b""
        buffer = self._buffer
        taken = len(buffer) if size < 0 else min(size, len(buffer))
        data = bytes(buffer[:taken])
        del buffer[:taken]
        return data

    def read(self, size: int) -> bytes:
        """``size`` bytes, fewer only at EOF (http.client reads chunk framing so)."""
        parts = []
        while size > 0 and (part := self.read1(size)):
            parts.append(part)
            size -= len(part)
        return b"".join(parts)

    def readline(self, limit: int = -1) -> bytes:
        buffer = self._buffer
        scanned = 0
        while True:
            end = buffer.find(b"\n", scanned) + 1
            if end:
                break
            scanned = len(buffer)
            if 0 <= limit <= scanned or not self._receive():
                end = len(buffer)
                break
        if limit >= 0:
            end = min(end, limit)
        line = bytes(buffer[:end])
        del buffer[:end]
        self.line = line
        rules.check_head_line(line)
        if self.head:
            self.head_bytes += len(line)
            if self.head_bytes > rules.MAX_HEAD_BYTES:
                raise rules.BadResponse(f"a head over {rules.MAX_HEAD_BYTES} bytes")
        return line

    def flush(self) -> None:
        pass

    def close(self) -> None:
        """Called by http.client when a response is done: the reader lives on with the
        connection (and with it any leftover bytes, which ``leftover`` reports)."""

    def release(self) -> None:
        """The connection is closing: let the descriptor go."""
        self._hold.close()


class _Source:
    """What ``HTTPResponse`` is built from: it asks only for ``makefile``, and gets the
    connection's own reader rather than a new buffered file."""

    __slots__ = ("reader",)

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader

    def makefile(self, mode: str) -> _Reader:
        return self.reader


class _Response(http.client.HTTPResponse):
    """``HTTPResponse`` reading through the connection's ``_Reader``: it tells "no
    response at all" (``_Unanswered``) from a response that began and broke, skips
    interim (1xx) responses, refuses a head cut short, and applies the pools' framing
    rules (``rules.body_framing``), which must agree with http.client's own reading of
    the head."""

    def __init__(self, sock: socket.socket, *args: Any, reader: _Reader, **kwargs: Any) -> None:
        super().__init__(_Source(reader), *args, **kwargs)  # type: ignore[arg-type]
        self.reader = reader

    def begin(self) -> None:
        reader = self.reader
        try:
            arrived = reader.peek(1)  # waits (read timeout) for the first byte
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise _Unanswered from exc
        if not arrived:
            raise _Unanswered
        reader.head = True
        try:
            while True:
                reader.head_bytes = 0
                super().begin()
                if not reader.line:
                    raise http.client.IncompleteRead(b"")  # EOF before the blank line
                if not rules.is_interim(self.status):
                    break
                self.headers = self.msg = None  # type: ignore[assignment]  # read on
        finally:
            reader.head = False
        if self.status == 101:
            raise rules.BadResponse("101 Switching Protocols, which was not asked for")
        framing = rules.body_framing(
            self.status, self._method or "",  # type: ignore[attr-defined]
            ((k.encode("latin-1"), v.encode("latin-1")) for k, v in self.getheaders()),
        )
        agrees = (
            (framing == rules.CHUNKED) == bool(self.chunked)
            and (framing < 0 or self.length == framing)
            and (framing != rules.NO_BODY or self.length == 0)
        )
        if not agrees:
            raise rules.BadResponse("a head http.client reads differently")

    def _get_chunk_left(self) -> int | None:
        """http.client's own, made as strict as the async pool's h11: the chunk size is
        read by ``rules.chunk_size`` (http.client's ``int(line, 16)`` takes "-1"), and
        the CRLF after each chunk's data is checked, not skipped unread."""
        chunk_left: int | None = self.chunk_left
        if not chunk_left:  # 0 at the end of a chunk's data, None before the first
            if chunk_left is not None and self._safe_read(2) != b"\r\n":  # type: ignore[attr-defined]
                raise rules.BadResponse("chunk data not followed by CRLF")
            chunk_left = rules.chunk_size(self.reader.readline(_MAX_LINE))
            if chunk_left == 0:
                self._read_and_discard_trailer()  # type: ignore[attr-defined]
                self._close_conn()  # type: ignore[attr-defined]
                chunk_left = None
            self.chunk_left = chunk_left
        return chunk_left


class _Connection:
    """One client connection and what the pool needs to know about it."""

    __slots__ = ("http", "idle_since", "limits", "origin", "reader", "served")

    def __init__(self, origin: Origin, connection: http.client.HTTPConnection) -> None:
        self.origin = origin
        self.http = connection
        self.served = 0  # completed exchanges: > 0 means a reused connection
        self.idle_since = 0.0
        self.limits = _Limits()
        assert connection.sock is not None
        self.reader = _Reader(connection.sock, self.limits)
        connection.response_class = functools.partial(  # type: ignore[assignment]
            _Response, reader=self.reader
        )

    def usable(self, now: float, keepalive_expiry: float | None) -> bool:
        """Whether an idle connection may carry another request: still open, not idle
        too long, and nothing to read on it (an idle socket turns readable only when
        the server closes it or sends what nobody asked for)."""
        sock = self.http.sock
        if sock is None:
            return False
        if keepalive_expiry is not None and now - self.idle_since >= keepalive_expiry:
            return False
        if self.reader.leftover():
            return False
        try:
            return not _readable(sock)
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        self.http.close()
        self.reader.release()


def _connector(
    options: list[SocketOption],
) -> Callable[[tuple[str, int], float | None, Any], socket.socket]:
    """What ``HTTPConnection`` opens its socket with: each resolved address in turn,
    with ``options`` set on the socket before it connects. The host goes to
    getaddrinfo() as bytes: a str would pass through the idna codec, loading it on a
    cold start; httpx's URL holds it IDNA-encoded already, so ASCII."""

    def connect(
        address: tuple[str, int], timeout: float | None, source_address: Any = None
    ) -> socket.socket:
        host, port = address
        if not options:  # typeshed says str hosts only; getaddrinfo() takes bytes
            return socket.create_connection(
                (host.encode("ascii"), port), timeout, source_address  # type: ignore[arg-type]
            )
        last: OSError | None = None
        for family, kind, proto, _, resolved in socket.getaddrinfo(
            host.encode("ascii"), port, type=socket.SOCK_STREAM
        ):
            sock = socket.socket(family, kind, proto)
            try:
                for option in options:
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                sock.connect(resolved)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            return sock
        raise last or OSError(f"No address found for {host}")

    return connect


def _readable(sock: Any) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


class _Waiter:
    """A thread waiting for a connection: woken with what ``PoolState`` hands it (a
    connection, ``OPEN`` for a slot, or ``None`` when the pool closed)."""

    __slots__ = ("event", "got")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.got: _Connection | Open | None = None


class _Pool:
    """``PoolState`` behind one lock, for threads: connections are closed and waiters
    woken outside the lock."""

    def __init__(self, max_connections: int) -> None:
        self.state: PoolState[_Connection, _Waiter] = PoolState(max_connections)
        self._lock = threading.Lock()

    def acquire(
        self,
        origin: Origin,
        timeout: float | None,
        keepalive_expiry: float | None,
        request: httpx.Request,
    ) -> _Connection | None:
        """An idle connection to ``origin``, or ``None``: a slot to open one in."""
        now = time.monotonic()
        waiter = None
        with self._lock:
            got, discard = self.state.acquire(
                origin, lambda conn: conn.usable(now, keepalive_expiry)
            )
            if got is WAIT:
                waiter = _Waiter()
                self.state.wait(origin, waiter)
        if discard is not None:
            discard.close()
        if waiter is None:
            return None if got is OPEN else got  # type: ignore[return-value]
        if not waiter.event.wait(timeout):
            with self._lock:
                if self.state.forget(waiter):
                    raise httpx.PoolTimeout(
                        "Timed out waiting for a connection from the pool", request=request
                    )
            # Handed something just as the wait ran out: take it.
        if waiter.got is None:
            raise closed()
        return None if waiter.got is OPEN else waiter.got  # type: ignore[return-value]

    def release(self, conn: _Connection | None) -> None:
        """A request is done with its slot: ``conn`` may be reused, or ``None`` (its
        connection was closed)."""
        with self._lock:
            waiter, got, discard = self.state.release(conn, time.monotonic())
        if discard is not None:
            discard.close()
        if waiter is not None:
            waiter.got = got
            waiter.event.set()

    def close(self) -> None:
        with self._lock:
            idle, waiters = self.state.close()
        for conn in idle:
            conn.close()
        for waiter in waiters:
            waiter.event.set()  # got stays None: the pool closed


class _ResponseStream(httpx.SyncByteStream):
    """The response body as it arrives. Read to the end (and reusable), the connection
    goes back to the pool; closed early or failed, the connection is closed."""

    def __init__(
        self,
        conn: _Connection,
        response: http.client.HTTPResponse,
        pool: _Pool,
        request: httpx.Request,
    ) -> None:
        self._conn: _Connection | None = conn
        self._response = response
        self._pool = pool
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        if self._conn is None:
            return
        response = self._response
        try:
            while chunk := response.read1(_CHUNK):
                yield chunk
            if response.length:  # EOF with Content-Length bytes still owed
                raise httpx.RemoteProtocolError(
                    "The server closed the connection before the whole body arrived",
                    request=self._request,
                )
        except (OSError, http.client.HTTPException, rules.BadResponse) as exc:
            self._discard()
            raise _read_failure(exc, self._request, "reading the response body") from exc
        except BaseException:  # a timeout or bad data above, or the reader gave up
            self._discard()
            raise
        self._finish()

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        keep_alive = not self._response.will_close and conn.http.sock is not None
        self._response.close()
        if rules.reusable(keep_alive, conn.reader.leftover()):
            conn.served += 1
            self._pool.release(conn)
        else:
            conn.close()
            self._pool.release(None)

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            self._pool.release(None)

    def close(self) -> None:
        self._discard()


def _read_failure(exc: OSError | http.client.HTTPException | rules.BadResponse,
                  request: httpx.Request, doing: str) -> httpx.TransportError:
    """The httpx exception for ``exc``, raised while ``doing`` (reading something)."""
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(f"Timed out {doing}", request=request)
    if isinstance(exc, rules.BadResponse):
        return httpx.RemoteProtocolError(f"Bad response while {doing}: {exc}", request=request)
    if isinstance(exc, http.client.HTTPException):  # malformed, or cut short
        return httpx.RemoteProtocolError(
            f"Bad response while {doing} ({type(exc).__name__})", request=request
        )
    return httpx.ReadError(
        f"The connection broke while {doing} ({type(exc).__name__})", request=request
    )


def _exchange(
    conn: _Connection,
    request: httpx.Request,
    timeouts: dict[str, float | None],
    deadline: float | None,
) -> http.client.HTTPResponse:
    """Send ``request`` and read the response head, within ``deadline`` too if there
    is one. Raises ``Stale`` when a reused connection turns out closed before a byte
    of the response arrived."""
    h = conn.http
    reused = conn.served > 0
    sock = h.sock
    assert sock is not None
    stream = request.stream
    if not isinstance(stream, httpx.SyncByteStream):
        raise RuntimeError("SyncPoolTransport needs a sync request body")
    unsafe = rules.unsafe_header(request.headers.raw)
    if unsafe is not None:
        raise httpx.LocalProtocolError(
            f"The {unsafe.decode('latin-1')} header holds CR, LF or NUL", request=request
        )
    try:
        h.putrequest(
            request.method, request.url.raw_path.decode("ascii"),
            skip_host=True, skip_accept_encoding=True,
        )
        for name, value in request.headers.raw:
            h.putheader(name, value)
    except ValueError:  # a header or target http.client refuses; its text quotes it
        raise httpx.LocalProtocolError(
            "http.client refused the request's target or a header", request=request
        ) from None
    chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
    try:
        sock.settimeout(_within(timeouts.get("write"), deadline))
        if chunked:
            h.endheaders(iter(stream), encode_chunked=True)
        else:
            h.endheaders(b"".join(stream) or None)
    except TimeoutError as exc:
        raise httpx.WriteTimeout("Timed out writing the request", request=request) from exc
    except OSError as exc:
        error = httpx.WriteError(
            f"The connection broke while sending the request ({type(exc).__name__})",
            request=request,
        )
        error.__cause__ = exc
        if reused:
            raise Stale(error) from exc
        raise error from exc
    conn.limits.read = timeouts.get("read")
    conn.limits.deadline = deadline
    try:
        return h.getresponse()
    except _Unanswered as exc:
        hung_up = httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
        hung_up.__cause__ = exc.__cause__
        if reused:
            raise Stale(hung_up) from exc.__cause__
        raise hung_up from exc.__cause__
    except (OSError, http.client.HTTPException, rules.BadResponse) as exc:
        raise _read_failure(exc, request, "reading the response") from exc


class SyncPoolTransport(PoolSettings, httpx.BaseTransport):
    """An ``httpx.BaseTransport``: HTTP/1.1 keep-alive pools on ``http.client`` (see
    the module docstring for reuse, resending and limits, and ``PoolSettings`` for the
    arguments)."""

    def _start(self) -> None:
        self._pool = _Pool(self._max_connections)
        self._forks = fork_generation()
        self._fallback: httpx.HTTPTransport | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if mocked(asynchronous=False):  # respx / pytest-httpx intercept httpx's: use it
            return self._httpcore().handle_request(request)
        origin = origin_of(request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout") or {}
        deadline: float | None = request.extensions.get(DEADLINE)
        if self._forks != fork_generation():
            # A child of fork(): the pool's sockets are the parent's too. Forget them
            # without closing (the parent still uses them) and start afresh.
            self._forks = fork_generation()
            self._pool = _Pool(self._max_connections)
        pool = self._pool
        conn = pool.acquire(origin, timeouts.get("pool"), self._keepalive_expiry, request)
        try:
            if conn is None:
                conn = self._connect(origin, timeouts.get("connect"), deadline, request)
            try:
                response = _exchange(conn, request, timeouts, deadline)
            except Stale as stale:
                conn.close()
                if not may_resend(request, self._resend_any):
                    raise stale.error from stale.error.__cause__
                logger.debug("%s:%d closed a kept-alive connection under the request; "
                             "sending it again on a new one", origin[1], origin[2])
                conn = self._connect(origin, timeouts.get("connect"), deadline, request)
                try:
                    response = _exchange(conn, request, timeouts, deadline)
                except Stale as again:
                    raise again.error from again.error.__cause__
        except BaseException:
            if conn is not None:
                conn.close()
            pool.release(None)
            raise
        return httpx.Response(
            response.status,
            headers=[
                (name.encode("latin-1"), value.encode("latin-1"))
                for name, value in response.getheaders()
            ],
            stream=_ResponseStream(conn, response, pool, request),
            extensions={
                "http_version": b"HTTP/1.1" if response.version == 11 else b"HTTP/1.0",
                "reason_phrase": response.reason.encode("latin-1"),
            },
        )

    def _connect(
        self, origin: Origin, timeout: float | None, deadline: float | None,
        request: httpx.Request,
    ) -> _Connection:
        scheme, host, port = origin
        try:
            timeout = _within(timeout, deadline)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"Timed out connecting to {host}:{port}",
                                       request=request) from exc
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=self._tls()
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection._create_connection = _connector(  # type: ignore[attr-defined]
            self._socket_options
        )
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise httpx.ConnectTimeout(f"Timed out connecting to {host}:{port}",
                                       request=request) from exc
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError)
            connection.close()
            raise httpx.ConnectError(
                f"Could not connect to {host}:{port} ({type(exc).__name__})", request=request
            ) from exc
        logger.debug("connected to %s:%d (%s)", host, port, scheme)
        return _Connection(origin, connection)

    def _httpcore(self) -> httpx.HTTPTransport:
        if self._fallback is None:
            self._fallback = httpx.HTTPTransport(**self._fallback_options())
        return self._fallback

    def close(self) -> None:
        self._pool.close()
        if self._fallback is not None:
            self._fallback.close()
