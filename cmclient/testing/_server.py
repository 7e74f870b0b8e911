"""The loopback HTTP/1.1 server: asyncio streams, keep-alive, one event loop.

It parses just enough HTTP/1.1 for SDK traffic (Content-Length and chunked bodies,
``Expect: 100-continue``, keep-alive and ``Connection: close``), hands each request
to ``ComprehendMedicalMock.handle`` and writes the answer. One loop serves hundreds of
concurrent keep-alive connections; the mock's core is guarded by its own lock, so the
in-process transports may share the same mock at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cmclient.testing._service import ComprehendMedicalMock

MAX_BODY = 1 << 20  # the service's largest request is far smaller
MAX_HEADERS = 100


class _BadRequest(Exception):
    pass


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = await reader.readline()
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest from None
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise _BadRequest
            chunks.append(await reader.readexactly(size))
            await reader.readline()
    length = headers.get("content-length", "0") or "0"
    if not length.isdigit() or int(length) > MAX_BODY:
        raise _BadRequest
    return await reader.readexactly(int(length))


async def _connection(
    mock: ComprehendMedicalMock, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            request_line = await reader.readline()
            if not request_line:
                return
            if request_line in (b"\r\n", b"\n"):
                continue
            parts = request_line.decode("latin-1").split()
            if len(parts) != 3:
                raise _BadRequest
            method, target, version = parts
            pairs: list[tuple[str, str]] = []
            headers: dict[str, str] = {}
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, sep, value = line.decode("latin-1").partition(":")
                if not sep or len(pairs) >= MAX_HEADERS:
                    raise _BadRequest
                pairs.append((name.strip(), value.strip()))
                headers[name.strip().lower()] = value.strip()
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await _read_body(reader, headers)
            answer = mock.handle(method, target, pairs, body)
            if answer.delay:
                await asyncio.sleep(answer.delay)
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            head = [f"HTTP/1.1 {answer.status} {HTTPStatus(answer.status).phrase}"]
            head += [f"{k}: {v}" for k, v in answer.headers]
            head.append(f"Content-Length: {len(answer.body)}")
            if close:
                head.append("Connection: close")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + answer.body)
            await writer.drain()
            if close:
                return
    except _BadRequest:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def run(
    mock: ComprehendMedicalMock, host: str, port: int, ready: Callable[[str], None],
    stop: asyncio.Event,
) -> None:
    """Serve in the running event loop until ``stop`` is set, then close every
    connection. ``ready`` receives the base URL once the socket is listening."""
    tasks: set[asyncio.Task[None]] = set()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await _connection(mock, reader, writer)
        except asyncio.CancelledError:
            pass  # shutting down: end quietly (3.11's stream callback reports cancellation)
        finally:
            tasks.discard(task)

    server = await asyncio.start_server(on_client, host, port, backlog=1024)
    sock = server.sockets[0].getsockname()
    shown = f"[{sock[0]}]" if ":" in sock[0] else sock[0]
    ready(f"http://{shown}:{sock[1]}")
    try:
        await stop.wait()
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


class Server:
    """A server on a background thread's event loop: ``url``, and ``close()``."""

    def __init__(self, mock: ComprehendMedicalMock, host: str, port: int) -> None:
        self._mock = mock
        self._host, self._port = host, port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="cmclient-mock-server",
                                        daemon=True)
        self.url = ""

    def start(self) -> Server:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # a bind error: report it to the starting thread
            self._error = exc
        finally:
            self._ready.set()
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()

        def ready(url: str) -> None:
            self.url = url
            self._ready.set()

        await run(self._mock, self._host, self._port, ready, self._stop)

    def close(self) -> None:
        if self._thread.is_alive() and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


@contextlib.contextmanager
def serve(mock: ComprehendMedicalMock, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the server for the ``with`` block; yields its base URL."""
    server = Server(mock, host, port).start()
    try:
        yield server.url
    finally:
        server.close()
