"""A scripted raw-socket HTTP/1.1 server on loopback, over TCP or TLS, for adversarial tests.

Each accepted connection gets a thread running a *script*: a function given a
``ServerConnection``. The default script reads requests one after another and hands
each to a *responder*, which writes whatever bytes it likes (a well-formed answer, two
answers at once, a head cut short, a 1xx before the final response ...) and says
whether the connection may serve another request.

Requests are the client's POSTs; their JSON body carries a ``Text`` member, a marker
unique to the call. ``ok(marker)`` is the well-behaved answer: a 200 whose body,
``{"Entities": [], "ModelVersion": marker}``, makes ``detect_entities_v2(text=marker)``
return ``model_version == marker``; so a caller can tell its own answer from
another's.

The server records every request (``requests``), how many connections were open at
once (``max_open``), and every *reuse violation*: a request that arrived on a
connection after the server had written bytes beyond a complete response on it (the
client reused a connection that still held unread bytes). A responder marks that with
``conn.taint()``.

    with RawServer(responder) as server:               # plain TCP
        ...server.url...
    with RawServer(responder, tls=server_context) as server:   # TLS
        ...

``stop()`` (and leaving the ``with`` block) closes the listener and every connection
and joins the threads, also when the test failed.

Building blocks for responders: ``response`` (any status line, headers as given,
duplicates kept, any line ending), ``ok``, ``chunked``, ``gzip_padded`` (a small gzip
body inflating to many MiB, built without holding them) and ``send_padded`` (a body of
many MiB streamed one MiB at a time).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType

__all__ = [
    "RawServer",
    "Request",
    "Responder",
    "Script",
    "ServerConnection",
    "chunked",
    "gzip_padded",
    "ok",
    "ok_body",
    "response",
    "send_padded",
    "serve_requests",
]

_REASONS = {100: "Continue", 101: "Switching Protocols", 102: "Processing",
            103: "Early Hints", 200: "OK", 301: "Moved Permanently", 302: "Found",
            307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
            500: "Internal Server Error"}

_MAX_HEAD = 1 << 20


@dataclass
class Request:
    """One request as the server read it."""

    connection: int  # the connection's number, from 0 in accept order
    index: int  # the request's number on its connection, from 0
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def text(self) -> str:
        """The ``Text`` member of the JSON body ("" when there is none)."""
        try:
            document = json.loads(self.body)
        except ValueError:
            return ""
        value = document.get("Text", "") if isinstance(document, dict) else ""
        return value if isinstance(value, str) else ""


def ok_body(marker: str, padding: int = 0) -> bytes:
    """The body of a well-behaved answer for ``marker`` (``padding`` spaces inside the
    JSON object make it as large as needed and keep it valid)."""
    return (b'{"Entities": [], "ModelVersion": ' + json.dumps(marker).encode()
            + b" " * padding + b"}")


def response(
    status: int = 200,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
    *,
    reason: str | None = None,
    version: str = "HTTP/1.1",
    content_length: bool = True,
    eol: bytes = b"\r\n",
) -> bytes:
    """A response's bytes: status line, ``headers`` as given (in order, duplicates
    kept), a Content-Length unless ``content_length`` is false, then ``body``."""
    phrase = _REASONS.get(status, "Status") if reason is None else reason
    lines = [f"{version} {status} {phrase}".encode("latin-1")]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
    if content_length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return eol.join(lines) + eol + eol + body


def ok(marker: str, headers: Iterable[tuple[str, str]] = (), padding: int = 0) -> bytes:
    """A complete well-behaved 200 answer for ``marker``."""
    base = [("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", f"req-{marker[-12:]}")]
    return response(200, ok_body(marker, padding), [*base, *headers])


def chunked(body: bytes, pieces: int = 2) -> bytes:
    """``body`` in chunked framing, split in ``pieces`` chunks, with the last chunk."""
    size = max(1, -(-len(body) // pieces))
    out = bytearray()
    for start in range(0, len(body), size):
        part = body[start:start + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


MIB = 1 << 20
_SPACES = b" " * MIB


def _raw_deflate(data: bytes, mode: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(mode)


_deflated_spaces: list[bytes] = []


def gzip_padded(prefix: bytes, mebibytes: int, suffix: bytes) -> bytes:
    """A gzip member inflating to ``prefix``, ``mebibytes`` MiB of spaces and
    ``suffix`` (about 1 KB per MiB), built without holding the inflated data: raw
    deflate pieces, each ending in a full flush, spliced together."""
    if not _deflated_spaces:
        _deflated_spaces.append(_raw_deflate(_SPACES, zlib.Z_FULL_FLUSH))
    crc = zlib.crc32(prefix)
    for _ in range(mebibytes):
        crc = zlib.crc32(_SPACES, crc)
    crc = zlib.crc32(suffix, crc)
    size = (len(prefix) + mebibytes * MIB + len(suffix)) & 0xFFFFFFFF
    deflated = (_raw_deflate(prefix, zlib.Z_FULL_FLUSH) + _deflated_spaces[0] * mebibytes
                + _raw_deflate(suffix, zlib.Z_FINISH))
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + deflated + struct.pack("<II", crc, size)


def send_padded(conn: ServerConnection, prefix: bytes, mebibytes: int, suffix: bytes,
                *, chunked: bool = False) -> bool:
    """Stream ``prefix``, ``mebibytes`` MiB of spaces and ``suffix`` as a body (the
    head already sent), one MiB at a time, never building it whole; ``False`` as soon
    as the peer stops reading and closes."""
    for piece in [prefix, *([_SPACES] * mebibytes), suffix]:
        framing = (b"%x\r\n" % len(piece), b"\r\n") if chunked else (b"", b"")
        for data in (framing[0], piece, framing[1]):
            if data and not conn.send(data):
                return False
    return conn.send(b"0\r\n\r\n") if chunked else True


class _Closed(Exception):
    """The peer closed the connection (or the server is stopping)."""


class ServerConnection:
    """One accepted connection (``sock`` is an ``ssl.SSLSocket`` under TLS)."""

    def __init__(self, server: RawServer, sock: socket.socket, index: int) -> None:
        self.server = server
        self.sock = sock
        self.index = index
        self.requests_read = 0
        #: Bytes beyond a complete response were written: a request arriving after
        #: this is a reuse violation.
        self.tainted = False
        self._buffer = bytearray()

    # -- reading ---------------------------------------------------------------

    def _fill(self) -> None:
        try:
            data = self.sock.recv(65536)
        except (OSError, ValueError) as exc:
            raise _Closed from exc
        if not data:
            raise _Closed
        self._buffer += data

    def read_request(self) -> Request | None:
        """The next request, or ``None`` once the peer closed (or sent garbage)."""
        try:
            while (end := self._buffer.find(b"\r\n\r\n")) < 0:
                if len(self._buffer) > _MAX_HEAD:
                    return None
                self._fill()
            head = bytes(self._buffer[:end]).decode("latin-1")
            del self._buffer[:end + 4]
            request_line, *lines = head.split("\r\n")
            method, target, _ = [*request_line.split(" ", 2), "", ""][:3]
            headers = []
            for line in lines:
                name, _, value = line.partition(":")
                headers.append((name.strip(), value.strip()))
            lengths = [v for k, v in headers if k.lower() == "content-length"]
            is_chunked = any(k.lower() == "transfer-encoding" and "chunked" in v.lower()
                             for k, v in headers)
            if is_chunked:
                body = self._read_chunked()
            else:
                length = int(lengths[0]) if lengths else 0
                while len(self._buffer) < length:
                    self._fill()
                body = bytes(self._buffer[:length])
                del self._buffer[:length]
        except (_Closed, ValueError):
            return None
        request = Request(self.index, self.requests_read, method, target, headers, body)
        self.requests_read += 1
        self.server._record(self, request)
        return request

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            while (end := self._buffer.find(b"\r\n")) < 0:
                self._fill()
            size = int(bytes(self._buffer[:end]).split(b";")[0], 16)
            del self._buffer[:end + 2]
            while len(self._buffer) < size + 2:
                self._fill()
            body += self._buffer[:size]
            del self._buffer[:size + 2]
            if size == 0:
                return bytes(body)

    def hold(self) -> None:
        """Keep the connection open, reading and discarding, until the peer closes it
        or the server stops (a server that never finishes its answer)."""
        with contextlib.suppress(_Closed):
            while True:
                self._buffer.clear()
                self._fill()

    # -- writing ---------------------------------------------------------------

    def send(self, data: bytes) -> bool:
        """Write ``data`` (one ``sendall``; under TLS, one record when it is 16 KiB or
        less); ``False`` when the peer is gone."""
        try:
            self.sock.sendall(data)
        except (OSError, ValueError):
            return False
        return True

    def taint(self) -> None:
        """Say that bytes beyond a complete response were (or are about to be) written."""
        self.tainted = True

    def reset(self) -> None:
        """Close with a TCP reset (RST), not a FIN."""
        with contextlib.suppress(OSError):
            socket.socket.setsockopt(self.sock, socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def shutdown(self) -> None:
        """Unblock a thread waiting on this socket (used by ``RawServer.stop``)."""
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)


#: Answers one request; returns whether the connection may serve another.
Responder = Callable[[Request, ServerConnection], bool]
#: Runs one whole connection.
Script = Callable[[ServerConnection], None]


def serve_requests(responder: Responder) -> Script:
    """The script that reads requests one after another and lets ``responder`` answer
    each (flagging a request that arrives on a tainted connection)."""

    def script(conn: ServerConnection) -> None:
        while True:
            request = conn.read_request()
            if request is None:
                return
            if not responder(request, conn):
                return

    return script


def _well_behaved(request: Request, conn: ServerConnection) -> bool:
    return conn.send(ok(request.text))


@dataclass
class _Stats:
    open: int = 0
    max_open: int = 0
    accepted: int = 0
    requests: list[Request] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    handshake_failures: int = 0


class RawServer:
    """The server: ``RawServer(responder)`` or ``RawServer(script=...)``, optionally
    ``tls=`` a server-side ``ssl.SSLContext``; a context manager (``start``/``stop``).
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        script: Script | None = None,
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        if script is None:
            script = serve_requests(responder or _well_behaved)
        self._script = script
        self._tls = tls
        self.host = host
        self.port = 0
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._connections: list[ServerConnection] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._stats = _Stats()
        #: Set whenever a request has been read (tests may wait on it).
        self.request_seen = threading.Event()

    # -- what tests read -------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._stats.requests)

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._stats.violations)

    @property
    def max_open(self) -> int:
        with self._lock:
            return self._stats.max_open

    @property
    def open_connections(self) -> int:
        with self._lock:
            return self._stats.open

    @property
    def accepted(self) -> int:
        with self._lock:
            return self._stats.accepted

    def _record(self, conn: ServerConnection, request: Request) -> None:
        with self._lock:
            self._stats.requests.append(request)
            if conn.tainted:
                self._stats.violations.append(
                    f"request {request.index} on connection {conn.index} arrived after "
                    f"unread bytes were sent on it (text {request.text!r})"
                )
        self.request_seen.set()

    # -- life cycle -----------------------------------------------------------

    def start(self) -> RawServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(256)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._accept_thread = threading.Thread(target=self._accept, name="rawserver-accept",
                                               daemon=True)
        self._accept_thread.start()
        return self

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        index = 0
        while not self._stopping.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            if self._stopping.is_set():
                sock.close()
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._run, args=(sock, index),
                                      name=f"rawserver-conn-{index}", daemon=True)
            index += 1
            with self._lock:
                self._threads.append(thread)
                self._stats.accepted += 1
            thread.start()

    def _run(self, sock: socket.socket, index: int) -> None:
        conn = ServerConnection(self, sock, index)
        with self._lock:
            if self._stopping.is_set():
                conn.close()
                return
            self._connections.append(conn)
            self._stats.open += 1
            self._stats.max_open = max(self._stats.max_open, self._stats.open)
        try:
            if self._tls is not None:
                try:
                    sock.settimeout(10)
                    conn.sock = self._tls.wrap_socket(sock, server_side=True)
                    conn.sock.settimeout(None)
                except (OSError, ValueError):
                    with self._lock:
                        self._stats.handshake_failures += 1
                    return
            self._script(conn)
        except (OSError, ValueError):
            pass  # the peer went away mid-script
        finally:
            with self._lock:
                self._stats.open -= 1
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        listener = self._listener
        if listener is not None:
            with contextlib.suppress(OSError):  # wake accept()
                socket.create_connection((self.host, self.port), timeout=1).close()
            if self._accept_thread is not None:
                self._accept_thread.join(5)
            listener.close()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._threads)
        for conn in connections:
            conn.shutdown()
        for thread in threads:
            thread.join(5)
        for conn in connections:
            conn.close()

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
