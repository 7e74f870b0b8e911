"""An HTTP/1.1 keep-alive connection pool on asyncio and h11, as an httpx transport.

``AsyncPoolTransport`` replaces httpcore's async pool under ``httpx.AsyncClient``
(``httpx.AsyncClient(transport=AsyncPoolTransport())``): everything above the
transport (``build_request``, ``send(stream=True)``, ``aiter_bytes``, ``aread``,
auth, redirects, cookies) is httpx's own. httpcore's pool does work proportional to
connections x requests on every request; this one does O(1) work per request:

* one pool per origin (scheme, host, port) of idle keep-alive connections, reused
  newest first (LIFO), with at most ``max_connections`` connections open in total;
* when all are busy, requests wait in arrival order (FIFO) on a queue of futures, and
  a released connection (or its slot) goes straight to the first waiter;
* each connection is an ``asyncio.Protocol`` driving an ``h11.Connection``: no
  ``StreamReader`` layer, and every timeout is a timer on one future, not a task.

Failures raise httpx's exceptions, always with ``request=``: ``ConnectError`` and
``ConnectTimeout`` while connecting (TLS handshake included), ``PoolTimeout`` while
waiting for a connection, ``WriteTimeout`` / ``ReadTimeout`` for each write or read,
``WriteError`` / ``ReadError`` when the connection breaks, ``RemoteProtocolError``
for a malformed response or a server that hangs up mid-response, and
``LocalProtocolError`` for a request h11 refuses to send.

Reuse. A connection returns to its pool only when h11 says both sides are ``DONE``
(so ``Connection: close``, HTTP/1.0 without keep-alive and close-delimited bodies all
end it) and the whole response body was read. A response closed early, an error, or a
cancelled task (``asyncio`` cancellation, ``anyio.fail_after``) closes the connection
and frees its slot. Before reuse an idle connection is dropped if the server closed it
(EOF or reset seen), sent unsolicited bytes, or has been idle ``keepalive_expiry``
seconds.

Stale connections and resending. The server may close an idle connection just as a
request goes out on it. The request is then sent once more on a fresh connection
when all of these hold:

1. the connection was reused (it had completed an earlier exchange);
2. it failed because the peer closed or reset it (not a timeout, not bad data)
   before a single byte of the response arrived;
3. the body can be replayed (``content=`` bytes, not a one-shot stream);
4. the method is idempotent (RFC 9110 section 9.2.2: GET, HEAD, OPTIONS, TRACE, PUT,
   DELETE), or ``all_requests_idempotent=True`` says the caller's POSTs are too.

Rule 4 is there because (1)-(2) cannot prove the server did not act on the request:
"closed with no response" also describes a server that crashed after acting on it.
cmclient passes ``all_requests_idempotent=True``: every Comprehend Medical operation
is read-only (Detect*, Infer*, Describe*, List*), idempotent by its token
(Start*Job's ClientRequestToken) or by nature (Stop*Job), and its retry layer would
resend the same request after this error anyway; the transport does it without
spending a retry attempt, backoff or retry quota.

Limits: asyncio only. Under another event loop (trio) requests go to an
``httpx.AsyncHTTPTransport`` built with the same settings, so nothing breaks, but
trio users get httpcore's pool (or pass their own ``http_client``). The same happens
while respx or pytest-httpx has patched httpcore's pool or httpx's transport, so that
tests mocking httpx keep intercepting requests made through this transport. No proxies, no
HTTP/2. A transport is bound to the event loop that uses it first; used from a new
loop, it drops the old loop's connections and starts afresh. A streamed response
that is neither read to the end nor closed holds its connection until it is garbage
collected (as with httpcore): close responses (``async with`` / ``aclose()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import h11
import httpx

from cmclient._http import rules
from cmclient._http.pool import OPEN, WAIT, PoolState, closed
from cmclient._http.rules import (
    Origin,
    PoolSettings,
    Stale,
    may_resend,
    mocked,
    origin_of,
)

__all__ = ["AsyncPoolTransport"]

#: Connections opened and requests sent again (DEBUG): hosts and ports, never a header.
logger = logging.getLogger("cmclient.http")


_READ_HIGH_WATER = 256 * 1024  # stop reading the socket with this much unconsumed
_WRITE_FLUSH = 64 * 1024  # send request body pieces once this much is pending

_timeout_cm = getattr(asyncio, "timeout", None)  # Python 3.11+


class _Expired:
    """A waiter's result when its timer ran out first."""


