"""``cmclient._http.sync_pool.SyncPoolTransport`` against loopback servers the tests script.

Each test drives the transport through ``httpx.Client(transport=SyncPoolTransport())``
against a raw-socket server on 127.0.0.1 port 0 (one thread per connection) that
counts connections (in total and at once), keeps every request as it arrived, and
answers each with the test's handler. Threads make requests where concurrency
matters. Handlers that stall wait on ``server.stopping``, so every server stops
promptly at the end of its ``with`` block.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

import cmclient._http.sync_pool as sync_transport
from cmclient._http.rules import DEADLINE
from cmclient._http.sync_pool import SyncPoolTransport
from tests.helpers.tls_certs import self_signed

LIMIT = 10.0  # seconds a stalled handler waits at most (the server's exit ends it sooner)


class Request:
    def __init__(self, server: Server, method: str, path: str,
                 raw_headers: list[tuple[str, str]], body: bytes, connection: int,
                 nth: int) -> None:
        self.server = server
        self.method, self.path, self.body = method, path, body
        self.raw_headers = raw_headers  # as sent: order and case kept
        self.headers = {name.lower(): value for name, value in raw_headers}
        self.connection = connection  # which connection (1, 2, ...) carried it
        self.nth = nth  # its position on that connection (1 = first)


Handler = Callable[[Request, socket.socket], bool]


def head(status: int = 200, headers: dict[str, str] | None = None, length: int | None = None,
         version: str = "1.1") -> bytes:
    lines = [f"HTTP/{version} {status} Reason {status}"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ok(request: Request, sock: socket.socket) -> bool:
    body = f"{request.method} {request.path} {len(request.body)}".encode()
    sock.sendall(head(200, {"X-Conn": str(request.connection)}, len(body)) + body)
    return True


def reset_on_close(sock: socket.socket) -> None:
    """Make the server's close of ``sock`` an RST rather than a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _read_chunked(reader: Any) -> bytes:
    body = b""
    while True:
        size = int(reader.readline().split(b";")[0], 16)
        if size == 0:
            while reader.readline() not in (b"\r\n", b"\n", b""):
                pass
            return body
        body += reader.read(size)
        reader.readline()


class Server:
    """``with Server(handler) as server:`` ``server.url``; counts ``connections``,
    ``open_now``, ``most_open``, and keeps every ``Request``. A handler returns whether
    the connection may serve another request; when it returns False the server closes
    the connection."""

    def __init__(self, handler: Handler = ok, ssl_context: ssl.SSLContext | None = None,
                 host: str = "127.0.0.1") -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.host = host
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Server:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._listener = socket.create_server((self.host, 0), family=family, backlog=128)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        scheme = "https" if self.ssl_context else "http"
        host = f"[{self.host}]" if family == socket.AF_INET6 else self.host
        self.url = f"{scheme}://{host}:{self.port}"
        accepter = threading.Thread(target=self._accept, daemon=True)
        accepter.start()
        self._accepter = accepter
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._accepter.join(LIMIT)
        self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(LIMIT)

    def wait_open(self, count: int) -> None:
        """Until exactly ``count`` connections are open on the server's side."""
        wait_until(lambda: self.open_now == count)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
                self.open_now += 1
                self.most_open = max(self.most_open, self.open_now)
                self._socks.add(sock)
            thread = threading.Thread(target=self._serve, args=(sock, number), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket, number: int) -> None:
        sock = raw
        reader = None
        try:
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(raw, server_side=True)
            reader = sock.makefile("rb")
            nth = 0
            while True:
                line = reader.readline()
                if not line:
                    break
                method, path, _ = line.decode("latin-1").rstrip("\r\n").split(" ")
                raw_headers = []
                while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, value = line.decode("latin-1").rstrip("\r\n").split(":", 1)
                    raw_headers.append((name, value.strip()))
                nth += 1
                request = Request(self, method, path, raw_headers, b"", number, nth)
                if request.headers.get("transfer-encoding", "").lower() == "chunked":
                    request.body = _read_chunked(reader)
                else:
                    request.body = reader.read(int(request.headers.get("content-length", "0")))
                self.requests.append(request)
                if not self.handler(request, sock):
                    break
        except (OSError, ValueError):
            pass
        finally:
            if reader is not None:
                reader.close()
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self.open_now -= 1
                self._socks.discard(raw)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.005)


def client(transport: SyncPoolTransport, timeout: float | httpx.Timeout = 5.0) -> httpx.Client:
    return httpx.Client(transport=transport, timeout=timeout)


def pool_state(transport: SyncPoolTransport) -> tuple[int, int]:
    """(connections open or being opened, idle connections) of the transport's pool."""
    state = transport._pool.state
    return state.slots, state.idle_count


