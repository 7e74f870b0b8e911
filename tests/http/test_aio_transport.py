"""``cmclient._http.async_pool.AsyncPoolTransport`` against loopback servers the tests script.

Each test runs its own event loop (``asyncio.run``) with an asyncio server on
127.0.0.1 port 0 that counts connections (in total and at once) and answers each
request with the test's handler. Every test is bounded by ``_run``'s time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from cmclient._http.async_pool import AsyncPoolTransport
from tests.helpers.tls_certs import self_signed

LIMIT = 30.0  # seconds any one test may take


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, LIMIT)

    return asyncio.run(bounded())


class Request:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes,
                 connection: int, nth: int) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body
        self.connection = connection  # which connection (1, 2, ...) carried it
        self.nth = nth  # its position on that connection (1 = first)


Handler = Callable[[Request, asyncio.StreamWriter], Awaitable[bool]]


def head(status: int = 200, headers: dict[str, str] | None = None, length: int | None = None,
         version: str = "1.1") -> bytes:
    lines = [f"HTTP/{version} {status} Reason {status}"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def ok(request: Request, writer: asyncio.StreamWriter) -> bool:
    body = f"{request.method} {request.path} {len(request.body)}".encode()
    writer.write(head(200, {"X-Conn": str(request.connection)}, len(body)) + body)
    await writer.drain()
    return True


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST rather than a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Server:
    """``async with Server(handler) as server:`` ``server.url``; counts ``connections``,
    ``open_now``, ``most_open``, and keeps every ``Request``."""

    def __init__(self, handler: Handler = ok, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.requests: list[Request] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0,
                                                  ssl=self.ssl_context)
        port = self._server.sockets[0].getsockname()[1]
        scheme = "https" if self.ssl_context else "http"
        self.url = f"{scheme}://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            nth = 0
            while True:
                try:
                    line = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                first, *rest = line.decode("latin-1").split("\r\n")
                method, path, _ = first.split(" ")
                headers = {}
                for item in rest:
                    if item:
                        name, value = item.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                nth += 1
                request = Request(method, path, headers, body, number, nth)
                self.requests.append(request)
                if not await self.handler(request, writer):
                    break
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self.open_now -= 1
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()


def client(transport: AsyncPoolTransport, timeout: float | httpx.Timeout = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, timeout=timeout)


def pool_state(transport: AsyncPoolTransport) -> tuple[int, int, int]:
    """(slots held, idle connections, live waiters) of the transport's pool."""
    pool = transport._pool
    assert pool is not None
    state = pool.state
    return state.slots, state.idle_count, sum(not w.done() for _, w in state.waiters)


# -- keep-alive and the pool -------------------------------------------------------


def test_keep_alive_reuses_one_connection() -> None:
    async def main() -> None:
        async with Server() as server:
            transport = AsyncPoolTransport()
            async with client(transport) as http:
                for i in range(20):
                    response = await http.post(f"{server.url}/p?i={i}", content=b"x" * i)
                    assert response.status_code == 200
                    assert response.text == f"POST /p?i={i} {i}"
                    assert response.http_version == "HTTP/1.1"
                    assert response.reason_phrase == "Reason 200"
            assert server.connections == 1
            assert [r.nth for r in server.requests] == list(range(1, 21))

    _run(main())


def test_max_connections_respected_under_200_concurrent_requests() -> None:
    async def slow(request: Request, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.005)
        return await ok(request, writer)

    async def main() -> None:
        async with Server(slow) as server:
            transport = AsyncPoolTransport(max_connections=10)
            async with client(transport) as http:
                responses = await asyncio.gather(
                    *(http.get(f"{server.url}/{i}") for i in range(200))
                )
                assert sorted(r.text for r in responses) == sorted(
                    f"GET /{i} 0" for i in range(200)
                )
                assert server.most_open <= 10
                assert server.connections == 10  # every slot used, none reopened
                assert pool_state(transport) == (10, 10, 0)

    _run(main())