_EXPIRED = _Expired()


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_result(_EXPIRED)


def _emit(h: h11.Connection, event: h11.Event, request: httpx.Request) -> bytes:
    try:
        data = h.send(event)
    except h11.LocalProtocolError:  # its text may quote a header value: not chained
        raise httpx.LocalProtocolError(
            "h11 refused to send the request", request=request
        ) from None
    return data or b""


class _Connection(asyncio.Protocol):
    """One client connection: the socket's bytes buffered for h11, and the waits for
    them (each with a timer) in the shape ``read`` / ``write`` callers need."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=rules.MAX_HEAD_BYTES)
        self.transport: asyncio.Transport | None = None
        self.served = 0  # completed exchanges: > 0 means a reused connection
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._eof = False
        self._lost = False
        self._error: BaseException | None = None
        self._reader: asyncio.Future[Any] | None = None
        self._drain: asyncio.Future[Any] | None = None
        self._read_paused = False
        self._write_paused = False

    # -- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > _READ_HIGH_WATER and not self._read_paused:
            self._read_paused = True
            assert self.transport is not None
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake_reader()
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._eof = True
        if exc is not None:
            self._error = exc
        self._wake_reader()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    # -- for the pool ----------------------------------------------------------

    def usable(self, now: float, keepalive_expiry: float | None) -> bool:
        """Whether an idle connection may carry another request: the server has not
        closed it or written to it, and it has not been idle too long."""
        return not (
            self._eof
            or self._buffer
            or self.transport is None
            or self.transport.is_closing()
            or (keepalive_expiry is not None and now - self.idle_since >= keepalive_expiry)
        )

    async def read(self, timeout: float | None, request: httpx.Request) -> bytes:
        """The bytes received so far (waiting up to ``timeout`` for some); ``b""`` once
        the server has closed its side."""
        while True:
            if self._buffer:
                data = bytes(self._buffer)
                self._buffer.clear()
                if self._read_paused and self.transport is not None:
                    self._read_paused = False
                    self.transport.resume_reading()
                return data
            if self._error is not None:
                reason = type(self._error).__name__
                raise httpx.ReadError(
                    f"The connection broke while reading the response ({reason})",
                    request=request,
                ) from self._error
            if self._eof:
                return b""
            loop = asyncio.get_running_loop()
            waiter = self._reader = loop.create_future()
            timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
            try:
                woke = await waiter
            finally:
                self._reader = None
                if timer is not None:
                    timer.cancel()
            if woke is _EXPIRED:
                raise httpx.ReadTimeout("Timed out reading the response", request=request)

    async def write(self, data: bytes, timeout: float | None, request: httpx.Request) -> None:
        if self._lost or self.transport is None or self.transport.is_closing():
            raise httpx.WriteError("The connection was closed before the request was sent",
                                   request=request) from self._error
        self.transport.write(data)
        if not self._write_paused:
            return
        loop = asyncio.get_running_loop()
        waiter = self._drain = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
        try:
            woke = await waiter
        finally:
            self._drain = None
            if timer is not None:
                timer.cancel()
        if woke is _EXPIRED:
            raise httpx.WriteTimeout("Timed out writing the request", request=request)
        if self._lost:
            raise httpx.WriteError("The connection broke while sending the request",
                                   request=request) from self._error

    def close(self) -> None:
        """Close politely (idle connections, a finished exchange)."""
        if self.transport is not None:
            try:
                self.transport.close()
            except RuntimeError:  # its event loop is closed
                _release_on_dead_loop(self.transport)

    def abort(self) -> None:
        """Close now, discarding anything buffered (a connection in an unknown state)."""
        if self.transport is not None:
            try:
                self.transport.abort()
            except RuntimeError:  # its event loop is closed
                _release_on_dead_loop(self.transport)


def _release_on_dead_loop(transport: asyncio.BaseTransport) -> None:
    """Close the socket of a transport whose event loop is closed, which can no longer
    run the transport's own close. Normally never needed: a pool closes its
    connections while its loop shuts down (see ``_close_with_loop``). This is for a
    loop closed without ``shutdown_asyncgens()``; it uses asyncio's internals where
    they exist (the selector transport's ``_call_connection_lost``) and otherwise
    leaves the socket to the garbage collector."""
    base = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None) or transport
    lost = getattr(base, "_call_connection_lost", None)
    if lost is not None:
        with contextlib.suppress(Exception):
            lost(None)


async def _close_with_loop(pool: _Pool) -> AsyncGenerator[None, None]:
    """Started in a pool's event loop, this async generator is finalised by the loop's
    ``shutdown_asyncgens()`` (which ``asyncio.run`` calls before closing the loop): the
    pool's connections are closed while the loop can still close them, rather than
    leaking until garbage collection."""
    try:
        yield
    finally:
        pool.close()


class _Pool:
    """``PoolState`` for the tasks of one event loop: a waiter is a future that resolves
    to a ``_Connection`` (reuse it), ``OPEN`` (a slot: open a connection) or
    ``_EXPIRED`` (its pool timeout ran out)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_connections: int) -> None:
        self.loop = loop
        self.state: PoolState[_Connection, asyncio.Future[Any]] = PoolState(max_connections)
        self.finaliser: AsyncGenerator[None, None] | None = None

    async def acquire(
        self,
        origin: Origin,
        timeout: float | None,
        keepalive_expiry: float | None,
        request: httpx.Request,
    ) -> _Connection | None:
        """An idle connection to ``origin``, or ``None``: a slot to open one in."""
        now = time.monotonic()
        got, discard = self.state.acquire(origin, lambda conn: conn.usable(now, keepalive_expiry))
        if discard is not None:
            discard.abort()
        if got is OPEN:
            return None
        if got is not WAIT:
            return got  # type: ignore[return-value]
        waiter = self.loop.create_future()
        self.state.wait(origin, waiter)
        timer = None if timeout is None else self.loop.call_later(timeout, _expire, waiter)
        try:
            handed = await waiter
        except BaseException:
            # Cancelled: if a connection or slot was handed over meanwhile, pass it on.
            if not self.state.forget(waiter) and waiter.done() and not waiter.cancelled():
                self.release(_connection_or_none(waiter.result()))
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if handed is _EXPIRED:
            self.state.forget(waiter)
            raise httpx.PoolTimeout("Timed out waiting for a connection from the pool",
                                    request=request)
        return _connection_or_none(handed)

    def release(self, conn: _Connection | None) -> None:
        """A request is done with its slot: ``conn`` may be reused, or ``None`` (its
        connection was closed). A waiter that gave up meanwhile (its future done) is
        passed over: what it would have had goes to the next."""
        while True:
            waiter, got, discard = self.state.release(conn, time.monotonic())
            if discard is not None:
                discard.close()
            if waiter is None:
                return
            if not waiter.done():
                waiter.set_result(got)
                return
            conn = _connection_or_none(got)

    def close(self) -> None:
        """Close the idle connections and fail the waiters; idempotent, and safe from
        any event loop, the pool's own included after it closed. Connections are
        aborted, not closed politely: TLS's polite close is a handshake that a loop
        shutting down (the usual time for this) would not live to finish, leaving the
        socket open until garbage collection; an idle HTTP/1.1 connection owes its
        server nothing."""
        idle, waiters = self.state.close()
        for conn in idle:
            conn.abort()
        for waiter in waiters:
            if not waiter.done():
                with contextlib.suppress(RuntimeError):  # a future of a closed loop
                    waiter.set_exception(closed())

    def retire(self) -> None:
        """Close the pool from outside its loop (the transport moved to another loop,
        or is closed from one): finish its finaliser, which then has nothing to do."""
        finaliser, self.finaliser = self.finaliser, None
        if finaliser is not None:
            closing = finaliser.aclose()
            with contextlib.suppress(StopIteration, RuntimeError):
                # Its finally block never awaits, so one step runs it to the end.
                closing.send(None)
        self.close()