def waiting_threads(transport: SyncPoolTransport) -> int:
    """Threads waiting for a connection."""
    return len(transport._pool.state.waiters)


def in_thread(work: Callable[[], Any]) -> Callable[[], Any]:
    """Run ``work`` in a thread now; the returned function joins it and returns its
    result (or raises its exception)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join() -> Any:
        thread.join(LIMIT)
        assert not thread.is_alive(), "the thread did not finish"
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return join


# -- keep-alive and the pool -------------------------------------------------------


def test_keep_alive_reuses_one_connection_for_sequential_requests() -> None:
    with Server() as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            for i in range(20):
                response = http.post(f"{server.url}/p?i={i}", content=b"x" * i)
                assert response.status_code == 200
                assert response.text == f"POST /p?i={i} {i}"
                assert response.http_version == "HTTP/1.1"
                assert response.reason_phrase == "Reason 200"
            assert pool_state(transport) == (1, 1)
        assert server.connections == 1
        assert [r.nth for r in server.requests] == list(range(1, 21))


def test_max_connections_holds_under_many_threads_and_every_request_is_answered() -> None:
    def slow(request: Request, sock: socket.socket) -> bool:
        time.sleep(0.005)
        return ok(request, sock)

    with Server(slow) as server:
        transport = SyncPoolTransport(max_connections=5)
        with client(transport) as http:
            start = threading.Barrier(20)

            def worker(n: int) -> list[str]:
                start.wait()
                return [http.get(f"{server.url}/{n}-{i}").text for i in range(8)]

            with ThreadPoolExecutor(20) as executor:
                texts = [t for batch in executor.map(worker, range(20)) for t in batch]
            assert sorted(texts) == sorted(f"GET /{n}-{i} 0" for n in range(20) for i in range(8))
            assert pool_state(transport) == (5, 5)
        assert server.most_open == 5
        assert server.connections == 5  # every slot used, none reopened
        assert len(server.requests) == 160


def test_waiting_threads_get_a_returned_connection_or_time_out_with_pool_timeout() -> None:
    gate = threading.Event()

    def gated(request: Request, sock: socket.socket) -> bool:
        if request.path == "/hold":
            gate.wait(LIMIT)
        return ok(request, sock)

    with Server(gated) as server:
        transport = SyncPoolTransport(max_connections=1)
        with client(transport) as http:
            holder = in_thread(lambda: http.get(f"{server.url}/hold"))
            wait_until(lambda: len(server.requests) == 1)
            started = time.monotonic()
            with pytest.raises(httpx.PoolTimeout) as caught:
                http.get(f"{server.url}/late", timeout=httpx.Timeout(5, pool=0.2))
            assert 0.15 < time.monotonic() - started < 3
            assert caught.value.request.url.path == "/late"
            waiters = [in_thread(lambda i=i: http.get(f"{server.url}/w{i}")) for i in range(4)]
            wait_until(lambda: waiting_threads(transport) == 4)
            gate.set()
            assert holder().text == "GET /hold 0"
            assert sorted(join().text for join in waiters) == [f"GET /w{i} 0" for i in range(4)]
            assert pool_state(transport) == (1, 1)
        assert [r.path for r in server.requests][:1] == ["/hold"]
        assert len(server.requests) == 5
        assert server.connections == 1


def test_max_connections_counts_the_connections_to_every_origin() -> None:
    with Server() as a, Server() as b:
        transport = SyncPoolTransport(max_connections=1)
        with client(transport) as http:
            with http.stream("GET", f"{a.url}/busy") as busy:
                # A's connection is in use: B has no slot.
                with pytest.raises(httpx.PoolTimeout):
                    http.get(f"{b.url}/", timeout=httpx.Timeout(5, pool=0.1))
                busy.read()
            # A's connection is idle now: B takes its slot, closing it.
            assert http.get(f"{b.url}/b").text == "GET /b 0"
            a.wait_open(0)
            assert pool_state(transport) == (1, 1)
            assert http.get(f"{a.url}/again").text == "GET /again 0"
        assert a.connections == 2
        assert b.connections == 1


def test_the_most_recently_released_idle_connection_is_reused_first() -> None:
    fast_done = threading.Event()

    def lagging(request: Request, sock: socket.socket) -> bool:
        if request.path == "/slow":
            fast_done.wait(LIMIT)
        return ok(request, sock)

    with Server(lagging) as server, client(SyncPoolTransport()) as http:
        slow = in_thread(lambda: http.get(f"{server.url}/slow"))
        wait_until(lambda: len(server.requests) == 1)
        fast = http.get(f"{server.url}/fast")
        fast_done.set()
        slow_response = slow()  # released after /fast's connection
        assert slow_response.headers["x-conn"] != fast.headers["x-conn"]
        again = http.get(f"{server.url}/again")
        assert again.headers["x-conn"] == slow_response.headers["x-conn"]


def test_max_connections_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        SyncPoolTransport(max_connections=0)


# -- connecting ----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]  # closed again: nothing listens there
    return port


def test_connection_refused_is_connect_error_and_frees_its_slot() -> None:
    port = _closed_port()
    transport = SyncPoolTransport(max_connections=1)
    with client(transport) as http:
        for _ in range(3):  # the failed connect frees its slot each time
            with pytest.raises(httpx.ConnectError) as caught:
                http.get(f"http://127.0.0.1:{port}/", timeout=httpx.Timeout(5, pool=0.5))
            assert caught.value.request.url.port == port
        assert pool_state(transport) == (0, 0)


def test_connect_timeout_against_a_full_backlog() -> None:
    """A listening socket that never accepts, its backlog filled: the kernel drops
    further SYNs, so connecting hangs until the connect timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.1)
        transport = SyncPoolTransport(max_connections=1)
        with client(transport, httpx.Timeout(5, connect=0.2)) as http:
            started = time.monotonic()
            with pytest.raises(httpx.ConnectTimeout):
                http.get(f"http://127.0.0.1:{port}/")
            assert time.monotonic() - started < 3
            assert pool_state(transport) == (0, 0)
    finally:
        for sock in [*fillers, listener]:
            sock.close()