def test_waiters_are_served_in_arrival_order_and_time_out_with_pool_timeout() -> None:
    release = asyncio.Event

    async def main() -> None:
        gate = release()

        async def gated(request: Request, writer: asyncio.StreamWriter) -> bool:
            if request.path == "/hold":
                await gate.wait()
            return await ok(request, writer)

        async with Server(gated) as server:
            transport = AsyncPoolTransport(max_connections=1)
            async with client(transport) as http:
                holder = asyncio.create_task(http.get(f"{server.url}/hold"))
                while not server.requests:
                    await asyncio.sleep(0.005)
                with pytest.raises(httpx.PoolTimeout) as caught:
                    await http.get(f"{server.url}/late", timeout=httpx.Timeout(5, pool=0.1))
                assert caught.value.request.url.path == "/late"
                waiting = []
                for i in range(5):
                    waiting.append(asyncio.create_task(http.get(f"{server.url}/w{i}")))
                    await asyncio.sleep(0)  # each waiter queues before the next starts
                await asyncio.sleep(0.05)
                assert pool_state(transport)[2] == 5
                gate.set()
                await holder
                await asyncio.gather(*waiting)
            assert [r.path for r in server.requests] == ["/hold"] + [f"/w{i}" for i in range(5)]
            assert server.connections == 1

    _run(main())


# -- connecting ----------------------------------------------------------------------


def test_connection_refused_is_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there

    async def main() -> None:
        transport = AsyncPoolTransport(max_connections=1)
        async with client(transport) as http:
            for _ in range(3):  # the failed connect frees its slot each time
                with pytest.raises(httpx.ConnectError) as caught:
                    await http.get(f"http://127.0.0.1:{port}/")
                assert caught.value.request.url.port == port
            assert pool_state(transport) == (0, 0, 0)

    _run(main())