def _connection_or_none(handed: object) -> _Connection | None:
    return handed if isinstance(handed, _Connection) else None


class _ResponseStream(httpx.AsyncByteStream):
    """The response body as it arrives. Read to the end, the connection goes back to
    the pool (if h11 allows reuse); closed early or failed, the connection is closed."""

    def __init__(
        self, conn: _Connection, pool: _Pool, request: httpx.Request, timeout: float | None
    ) -> None:
        self._conn: _Connection | None = conn
        self._pool = pool
        self._request = request
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        h = conn.h11
        try:
            while True:
                event = h.next_event()
                if event is h11.NEED_DATA:
                    h.receive_data(await conn.read(self._timeout, self._request))
                elif isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    self._finish(conn)
                    return
                else:
                    raise httpx.RemoteProtocolError(
                        "The server closed the connection mid-response", request=self._request
                    )
        except h11.RemoteProtocolError as exc:
            self._discard()
            raise httpx.RemoteProtocolError(str(exc), request=self._request) from exc
        except BaseException:
            self._discard()
            raise

    def _finish(self, conn: _Connection) -> None:
        self._conn = None
        h = conn.h11
        keep_alive = h.our_state is h11.DONE and h.their_state is h11.DONE
        # Bytes past the end of the response, in h11's buffer or not yet given to it.
        leftover = bool(h.trailing_data[0]) or not conn.usable(0.0, None)
        if rules.reusable(keep_alive, leftover):
            h.start_next_cycle()
            conn.served += 1
            self._pool.release(conn)
        else:
            conn.close()
            self._pool.release(None)

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()
            self._pool.release(None)

    async def aclose(self) -> None:
        self._discard()