def test_unsupported_scheme_is_refused() -> None:
    with client(SyncPoolTransport()) as http, pytest.raises(httpx.UnsupportedProtocol):
        http.get("ftp://127.0.0.1/")


def test_ipv6_loopback_origin() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with Server(host="::1") as server, client(SyncPoolTransport()) as http:
        for _ in range(2):
            response = http.get(f"{server.url}/six")
            assert response.text == "GET /six 0"
        assert server.requests[0].headers["host"] == f"[::1]:{server.port}"
        assert server.connections == 1


def test_new_connections_are_logged_at_debug_without_headers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Server() as server, client(SyncPoolTransport()) as http, caplog.at_level(
        logging.DEBUG, logger="cmclient.http"
    ):
        http.get(server.url, headers={"Authorization": "secret-token"})
        http.get(server.url)
    messages = [r.getMessage() for r in caplog.records if r.name == "cmclient.http"]
    assert messages == [f"connected to 127.0.0.1:{server.port} (http)"]
    assert "secret-token" not in caplog.text


# -- timeouts --------------------------------------------------------------------------


def test_read_timeout_on_a_stalled_server_frees_the_slot() -> None:
    def stall(request: Request, sock: socket.socket) -> bool:
        if request.path == "/stall":
            request.server.stopping.wait(LIMIT)
            return False
        return ok(request, sock)

    with Server(stall) as server:
        transport = SyncPoolTransport(max_connections=1)
        with client(transport, httpx.Timeout(5, read=0.2)) as http:
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout) as caught:
                http.get(f"{server.url}/stall")
            assert 0.15 < time.monotonic() - started < 3
            assert caught.value.request.url.path == "/stall"
            assert pool_state(transport) == (0, 0)
            assert http.get(f"{server.url}/next").text == "GET /next 0"
        assert server.connections == 2  # the stalled connection was not reused


def test_read_timeout_mid_body_closes_the_connection() -> None:
    def trickle(request: Request, sock: socket.socket) -> bool:
        sock.sendall(head(200, length=10) + b"12345")
        request.server.stopping.wait(LIMIT)
        return False

    with Server(trickle) as server:
        transport = SyncPoolTransport()
        with client(transport, httpx.Timeout(5, read=0.2)) as http:
            with http.stream("GET", server.url) as response, pytest.raises(httpx.ReadTimeout):
                response.read()
            assert pool_state(transport) == (0, 0)


@pytest.mark.parametrize("what", ["head", "body", "chunked body"])
def test_a_trickle_within_the_read_timeout_ends_at_the_request_deadline(what: str) -> None:
    # One byte every 50 ms never trips a 5 s read timeout; only the deadline the
    # request carries can end the exchange, and it cuts every receive to it.
    chunked = what == "chunked body"
    whole = (head(200, {"Transfer-Encoding": "chunked"}) + b"c8\r\n" + b"x" * 200 + b"\r\n0\r\n\r\n"
             if chunked else head(200, length=200) + b"x" * 200)
    fast = 0 if what == "head" else whole.index(b"\r\n\r\n") + 4 + (5 if chunked else 0)

    def trickle(request: Request, sock: socket.socket) -> bool:
        sock.sendall(whole[:fast])
        for byte in whole[fast:]:
            if request.server.stopping.wait(0.05):
                break
            sock.sendall(bytes([byte]))
        return False

    with Server(trickle) as server:
        transport = SyncPoolTransport()
        with client(transport, httpx.Timeout(5.0)) as http:
            started = time.monotonic()
            request = http.build_request(
                "GET", server.url, extensions={DEADLINE: started + 0.5})
            with pytest.raises(httpx.ReadTimeout):
                http.send(request).read()
            assert 0.45 < time.monotonic() - started < 1.5
            assert pool_state(transport) == (0, 0)


