"""A loopback HTTP/1.1 server that misbehaves on purpose, one scripted fault per request.

Raw sockets and one thread per connection, so it can do what a well-behaved server
never does: reset a connection, cut a body short, stall, trickle bytes, send HTML or a
clock an hour ahead. Tests script the faults in order; each request takes the next one
(``default`` once the script is used up) and is recorded with its connection number,
headers and body.

    with FaultServer() as server:
        server.script(Reply(429, THROTTLED), Reply(200, b"{}"))
        client = ComprehendMedical(endpoint_url=server.url, ...)
"""

from __future__ import annotations

import calendar
import contextlib
import json
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Protocol

_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}


@dataclass
class Recorded:
    """One request as the server read it."""

    connection: int
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the request was complete

    def json(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads(self.body)
        return loaded


class Fault(Protocol):
    def perform(self, sock: socket.socket, request: Recorded, server: FaultServer) -> bool:
        """Answer (or not); return whether the connection may serve another request."""


def _head(status: int, headers: dict[str, str], length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    all_headers = {"Date": formatdate(usegmt=True), "x-amzn-RequestId": "req-fault", **headers}
    if length is not None:
        all_headers["Content-Length"] = str(length)
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def aws_error(code: str, message: str = "") -> bytes:
    return json.dumps({"__type": f"com.amazonaws.comprehendmedical#{code}",
                       "message": message}).encode()


@dataclass
class Reply:
    """A complete response."""

    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/x-amz-json-1.1"

    def perform(self, sock: socket.socket, request: Recorded, server: FaultServer) -> bool:
        headers = {"Content-Type": self.content_type, **self.headers}
        sock.sendall(_head(self.status, headers, len(self.body)) + self.body)
        return True


def throttled(code: str = "TooManyRequestsException") -> Reply:
    return Reply(429 if code == "TooManyRequestsException" else 400, aws_error(code, "Rate exceeded"))


def html_page(status: int) -> Reply:
    page = f"<html><body><h1>{status} {_REASONS.get(status, '')}</h1></body></html>".encode()
    return Reply(status, page, content_type="text/html")


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@dataclass
class ResetBeforeResponse:
    """Read the request, then reset the connection without a byte of response."""

    def perform(self, sock: socket.socket, request: Recorded, server: FaultServer) -> bool:
        _reset(sock)
        return False


@dataclass
class ResetMidResponse:
    """Send the status line and half the headers, then reset."""

    def perform(self, sock: socket.socket, request: Recorded, server: FaultServer) -> bool:
        head = _head(200, {"Content-Type": "application/x-amz-json-1.1"}, 100)
        sock.sendall(head[: len(head) // 2])
        time.sleep(0.02)
        _reset(sock)
        return False


@dataclass
class CutBody:
    """Promise a body by Content-Length, send part of it, then close the connection."""

    body: bytes = b'{"ComprehendMedicalAsyncJobProperties": {"JobId": "abc"}}'

    def perform(self, sock: socket.socket, request: Recorded, server: FaultServer) -> bool:
        sock.sendall(_head(200, {"Content-Type": "application/x-amz-json-1.1"}, len(self.body))
                     + self.body[: len(self.body) // 2])
        time.sleep(0.02)
        sock.close()
        return False


def truncated_json() -> Reply:
    """A complete 200 (Content-Length matches) whose JSON document is cut short."""
    return Reply(200, b'{"ComprehendMedicalAsyncJobProperties": {"JobId": "ab')


@dataclass
class Stall:
    """Read the request and answer nothing for ``seconds``, then close."""

    seconds: float

    def perform(self, sock: socket.socket, request: Recorded, server: FaultServer) -> bool:
        server._stopping.wait(self.seconds)
        sock.close()
        return False


@dataclass
class Trickle:
    """Send a response's body (or, with ``head``, the whole response from its first
    byte) one byte every ``interval`` seconds, until the client leaves."""

    interval: float
    body: bytes = b'{"JobId": "' + b"x" * 200 + b'"}'
    head: bool = False

    def perform(self, sock: socket.socket, request: Recorded, server: FaultServer) -> bool:
        data = _head(200, {"Content-Type": "application/x-amz-json-1.1"}, len(self.body)) + self.body
        slow = data if self.head else self.body
        try:
            sock.sendall(data[:len(data) - len(slow)])
            for i in range(len(slow)):
                if server._stopping.wait(self.interval):
                    break
                sock.sendall(slow[i:i + 1])
        except OSError:
            pass
        sock.close()
        return False


@dataclass
class CloseWithoutReply:
    """Close (FIN) without answering: what a client meets when it reuses a keep-alive
    connection the server has just dropped as idle."""

    def perform(self, sock: socket.socket, request: Recorded, server: FaultServer) -> bool:
        sock.close()
        return False


@dataclass
class SkewedClock:
    """A server whose clock is ``ahead`` seconds ahead: a request signed more than five
    minutes from its time is rejected like AWS does, with its own time in Date."""

    ahead: float = 3600.0
    ok: bytes = b"{}"

    def perform(self, sock: socket.socket, request: Recorded, server: FaultServer) -> bool:
        server_now = time.time() + self.ahead
        sent = calendar.timegm(time.strptime(request.headers["x-amz-date"], "%Y%m%dT%H%M%SZ"))
        headers = {"Date": formatdate(server_now, usegmt=True)}
        if abs(server_now - sent) > 300:
            body = aws_error("InvalidSignatureException",
                             "Signature expired: the request is now earlier than allowed.")
            return Reply(403, body, headers).perform(sock, request, server)
        return Reply(200, self.ok, headers).perform(sock, request, server)


class FaultServer:
    """The server: ``script(...)`` the faults, ``requests`` to see what arrived."""

    def __init__(self, default: Fault | None = None) -> None:
        self.default: Fault = default or Reply()
        self.requests: list[Recorded] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._connections = 0

    def script(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def __enter__(self) -> FaultServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept loop at once
        self._listener.close()
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._connections += 1
                number = self._connections
                self._open.add(sock)
            thread = threading.Thread(target=self._serve, args=(sock, number), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, sock: socket.socket, number: int) -> None:
        buffer = b""
        try:
            while not self._stopping.is_set():
                request, buffer = self._read_request(sock, buffer, number)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                    fault = self._faults.popleft() if self._faults else self.default
                if not fault.perform(sock, request, self):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._open.discard(sock)
            with contextlib.suppress(OSError):
                sock.close()

    def _read_request(
        self, sock: socket.socket, buffer: bytes, number: int
    ) -> tuple[Recorded | None, bytes]:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                return None, b""
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return None, b""
            rest += chunk
        return Recorded(number, headers, rest[:length], time.monotonic()), rest[length:]
