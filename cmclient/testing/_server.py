"""The loopback HTTP/1.1 server: asyncio streams, keep-alive, one event loop.

It reads each request with ``_http11`` (strictly, every wait bounded by the read
timeout), hands it to a ``RequestHandler`` and writes the answer. One loop serves
hundreds of concurrent keep-alive connections; the handler is called on the loop, and
latency (``MockResponse.delay``) is awaited, so a slow answer holds up only its own
connection.

Whatever a client sends, the server answers and goes on serving: a request it cannot
read gets a 4xx status line (see ``_http11`` for which) and the connection is closed
after it, since once framing is in doubt nothing later on that connection can be
trusted. After such an answer the server stops writing (``write_eof``) and reads and
discards what the client is still sending for a moment before closing, so the client
reads the answer instead of a connection reset (a "lingering close", RFC 9112
section 9.6). A handler that raises is answered with a 500 and the connection kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from cmclient.testing._exchange import MockResponse, RequestHandler
from cmclient.testing._http11 import (
    MAX_BODY,
    READ_SIZE,
    Reader,
    Reject,
    encode_response,
    read_request,
    reject_response,
)

__all__ = ["DEFAULT_READ_TIMEOUT", "MAX_BODY", "Server", "run", "serve"]

_log = logging.getLogger("cmclient.testing")

DEFAULT_READ_TIMEOUT = 10.0
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 4 * MAX_BODY


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Stop writing, then discard what the client still sends for a moment, so closing
    does not reset the connection before the client has read our answer."""
    with contextlib.suppress(OSError, RuntimeError):
        if writer.can_write_eof():
            writer.write_eof()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _LINGER_SECONDS
    discarded = 0
    with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
        while discarded < _LINGER_BYTES:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            data = await asyncio.wait_for(reader.read(READ_SIZE), remaining)
            if not data:
                return
            discarded += len(data)


async def _connection(
    handler: RequestHandler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
    read_timeout: float,
) -> None:
    source = Reader(reader, read_timeout)

    def send_continue() -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    try:
        while True:
            try:
                received = await read_request(source, send_continue)
            except Reject as reject:
                writer.write(reject_response(reject.status))
                await writer.drain()
                await _linger(reader, writer)
                return
            if received is None:
                return
            request, close = received
            try:
                answer = handler.handle_request(request)
            except Exception:
                _log.exception("the mock's handler failed")
                answer = MockResponse(500, [], b"")
            if answer.delay:
                await asyncio.sleep(answer.delay)
            writer.write(encode_response(answer, request.method, close))
            await writer.drain()
            if close:
                return
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def run(
    handler: RequestHandler, host: str, port: int, ready: Callable[[str], None],
    stop: asyncio.Event, *, read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> None:
    """Serve in the running event loop until ``stop`` is set, then close every
    connection. ``ready`` receives the base URL once the socket is listening."""
    if not read_timeout > 0:
        raise ValueError("read_timeout must be a positive number of seconds")
    tasks: set[asyncio.Task[None]] = set()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await _connection(handler, reader, writer, read_timeout)
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

    def __init__(self, handler: RequestHandler, host: str, port: int, *,
                 read_timeout: float = DEFAULT_READ_TIMEOUT) -> None:
        if not read_timeout > 0:
            raise ValueError("read_timeout must be a positive number of seconds")
        self._handler = handler
        self._host, self._port = host, port
        self._read_timeout = read_timeout
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

        await run(self._handler, self._host, self._port, ready, self._stop,
                  read_timeout=self._read_timeout)

    def close(self) -> None:
        if self._thread.is_alive() and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


@contextlib.contextmanager
def serve(handler: RequestHandler, host: str = "127.0.0.1", port: int = 0, *,
          read_timeout: float = DEFAULT_READ_TIMEOUT) -> Iterator[str]:
    """Run the server for the ``with`` block; yields its base URL."""
    server = Server(handler, host, port, read_timeout=read_timeout).start()
    try:
        yield server.url
    finally:
        server.close()