def test_a_deadline_already_passed_is_a_connect_timeout_without_connecting() -> None:
    with Server() as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            request = http.build_request(
                "GET", server.url, extensions={DEADLINE: time.monotonic() - 1})
            with pytest.raises(httpx.ConnectTimeout):
                http.send(request)
            assert pool_state(transport) == (0, 0)
        assert server.connections == 0


def test_write_timeout_when_the_server_does_not_read() -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        transport = SyncPoolTransport()
        with client(transport, httpx.Timeout(5, write=0.2)) as http:
            started = time.monotonic()
            with pytest.raises(httpx.WriteTimeout):
                http.post(f"http://127.0.0.1:{port}/", content=b"x" * (32 << 20))
            assert time.monotonic() - started < 4
            assert pool_state(transport) == (0, 0)
    finally:
        listener.close()


# -- bodies ------------------------------------------------------------------------------


def test_chunked_response_streams_chunk_by_chunk_and_keeps_the_connection() -> None:
    def chunked(request: Request, sock: socket.socket) -> bool:
        sock.sendall(head(200, {"Transfer-Encoding": "chunked"}))
        for piece in (b"alpha", b"beta", b"gamma"):
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.02)
        sock.sendall(b"0\r\n\r\n")
        return True

    with Server(chunked) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            with http.stream("GET", server.url) as response:
                pieces = list(response.iter_raw())
            assert pieces == [b"alpha", b"beta", b"gamma"]
            assert http.get(server.url).content == b"alphabetagamma"
            assert pool_state(transport) == (1, 1)
        assert server.connections == 1


def test_content_length_body_larger_than_the_read_buffer() -> None:
    big = bytes(range(256)) * 8192  # 2 MiB

    def large(request: Request, sock: socket.socket) -> bool:
        sock.sendall(head(200, length=len(big)) + big)
        return True

    with Server(large) as server, client(SyncPoolTransport()) as http:
        for _ in range(2):
            assert http.get(server.url).content == big
        assert server.connections == 1


def test_streamed_request_body_goes_out_chunked() -> None:
    def pieces() -> Iterator[bytes]:
        yield b"first,"
        yield b""
        yield b"second," * 1000
        yield b"third"

    with Server() as server, client(SyncPoolTransport()) as http:
        response = http.post(f"{server.url}/up", content=pieces())
        expected = b"first," + b"second," * 1000 + b"third"
        assert response.text == f"POST /up {len(expected)}"
        (request,) = server.requests
        assert request.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in request.headers
        assert request.body == expected


def test_request_headers_go_out_exactly_as_httpx_built_them() -> None:
    """http.client adds no Host, Accept-Encoding or Content-Length of its own: the
    server sees httpx's headers, in httpx's order and case, and nothing else."""
    with Server() as server, client(SyncPoolTransport()) as http:
        post = http.build_request("POST", f"{server.url}/h", content=b"{}",
                                  headers={"X-Amz-Target": "Svc.Op", "x-lower": "v"})
        get = http.build_request("GET", f"{server.url}/g")
        bare = http.build_request("GET", f"{server.url}/bare",
                                  headers={"Host": "example.test"})
        del bare.headers["accept-encoding"]
        for request in (post, get, bare):
            http.send(request)
        for request, seen in zip((post, get, bare), server.requests, strict=True):
            assert seen.raw_headers == [
                (name.decode(), value.decode()) for name, value in request.headers.raw
            ]
        assert server.requests[0].headers["content-length"] == "2"
        assert "content-length" not in server.requests[1].headers
        assert [v for k, v in server.requests[2].raw_headers if k.lower() == "host"] == [
            "example.test"
        ]
        assert "accept-encoding" not in server.requests[2].headers


def test_header_http_client_refuses_is_local_protocol_error_and_frees_the_slot() -> None:
    with Server() as server:
        transport = SyncPoolTransport(max_connections=1)
        with client(transport) as http:
            with pytest.raises(httpx.LocalProtocolError) as caught:
                http.get(server.url, headers={"X-Bad": "a\r\nInjected: 1"})
            assert caught.value.request.headers["x-bad"] == "a\r\nInjected: 1"
            assert pool_state(transport) == (0, 0)
            assert http.get(f"{server.url}/ok", timeout=httpx.Timeout(5, pool=0.5)).text == (
                "GET /ok 0"
            )
        assert [r.path for r in server.requests] == ["/ok"]