def test_connect_timeout_against_a_full_backlog() -> None:
    """A listening socket that never accepts, its backlog filled: the kernel drops
    further SYNs, so connecting hangs until the connect timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)

    async def main() -> None:
        await asyncio.sleep(0.1)
        transport = AsyncPoolTransport(max_connections=1)
        async with client(transport, httpx.Timeout(5, connect=0.2)) as http:
            started = asyncio.get_running_loop().time()
            with pytest.raises(httpx.ConnectTimeout):
                await http.get(f"http://127.0.0.1:{port}/")
            assert asyncio.get_running_loop().time() - started < 3
            assert pool_state(transport) == (0, 0, 0)

    try:
        _run(main())
    finally:
        for sock in [*fillers, listener]:
            sock.close()


def test_socket_options_are_set_on_new_sockets() -> None:
    async def main() -> None:
        async with Server() as server:
            options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
            transport = AsyncPoolTransport(socket_options=options)
            async with client(transport) as http:
                await http.get(server.url)
                pool = transport._pool
                assert pool is not None
                (conn,) = pool.state.idle[("http", "127.0.0.1", int(server.url.rsplit(":", 1)[1]))]
                assert conn.transport is not None
                sock = conn.transport.get_extra_info("socket")
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1

    _run(main())


def test_unsupported_scheme() -> None:
    async def main() -> None:
        async with client(AsyncPoolTransport()) as http:
            with pytest.raises(httpx.UnsupportedProtocol):
                await http.get("ftp://127.0.0.1/")

    _run(main())


# -- timeouts --------------------------------------------------------------------------


def test_read_timeout_on_a_stalled_server_frees_the_slot() -> None:
    async def stall(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.path == "/stall":
            await asyncio.sleep(LIMIT)
        return await ok(request, writer)

    async def main() -> None:
        async with Server(stall) as server:
            transport = AsyncPoolTransport(max_connections=1)
            async with client(transport, httpx.Timeout(5, read=0.2)) as http:
                with pytest.raises(httpx.ReadTimeout):
                    await http.get(f"{server.url}/stall")
                assert pool_state(transport) == (0, 0, 0)
                response = await http.get(f"{server.url}/next")
                assert response.text == "GET /next 0"
            assert server.connections == 2  # the stalled connection was not reused

    _run(main())


def test_read_timeout_mid_body() -> None:
    async def trickle(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(head(200, length=10) + b"12345")
        await asyncio.sleep(LIMIT)
        return False

    async def main() -> None:
        async with Server(trickle) as server:
            transport = AsyncPoolTransport()
            async with client(transport, httpx.Timeout(5, read=0.2)) as http:
                async with http.stream("GET", server.url) as response:
                    with pytest.raises(httpx.ReadTimeout):
                        await response.aread()
                assert pool_state(transport) == (0, 0, 0)

    _run(main())


def test_write_timeout_when_the_server_does_not_read() -> None:
    async def main() -> None:
        async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(LIMIT)

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", 0))
        server = await asyncio.start_server(never_reads, sock=listener)
        port = listener.getsockname()[1]
        try:
            options = [(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)]
            transport = AsyncPoolTransport(socket_options=options)
            async with client(transport, httpx.Timeout(5, write=0.2)) as http:
                with pytest.raises(httpx.WriteTimeout):
                    await http.post(f"http://127.0.0.1:{port}/", content=b"x" * (8 << 20))
                assert pool_state(transport) == (0, 0, 0)
        finally:
            server.close()

    _run(main())


# -- bodies ------------------------------------------------------------------------------


def test_chunked_body_streams_chunk_by_chunk_and_keeps_the_connection() -> None:
    async def chunked(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(head(200, {"Transfer-Encoding": "chunked"}))
        for piece in (b"alpha", b"beta", b"gamma"):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.write(b"0\r\n\r\n")
        return True

    async def main() -> None:
        async with Server(chunked) as server:
            transport = AsyncPoolTransport()
            async with client(transport) as http:
                async with http.stream("GET", server.url) as response:
                    pieces = [piece async for piece in response.aiter_raw()]
                assert pieces == [b"alpha", b"beta", b"gamma"]
                assert (await http.get(server.url)).content == b"alphabetagamma"
            assert server.connections == 1

    _run(main())


def test_content_length_body_larger_than_the_read_buffer() -> None:
    big = bytes(range(256)) * 8192  # 2 MiB: reading pauses and resumes the socket

    async def large(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(head(200, length=len(big)) + big)
        await writer.drain()
        return True

    async def main() -> None:
        async with Server(large) as server:
            async with client(AsyncPoolTransport()) as http:
                for _ in range(2):
                    assert (await http.get(server.url)).content == big
            assert server.connections == 1

    _run(main())


def test_closing_a_response_early_closes_its_connection() -> None:
    body = b"z" * 100_000

    async def large(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(head(200, length=len(body)) + body)
        await writer.drain()
        return True

    async def main() -> None:
        async with Server(large) as server:
            transport = AsyncPoolTransport()
            async with client(transport) as http:
                async with http.stream("GET", server.url) as response:
                    async for _ in response.aiter_raw():
                        break
                assert pool_state(transport) == (0, 0, 0)
                assert (await http.get(server.url)).content == body
            assert server.connections == 2

    _run(main())


# -- the server closing connections -----------------------------------------------------


def test_connection_close_header_is_honoured() -> None:
    async def closing(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(head(200, {"Connection": "close"}, 2) + b"ok")
        await writer.drain()
        return False

    async def main() -> None:
        async with Server(closing) as server:
            transport = AsyncPoolTransport()
            async with client(transport) as http:
                for _ in range(3):
                    assert (await http.post(server.url, content=b"{}")).text == "ok"
                assert pool_state(transport) == (0, 0, 0)
            assert server.connections == 3

    _run(main())


def test_http_1_0_response_without_length_ends_the_connection() -> None:
    async def old(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(head(200, version="1.0") + b"until close")
        await writer.drain()
        return False

    async def main() -> None:
        async with Server(old) as server:
            transport = AsyncPoolTransport()
            async with client(transport) as http:
                for _ in range(2):
                    response = await http.get(server.url)
                    assert response.content == b"until close"
                    assert response.http_version == "HTTP/1.0"
                assert pool_state(transport) == (0, 0, 0)
            assert server.connections == 2

    _run(main())


def test_idle_connection_closed_by_the_server_is_not_reused() -> None:
    """The server answers with keep-alive but then closes the idle connection; a POST
    (never resent) still succeeds, on a new connection, because the closed one is
    noticed before reuse."""

    async def close_after(request: Request, writer: asyncio.StreamWriter) -> bool:
        await ok(request, writer)
        return False

    async def main() -> None:
        async with Server(close_after) as server:
            transport = AsyncPoolTransport()
            async with client(transport) as http:
                for i in range(3):
                    response = await http.post(server.url, content=b"{}")
                    assert response.headers["x-conn"] == str(i + 1)
                    await asyncio.sleep(0.05)  # the FIN arrives while idle
            assert server.connections == 3
            assert len(server.requests) == 3

    _run(main())


def test_idle_connections_expire() -> None:
    async def main() -> None:
        async with Server() as server:
            async with client(AsyncPoolTransport(keepalive_expiry=0.05)) as http:
                await http.get(server.url)
                await asyncio.sleep(0.1)
                await http.get(server.url)
                await http.get(server.url)
            assert server.connections == 2

    _run(main())


def _drops_second_request(behaviour: str) -> Handler:
    """The keep-alive race: the server takes the second request on a connection, then
    hangs up without a byte of response (FIN or RST)."""

    async def handler(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.nth == 2:
            if behaviour == "reset":
                reset(writer)
            return False
        return await ok(request, writer)

    return handler


@pytest.mark.parametrize("behaviour", ["close", "reset"])
def test_idempotent_request_is_resent_once_on_a_fresh_connection(behaviour: str) -> None:
    async def main() -> None:
        async with Server(_drops_second_request(behaviour)) as server:
            async with client(AsyncPoolTransport()) as http:
                assert (await http.get(f"{server.url}/a")).text == "GET /a 0"
                assert (await http.get(f"{server.url}/b")).text == "GET /b 0"
            assert [(r.path, r.connection) for r in server.requests] == [
                ("/a", 1), ("/b", 1), ("/b", 2)
            ]

    _run(main())


@pytest.mark.parametrize("behaviour", ["close", "reset"])
def test_post_is_not_resent_unless_declared_idempotent(behaviour: str) -> None:
    async def main() -> None:
        async with Server(_drops_second_request(behaviour)) as server:
            transport = AsyncPoolTransport()
            async with client(transport) as http:
                await http.post(server.url, content=b"1")
                with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                    await http.post(server.url, content=b"2")
                assert pool_state(transport) == (0, 0, 0)
            assert [r.body for r in server.requests] == [b"1", b"2"]

        async with Server(_drops_second_request(behaviour)) as server:
            async with client(AsyncPoolTransport(all_requests_idempotent=True)) as http:
                await http.post(server.url, content=b"1")
                assert (await http.post(server.url, content=b"2")).text == "POST / 1"
            assert [(r.body, r.connection) for r in server.requests] == [
                (b"1", 1), (b"2", 1), (b"2", 2)
            ]

    _run(main())


def test_a_fresh_connection_that_fails_is_not_resent() -> None:
    async def hang_up(request: Request, writer: asyncio.StreamWriter) -> bool:
        return False

    async def main() -> None:
        async with Server(hang_up) as server:
            async with client(AsyncPoolTransport()) as http:
                with pytest.raises(httpx.RemoteProtocolError):
                    await http.get(server.url)
            assert len(server.requests) == 1

    _run(main())


@pytest.mark.parametrize("behaviour", ["close", "reset"])
def test_connection_lost_mid_body(behaviour: str) -> None:
    async def cut(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(head(200, length=1000) + b"x" * 10)
        await writer.drain()
        await asyncio.sleep(0.05)
        if behaviour == "reset":
            reset(writer)
        return False

    async def main() -> None:
        async with Server(cut) as server:
            transport = AsyncPoolTransport()
            async with client(transport) as http:
                async with http.stream("GET", server.url) as response:
                    expected = httpx.RemoteProtocolError if behaviour == "close" else (
                        httpx.ReadError, httpx.RemoteProtocolError)
                    with pytest.raises(expected) as caught:
                        await response.aread()
                    assert caught.value.request is response.request
                assert pool_state(transport) == (0, 0, 0)

    _run(main())


def test_malformed_response_is_remote_protocol_error() -> None:
    async def garbage(request: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        return False

    async def main() -> None:
        async with Server(garbage) as server:
            transport = AsyncPoolTransport()
            async with client(transport) as http:
                with pytest.raises(httpx.RemoteProtocolError):
                    await http.get(server.url)
                assert pool_state(transport) == (0, 0, 0)

    _run(main())


# -- cancellation ------------------------------------------------------------------------


def test_cancelled_requests_leak_no_slots() -> None:
    """Cancel requests everywhere they can wait (for a pool slot, for the response head,
    mid-body, via task.cancel and anyio.fail_after), then show the pool still runs
    ``max_connections`` requests at once."""
    import anyio

    size = 8

    async def main() -> None:
        mode = {"stall": True}
        in_flight: list[asyncio.Event] = []
        everyone = asyncio.Event()

        async def handler(request: Request, writer: asyncio.StreamWriter) -> bool:
            if mode["stall"]:
                if request.path.startswith("/body"):
                    writer.write(head(200, length=100) + b"partial")
                    await writer.drain()
                await asyncio.sleep(LIMIT)
                return False
            in_flight.append(asyncio.Event())
            if len(in_flight) == size:
                everyone.set()
            await everyone.wait()  # answers only once `size` requests are in at once
            return await ok(request, writer)

        async with Server(handler) as server:
            transport = AsyncPoolTransport(max_connections=size)
            async with client(transport) as http:

                async def fetch(path: str) -> None:
                    async with http.stream("GET", f"{server.url}{path}") as response:
                        await response.aread()

                async def fetch_bounded(path: str) -> None:
                    with anyio.fail_after(0.2):
                        await fetch(path)

                tasks = [asyncio.create_task(fetch(f"/body{i}")) for i in range(4)]
                tasks += [asyncio.create_task(fetch(f"/head{i}")) for i in range(4)]
                tasks += [asyncio.create_task(fetch(f"/queued{i}")) for i in range(30)]
                while len(server.requests) < size:
                    await asyncio.sleep(0.005)
                await asyncio.sleep(0.05)  # the /body responses are mid-body now
                assert pool_state(transport) == (size, 0, 30)
                for task in tasks[:size]:
                    task.cancel()
                # One loop turn: the cancelled requests close their connections and hand
                # their slots to the first waiters, which are cancelled before they run.
                await asyncio.sleep(0)
                assert pool_state(transport) == (size, 0, 30 - size)
                for task in tasks[size:]:
                    task.cancel()
                results = await asyncio.gather(*tasks, return_exceptions=True)
                assert all(isinstance(r, asyncio.CancelledError) for r in results)

                bounded = [asyncio.create_task(fetch_bounded(f"/body-b{i}")) for i in range(20)]
                results = await asyncio.gather(*bounded, return_exceptions=True)
                assert all(isinstance(r, TimeoutError) for r in results)
                assert pool_state(transport)[::2] == (0, 0)

                mode["stall"] = False
                responses = await asyncio.gather(
                    *(http.get(f"{server.url}/after{i}", timeout=httpx.Timeout(5, pool=2))
                      for i in range(size))
                )
                assert [r.status_code for r in responses] == [200] * size
                assert len(in_flight) == size

    _run(main())


# -- TLS ---------------------------------------------------------------------------------


def test_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))

    async def main() -> None:
        async with Server(ssl_context=server_context) as server:
            assert server.url.startswith("https://")
            transport = AsyncPoolTransport(ssl_context=trusting)
            async with client(transport) as http:
                for i in range(5):
                    response = await http.post(f"{server.url}/tls{i}", content=b"secret")
                    assert response.text == f"POST /tls{i} 6"
            assert server.connections == 1

            async with client(AsyncPoolTransport()) as http:  # the system trust store
                with pytest.raises(httpx.ConnectError):
                    await http.get(server.url)

    _run(main())


# -- with AsyncComprehendMedical -----------------------------------------------------------


def test_async_client_over_the_transport_against_the_mock_server() -> None:
    from cmclient import AsyncComprehendMedical, Credentials
    from cmclient.testing import ComprehendMedicalMock

    async def main(url: str) -> None:
        transport = AsyncPoolTransport(max_connections=32)
        http = httpx.AsyncClient(transport=transport)
        async with AsyncComprehendMedical(
            region="us-east-1", endpoint_url=url, credentials=Credentials("AKID", "SECRET"),
            http_client=http, quotas=None,  # the pool under load, not the quota's pace
        ) as cm:
            results = await asyncio.gather(*(
                cm.detect_entities_v2(text=f"Patient {i} takes 40 mg aspirin daily.")
                for i in range(300)
            ))
        assert len(results) == 300
        assert all(result.entities for result in results)
        slots, idle, waiting = pool_state(transport)
        assert slots == idle <= 32 and waiting == 0
        await http.aclose()

    with ComprehendMedicalMock().serve() as url:
        _run(main(url))


def test_the_most_recently_released_idle_connection_is_reused_first() -> None:
    async def lagging(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.path == "/slow":
            await asyncio.sleep(0.1)
        return await ok(request, writer)

    async def main() -> None:
        async with Server(lagging) as server, client(AsyncPoolTransport()) as http:
            slow, fast = await asyncio.gather(
                http.get(f"{server.url}/slow"), http.get(f"{server.url}/fast")
            )
            assert slow.headers["x-conn"] != fast.headers["x-conn"]
            again = await http.get(f"{server.url}/again")
            assert again.headers["x-conn"] == slow.headers["x-conn"]

    _run(main())


def test_respx_still_intercepts_requests() -> None:
    """respx patches httpcore's pool; requests through this transport then go to it."""
    import respx

    async def main() -> None:
        async with client(AsyncPoolTransport()) as http:
            with respx.mock() as router:
                route = router.get("http://127.0.0.1:9/mocked").respond(200, text="from respx")
                response = await http.get("http://127.0.0.1:9/mocked")
            assert response.text == "from respx"
            assert route.called

    _run(main())