class AsyncPoolTransport(PoolSettings, httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport``: HTTP/1.1 keep-alive pools on asyncio (see the
    module docstring for reuse, resending and limits, and ``PoolSettings`` for the
    arguments). TCP_NODELAY is always set.
    """

    def _start(self) -> None:
        self._pool: _Pool | None = None
        self._fallback: httpx.AsyncHTTPTransport | None = None
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): httpcore's pool, same settings
            return await self._httpcore().handle_async_request(request)
        if mocked(asynchronous=True):  # respx / pytest-httpx intercept httpx's: use it
            return await self._httpcore().handle_async_request(request)
        if self._closed:
            raise RuntimeError("The transport was closed")
        pool = self._pool
        if pool is None or pool.loop is not loop:
            pool = await self._new_pool(loop)
        origin = origin_of(request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout") or {}
        conn = await pool.acquire(origin, timeouts.get("pool"), self._keepalive_expiry, request)
        try:
            if conn is None:
                conn = await self._connect(origin, timeouts.get("connect"), request)
            try:
                response = await _exchange(conn, request, timeouts)
            except Stale as stale:
                conn.abort()
                if not may_resend(request, self._resend_any):
                    raise stale.error from stale.error.__cause__
                logger.debug("%s:%d closed a kept-alive connection under the request; "
                             "sending it again on a new one", origin[1], origin[2])
                conn = await self._connect(origin, timeouts.get("connect"), request)
                try:
                    response = await _exchange(conn, request, timeouts)
                except Stale as again:
                    raise again.error from again.error.__cause__
        except BaseException:
            if conn is not None:
                conn.abort()
            pool.release(None)
            raise
        return httpx.Response(
            response.status_code,
            headers=response.headers.raw_items(),
            stream=_ResponseStream(conn, pool, request, timeouts.get("read")),
            extensions={
                "http_version": b"HTTP/" + response.http_version,
                "reason_phrase": response.reason,
            },
        )

    async def _connect(
        self, origin: Origin, timeout: float | None, request: httpx.Request
    ) -> _Connection:
        scheme, host, port = origin
        conn = _Connection(origin)
        opening = self._open(conn, host, port, self._tls() if scheme == "https" else None)
        try:
            if timeout is None:
                await opening
            elif _timeout_cm is not None:
                async with _timeout_cm(timeout):
                    await opening
            else:  # Python 3.10
                await asyncio.wait_for(opening, timeout)
        except (asyncio.TimeoutError, TimeoutError) as exc:
            conn.abort()
            raise httpx.ConnectTimeout(f"Timed out connecting to {host}:{port}",
                                       request=request) from exc
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError)
            conn.abort()
            raise httpx.ConnectError(
                f"Could not connect to {host}:{port} ({type(exc).__name__})", request=request
            ) from exc
        except BaseException:
            conn.abort()
            raise
        logger.debug("connected to %s:%d (%s)", host, port, scheme)
        return conn

    async def _open(
        self, conn: _Connection, host: str, port: int, tls: ssl.SSLContext | None
    ) -> None:
        loop = asyncio.get_running_loop()
        server_hostname = host if tls is not None else None
        if self._socket_options:
            sock = await self._socket(loop, host, port)
            try:
                await loop.create_connection(
                    lambda: conn, sock=sock, ssl=tls, server_hostname=server_hostname
                )
            except BaseException:
                sock.close()
                raise
        else:
            await loop.create_connection(
                lambda: conn, host, port, ssl=tls, server_hostname=server_hostname
            )
        assert conn.transport is not None
        sock = conn.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def _socket(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int
    ) -> socket.socket:
        """A socket connected to ``host:port`` with ``socket_options`` set before
        connecting; each resolved address is tried in turn."""
        last: OSError | None = None
        for family, kind, proto, _, address in await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        ):
            sock = socket.socket(family, kind, proto)
            try:
                for option in self._socket_options:
                    sock.setsockopt(*option)
                sock.setblocking(False)
                await loop.sock_connect(sock, address)
            except OSError as exc:
                sock.close()
                last = exc
                continue
            except BaseException:
                sock.close()
                raise
            return sock
        raise last or OSError(f"No address found for {host}")

    def _httpcore(self) -> httpx.AsyncHTTPTransport:
        if self._fallback is None:
            self._fallback = httpx.AsyncHTTPTransport(**self._fallback_options())
        return self._fallback

    async def _new_pool(self, loop: asyncio.AbstractEventLoop) -> _Pool:
        """A pool for ``loop``, which the transport is used from for the first time:
        the previous loop's connections are closed (that loop may be closed already),
        and the new pool is closed when its own loop shuts down."""
        if self._pool is not None:
            self._pool.retire()
        pool = self._pool = _Pool(loop, self._max_connections)
        finaliser = _close_with_loop(pool)
        await finaliser.__anext__()
        pool.finaliser = finaliser
        return pool

    async def aclose(self) -> None:
        """Close every idle connection; from any event loop."""
        self._closed = True
        if self._pool is not None:
            self._pool.retire()
        if self._fallback is not None:
            await self._fallback.aclose()


async def _exchange(
    conn: _Connection, request: httpx.Request, timeouts: dict[str, float | None]
) -> h11.Response:
    """Send ``request`` and read the response head. Raises ``Stale`` when a reused
    connection turns out closed before a byte of the response arrived."""
    h = conn.h11
    write_timeout = timeouts.get("write")
    reused = conn.served > 0
    received = False
    unsafe = rules.unsafe_header(request.headers.raw)
    if unsafe is not None:
        raise httpx.LocalProtocolError(
            f"The {unsafe.decode('latin-1')} header holds CR, LF or NUL", request=request
        )
    try:
        pending = [_emit(h, h11.Request(method=request.method, target=request.url.raw_path,
                                        headers=request.headers.raw), request)]
        size = 0
        stream = request.stream
        if not isinstance(stream, httpx.AsyncByteStream):
            raise RuntimeError("AsyncPoolTransport needs an async request body")
        async for chunk in stream:
            if chunk:
                pending.append(_emit(h, h11.Data(data=chunk), request))
                size += len(chunk)
                if size >= _WRITE_FLUSH:
                    await conn.write(b"".join(pending), write_timeout, request)
                    pending, size = [], 0
        pending.append(_emit(h, h11.EndOfMessage(), request))
        await conn.write(b"".join(pending), write_timeout, request)

        read_timeout = timeouts.get("read")
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                data = await conn.read(read_timeout, request)
                if not data:
                    raise httpx.RemoteProtocolError(
                        "Server disconnected without sending a response.", request=request
                    )
                received = True
                h.receive_data(data)
            elif isinstance(event, h11.Response):
                rules.check_version(event.http_version)
                rules.body_framing(event.status_code, request.method, event.headers.raw_items())
                return event
            elif not isinstance(event, h11.InformationalResponse):
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                )
            elif not rules.is_interim(event.status_code):
                raise rules.BadResponse("101 Switching Protocols, which was not asked for")
    except h11.RemoteProtocolError as exc:
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except rules.BadResponse as exc:
        raise httpx.RemoteProtocolError(
            f"Bad response while reading the response: {exc}", request=request
        ) from exc
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
        if reused and not received:
            raise Stale(exc) from exc
        raise