def test_response_head_is_passed_through() -> None:
    def cookies(request: Request, sock: socket.socket) -> bool:
        sock.sendall(
            b"HTTP/1.1 201 Made It\r\nContent-Length: 2\r\nSet-Cookie: a=1\r\n"
            b"X-Mixed-Case: Value\r\nSet-Cookie: b=2\r\n\r\nhi"
        )
        return True

    with Server(cookies) as server, client(SyncPoolTransport()) as http:
        response = http.get(server.url)
        assert response.status_code == 201
        assert response.reason_phrase == "Made It"
        assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
        assert response.headers.raw == [
            (b"Content-Length", b"2"), (b"Set-Cookie", b"a=1"), (b"X-Mixed-Case", b"Value"),
            (b"Set-Cookie", b"b=2"),
        ]
        assert response.content == b"hi"


def test_responses_without_a_body_keep_the_connection() -> None:
    """HEAD (whatever its Content-Length), 204 and 304 have no body to read, and an
    interim 100 response is skipped: all on one connection."""

    def bodiless(request: Request, sock: socket.socket) -> bool:
        if request.method == "HEAD":
            sock.sendall(head(200, length=1000))
        elif request.path == "/204":
            sock.sendall(head(204))
        elif request.path == "/304":
            sock.sendall(head(304, {"ETag": '"x"'}, length=50))
        elif request.path == "/continue":
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            return ok(request, sock)
        else:
            return ok(request, sock)
        return True

    with Server(bodiless) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            response = http.head(f"{server.url}/h")
            assert (response.status_code, response.content) == (200, b"")
            assert response.headers["content-length"] == "1000"
            assert http.get(f"{server.url}/204").status_code == 204
            assert http.get(f"{server.url}/304").content == b""
            assert http.post(f"{server.url}/continue", content=b"12").text == "POST /continue 2"
            assert http.get(f"{server.url}/last").text == "GET /last 0"
            assert pool_state(transport) == (1, 1)
        assert server.connections == 1


def test_closing_a_response_early_closes_its_connection() -> None:
    body = b"z" * 300_000

    def large(request: Request, sock: socket.socket) -> bool:
        sock.sendall(head(200, length=len(body)) + body)
        return True

    with Server(large) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            with http.stream("GET", server.url) as response:
                for _ in response.iter_raw():
                    break
            assert pool_state(transport) == (0, 0)
            server.wait_open(0)
            assert http.get(server.url).content == body
        assert server.connections == 2


def test_content_length_body_cut_short_is_remote_protocol_error() -> None:
    def short(request: Request, sock: socket.socket) -> bool:
        sock.sendall(head(200, length=100) + b"only this")
        return False

    with Server(short) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                http.get(f"{server.url}/short")
            assert caught.value.request.url.path == "/short"
            assert pool_state(transport) == (0, 0)


@pytest.mark.parametrize(
    "body", [b"5\r\nhello\r\nZZ\r\nrest", b"5\r\nhel", b"5\r\nhello\r\n"],
    ids=["bad-size", "cut-mid-chunk", "no-last-chunk"],
)
def test_broken_chunked_body_is_remote_protocol_error(body: bytes) -> None:
    def broken(request: Request, sock: socket.socket) -> bool:
        sock.sendall(head(200, {"Transfer-Encoding": "chunked"}) + body)
        return False

    with Server(broken) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                http.get(server.url)
            assert pool_state(transport) == (0, 0)


@pytest.mark.parametrize("behaviour", ["close", "reset"])
def test_connection_lost_mid_body(behaviour: str) -> None:
    def cut(request: Request, sock: socket.socket) -> bool:
        sock.sendall(head(200, length=1000) + b"x" * 10)
        time.sleep(0.05)
        if behaviour == "reset":
            reset_on_close(sock)
        return False

    with Server(cut) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            with http.stream("GET", server.url) as response:
                expected = httpx.RemoteProtocolError if behaviour == "close" else (
                    httpx.ReadError, httpx.RemoteProtocolError)
                with pytest.raises(expected) as caught:
                    response.read()
                assert caught.value.request is response.request
            assert pool_state(transport) == (0, 0)


@pytest.mark.parametrize(
    "reply",
    [b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"\x16\x03\x01garbage\r\n",
     # A hang-up before the blank line that ends the head: no response, not a 200 with
     # an empty body (http.client alone takes EOF for the end of the head).
     b"HTTP/1.1 200 OK\r\nX-Partial: yes\r\n"],
    ids=["words", "bad-status", "binary", "head-cut-short"],
)
def test_malformed_or_cut_short_head_is_remote_protocol_error(reply: bytes) -> None:
    def garbage(request: Request, sock: socket.socket) -> bool:
        sock.sendall(reply)
        return False

    with Server(garbage) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                http.get(server.url)
            assert pool_state(transport) == (0, 0)


# -- the server closing connections -----------------------------------------------------


def test_connection_close_header_is_honoured() -> None:
    def closing(request: Request, sock: socket.socket) -> bool:
        sock.sendall(head(200, {"Connection": "close"}, 2) + b"ok")
        return False

    with Server(closing) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            for _ in range(3):
                assert http.post(server.url, content=b"{}").text == "ok"
            assert pool_state(transport) == (0, 0)
        assert server.connections == 3


def test_http_1_0_response_without_length_ends_the_connection() -> None:
    def old(request: Request, sock: socket.socket) -> bool:
        sock.sendall(head(200, version="1.0") + b"until close")
        return False

    with Server(old) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            for _ in range(2):
                response = http.get(server.url)
                assert response.content == b"until close"
                assert response.http_version == "HTTP/1.0"
            assert pool_state(transport) == (0, 0)
        assert server.connections == 2


def test_close_delimited_http_1_1_body_is_read_to_the_end_and_not_reused() -> None:
    def delimited(request: Request, sock: socket.socket) -> bool:
        sock.sendall(head(200) + b"part one, ")
        time.sleep(0.02)
        sock.sendall(b"part two")
        return False

    with Server(delimited) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            for _ in range(2):
                assert http.get(server.url).content == b"part one, part two"
            assert pool_state(transport) == (0, 0)
        assert server.connections == 2


def test_idle_connection_closed_by_the_server_is_not_reused() -> None:
    """The server answers with keep-alive but then closes the idle connection; a POST
    (never resent) still succeeds, on a new connection, because the closed one is
    noticed before reuse."""

    def close_after(request: Request, sock: socket.socket) -> bool:
        ok(request, sock)
        return False

    with Server(close_after) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            for i in range(3):
                response = http.post(server.url, content=b"{}")
                assert response.headers["x-conn"] == str(i + 1)
                server.wait_open(0)  # the FIN arrives while idle
            assert pool_state(transport) == (1, 1)
        assert server.connections == 3
        assert len(server.requests) == 3


def test_idle_connection_the_server_wrote_to_is_not_reused() -> None:
    def chatty(request: Request, sock: socket.socket) -> bool:
        ok(request, sock)
        if request.connection == 1:
            time.sleep(0.02)
            sock.sendall(head(408, {"Connection": "close"}, 0))  # unasked
            request.server.stopping.wait(LIMIT)
            return False
        return True

    with Server(chatty) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            assert http.post(f"{server.url}/1", content=b"{}").headers["x-conn"] == "1"
            time.sleep(0.2)  # the unasked bytes are there by now
            response = http.post(f"{server.url}/2", content=b"{}")
            assert response.headers["x-conn"] == "2"
            assert response.text == "POST /2 2"
        assert [(r.path, r.connection) for r in server.requests] == [("/1", 1), ("/2", 2)]


def test_idle_connections_expire() -> None:
    with Server() as server, client(SyncPoolTransport(keepalive_expiry=0.05)) as http:
        http.get(server.url)
        time.sleep(0.1)
        http.get(server.url)
        http.get(server.url)
        assert server.connections == 2


def test_idle_connections_do_not_expire_without_keepalive_expiry() -> None:
    with Server() as server, client(SyncPoolTransport(keepalive_expiry=None)) as http:
        http.get(server.url)
        time.sleep(0.1)
        http.get(server.url)
        assert server.connections == 1


def _drops_second_request(behaviour: str) -> Handler:
    """The keep-alive race: the server takes the second request on a connection, then
    hangs up without a byte of response (FIN or RST)."""

    def handler(request: Request, sock: socket.socket) -> bool:
        if request.nth == 2:
            if behaviour == "reset":
                reset_on_close(sock)
            return False
        return ok(request, sock)

    return handler


@pytest.mark.parametrize("behaviour", ["close", "reset"])
def test_idempotent_request_is_resent_once_on_a_fresh_connection(
    behaviour: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Server(_drops_second_request(behaviour)) as server:
        transport = SyncPoolTransport()
        with client(transport) as http, caplog.at_level(logging.DEBUG, "cmclient.http"):
            assert http.get(f"{server.url}/a").text == "GET /a 0"
            assert http.get(f"{server.url}/b", headers={"Authorization": "secret"}).text == "GET /b 0"
            assert pool_state(transport) == (1, 1)
        assert [(r.path, r.connection) for r in server.requests] == [
            ("/a", 1), ("/b", 1), ("/b", 2)
        ]
    assert "sending it again on a new one" in caplog.text
    assert "secret" not in caplog.text


def test_a_request_is_resent_only_once() -> None:
    """Every connection takes one request and hangs up on the second, so the resent
    request, on a fresh connection, fails too: that error reaches the caller."""

    def first_only(request: Request, sock: socket.socket) -> bool:
        if request.path == "/warm":
            return ok(request, sock)
        return False

    with Server(first_only) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            http.get(f"{server.url}/warm")
            with pytest.raises(httpx.RemoteProtocolError):
                http.get(f"{server.url}/x")
            assert pool_state(transport) == (0, 0)
        assert [(r.path, r.connection) for r in server.requests] == [
            ("/warm", 1), ("/x", 1), ("/x", 2)
        ]


@pytest.mark.parametrize("behaviour", ["close", "reset"])
def test_post_is_not_resent_unless_declared_idempotent(behaviour: str) -> None:
    with Server(_drops_second_request(behaviour)) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            http.post(server.url, content=b"1")
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)) as caught:
                http.post(server.url, content=b"2")
            assert caught.value.request.content == b"2"
            assert pool_state(transport) == (0, 0)
        assert [r.body for r in server.requests] == [b"1", b"2"]

    with Server(_drops_second_request(behaviour)) as server:
        with client(SyncPoolTransport(all_requests_idempotent=True)) as http:
            http.post(server.url, content=b"1")
            assert http.post(server.url, content=b"2").text == "POST / 1"
        assert [(r.body, r.connection) for r in server.requests] == [
            (b"1", 1), (b"2", 1), (b"2", 2)
        ]


def test_streamed_body_is_not_resent_even_for_put() -> None:
    """A one-shot request body cannot be replayed, whatever the method."""
    with Server(_drops_second_request("close")) as server:
        with client(SyncPoolTransport(all_requests_idempotent=True)) as http:
            http.put(server.url, content=b"1")
            with pytest.raises(httpx.RemoteProtocolError):
                http.put(server.url, content=iter([b"2"]))
        assert [(r.body, r.connection) for r in server.requests] == [(b"1", 1), (b"2", 1)]


@pytest.mark.parametrize("behaviour", ["close", "reset"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_server_closing_just_as_the_request_goes_out(
    method: str, behaviour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server closed the idle connection (FIN or RST), but that had not been
    noticed when the connection was taken (the readability check is made to miss it):
    the request goes out on a closed connection. A GET is sent again on a new
    connection; a POST fails with an httpx error."""

    def close_after(request: Request, sock: socket.socket) -> bool:
        ok(request, sock)
        if behaviour == "reset":
            reset_on_close(sock)
        return False

    with Server(close_after) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            http.request(method, f"{server.url}/a")
            server.wait_open(0)
            monkeypatch.setattr(sync_transport, "_readable", lambda sock: False)
            if method == "GET":
                assert http.get(f"{server.url}/b").text == "GET /b 0"
                assert pool_state(transport) == (1, 1)
            else:
                with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError,
                                    httpx.WriteError)):
                    http.post(f"{server.url}/b")
                assert pool_state(transport) == (0, 0)
        assert [(r.path, r.connection) for r in server.requests] == (
            [("/a", 1), ("/b", 2)] if method == "GET" else [("/a", 1)]
        )


def test_a_fresh_connection_that_fails_is_not_resent() -> None:
    def hang_up(request: Request, sock: socket.socket) -> bool:
        return False

    with Server(hang_up) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                http.get(server.url)
            assert pool_state(transport) == (0, 0)
        assert len(server.requests) == 1


def test_a_reused_connection_that_fails_after_the_response_began_is_not_resent() -> None:
    """Part of the response arrived before the reset: the server did act on the
    request, so it is not sent again, even though GET is idempotent."""

    def begin_then_reset(request: Request, sock: socket.socket) -> bool:
        if request.nth == 2:
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
            time.sleep(0.05)
            reset_on_close(sock)
            return False
        return ok(request, sock)

    with Server(begin_then_reset) as server:
        transport = SyncPoolTransport()
        with client(transport) as http:
            http.get(f"{server.url}/a")
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                http.get(f"{server.url}/b")
            assert pool_state(transport) == (0, 0)
        assert [(r.path, r.connection) for r in server.requests] == [("/a", 1), ("/b", 1)]


def test_failures_from_many_threads_leak_no_slots() -> None:
    """Threads time out, close responses early and meet broken bodies and hang-ups,
    all at once; afterwards the pool still runs ``max_connections`` requests at once."""
    size = 3
    everyone = threading.Barrier(size, timeout=LIMIT)

    def handler(request: Request, sock: socket.socket) -> bool:
        kind = request.path.split("-")[0]
        if kind == "/stall":
            request.server.stopping.wait(LIMIT)
            return False
        if kind == "/cut":
            sock.sendall(head(200, length=100) + b"part")
            return False
        if kind == "/big":
            sock.sendall(head(200, length=200_000) + b"b" * 200_000)
            return True
        if kind == "/hangup":
            return False
        if kind == "/together":
            everyone.wait()  # answers only once `size` requests are in at once
        return ok(request, sock)

    with Server(handler) as server:
        transport = SyncPoolTransport(max_connections=size)
        with client(transport, httpx.Timeout(5, read=0.1)) as http:

            def work(n: int) -> str:
                kind = ["stall", "cut", "big", "hangup", "fine"][n % 5]
                url = f"{server.url}/{kind}-{n}"
                try:
                    if kind == "big":
                        with http.stream("GET", url) as response:
                            next(response.iter_raw())
                        return "closed early"
                    return http.get(url).text
                except httpx.TransportError as exc:
                    return type(exc).__name__

            with ThreadPoolExecutor(10) as executor:
                outcomes = list(executor.map(work, range(40)))
            assert outcomes.count("ReadTimeout") == 8
            assert outcomes.count("RemoteProtocolError") == 16  # cut bodies, hang-ups
            assert outcomes.count("closed early") == 8
            assert sorted(o for o in outcomes if o.startswith("GET")) == sorted(
                f"GET /fine-{n} 0" for n in range(4, 40, 5)
            )
            opened, idle = pool_state(transport)
            assert opened == idle <= size
            with ThreadPoolExecutor(size) as executor:
                texts = list(executor.map(
                    lambda i: http.get(f"{server.url}/together-{i}",
                                       timeout=httpx.Timeout(5, pool=2)).text,
                    range(size),
                ))
            assert texts == [f"GET /together-{i} 0" for i in range(size)]


# -- closing the transport ---------------------------------------------------------------


def test_close_ends_idle_connections_and_in_flight_ones_when_they_finish() -> None:
    with Server() as server:
        transport = SyncPoolTransport()
        http = client(transport)
        with http.stream("GET", f"{server.url}/in-flight") as in_flight:
            http.get(f"{server.url}/idle")  # a second connection, idle after
            server.wait_open(2)
            assert pool_state(transport) == (2, 1)
            transport.close()
            server.wait_open(1)  # the idle one is closed at once
            assert in_flight.read() == b"GET /in-flight 0"
        assert pool_state(transport) == (0, 0)
        server.wait_open(0)  # the in-flight one is closed, not pooled
        with pytest.raises(RuntimeError):
            http.get(f"{server.url}/after")
        transport.close()  # twice is fine
        http.close()
        assert [r.path for r in server.requests] == ["/in-flight", "/idle"]


# -- TLS ---------------------------------------------------------------------------------


def test_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))

    def close_third(request: Request, sock: socket.socket) -> bool:
        ok(request, sock)
        return request.nth != 3

    with Server(close_third, ssl_context=server_context) as server:
        assert server.url.startswith("https://")
        transport = SyncPoolTransport(ssl_context=trusting)
        with client(transport) as http:
            for i in range(3):
                response = http.post(f"{server.url}/tls{i}", content=b"secret")
                assert response.text == f"POST /tls{i} 6"
            server.wait_open(0)  # the server closed the TLS connection while idle
            assert http.get(f"{server.url}/new").text == "GET /new 0"
        assert server.connections == 2

        with client(SyncPoolTransport()) as http, pytest.raises(httpx.ConnectError):
            http.get(server.url)  # the system trust store does not know the certificate


# -- mocking libraries -------------------------------------------------------------------


@pytest.mark.parametrize("using", ["httpcore", "httpx"])
def test_respx_routes_requests_made_through_the_transport(using: str) -> None:
    """respx patches httpcore's pool (or httpx's transport); while it does, requests
    through this transport go there; afterwards they reach the network again."""
    import respx

    with Server() as server, client(SyncPoolTransport()) as http:
        with respx.mock(using=using) as router:
            route = router.get(f"{server.url}/mocked").respond(200, text="from respx")
            response = http.get(f"{server.url}/mocked")
            assert response.text == "from respx"
            assert route.called
        assert server.requests == []
        assert http.get(f"{server.url}/real").text == "GET /real 0"
        assert len(server.requests) == 1


# -- with ComprehendMedical ------------------------------------------------------------


def test_sync_client_from_many_threads_over_the_transport_against_the_mock_server() -> None:
    from cmclient import ComprehendMedical, Credentials
    from cmclient.testing import ComprehendMedicalMock

    with ComprehendMedicalMock().serve() as url:
        transport = SyncPoolTransport(max_connections=4)
        http = httpx.Client(transport=transport)
        with ComprehendMedical(
            region="us-east-1", endpoint_url=url, credentials=Credentials("AKID", "SECRET"),
            http_client=http,
        ) as cm, ThreadPoolExecutor(8) as executor:
            results = list(executor.map(
                lambda i: cm.detect_entities_v2(text=f"Patient {i} takes 40 mg aspirin daily."),
                range(80),
            ))
        assert len(results) == 80
        assert all(result.entities for result in results)
        opened, idle = pool_state(transport)
        assert opened == idle <= 4
        http.close()
