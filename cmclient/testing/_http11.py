"""HTTP/1.1 requests read strictly, and responses framed, for the loopback server.

The rules of RFC 9112 the server relies on, apart from its sockets and its event
loop: ``read_request`` reads one request from a ``Reader`` (a bounded buffer over an
``asyncio.StreamReader``) or raises ``Reject`` with the status to answer;
``encode_response`` frames an answer. Where a message could be read two ways (a
``Content-Length`` with ``Transfer-Encoding``, two lengths, a bare CR), it is refused,
never guessed: a mock that guesses differently from the real front end would let a
client bug pass its tests.

* 400 for anything malformed: request line, header syntax (no colon, whitespace
  before it, obsolete line folding, control characters), a missing, repeated or
  invalid ``Host`` (``h:99999999``, ``[::1``), a ``Content-Length`` that is not
  ASCII digits (``str.isdigit`` accepts ``"²"``) or that disagrees with another, a
  ``Content-Length`` together with ``Transfer-Encoding``, a bad chunk size (``-1``),
  a body cut short;
* 408 when the rest of a request stops arriving for the read timeout (the head once
  it has begun, or the body); the wait for a new request's first byte has no limit;
* 413 for a body over ``MAX_BODY``; 414 for a request line over ``MAX_LINE``; 431 for
  a header line over ``MAX_LINE``, a head over ``MAX_HEAD`` or more than
  ``MAX_HEADERS`` fields; 501 for a transfer coding other than chunked; 505 for an
  HTTP version other than 1.0 and 1.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import urlsplit

from cmclient.testing._exchange import MockRequest, MockResponse

__all__ = [
    "MAX_BODY",
    "MAX_HEAD",
    "MAX_HEADERS",
    "MAX_LINE",
    "READ_SIZE",
    "Reader",
    "Reject",
    "encode_response",
    "phrase",
    "read_request",
    "reject_response",
]

MAX_BODY = 1 << 20  # the service's largest request is far smaller
MAX_LINE = 32 * 1024  # one request line or header line, line ending included
MAX_HEAD = 64 * 1024  # the request line and every header line together
MAX_HEADERS = 100
MAX_EMPTY_LINES = 16  # before a request line (RFC 9112 section 2.2 allows some)
READ_SIZE = 64 * 1024

_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
_TARGET = re.compile(rb"[\x21-\x7e]+")
_HEAD_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]+")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")
_HOST = re.compile(
    r"(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._~!$&'()*+,;=%-]*))"
    r"(?::(?P<port>[0-9]*))?"
)


class Reject(Exception):
    """The request cannot be served: answer ``status`` and close the connection."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Closed(Exception):
    """The client closed its side; ``midway`` when it did so inside a request."""

    def __init__(self, midway: bool) -> None:
        super().__init__(midway)
        self.midway = midway


def _head_end(buffer: bytearray, start: int) -> tuple[int, int] | None:
    """Where the empty line ending a head begins and ends (``\\r?\\n\\r?\\n``), or
    None. Two C-level finds rather than a regex: this runs for every request."""
    crlf = buffer.find(b"\n\r\n", start)
    lf = buffer.find(b"\n\n", start, None if crlf < 0 else crlf + 1)
    if lf >= 0:
        first, end = lf, lf + 2
    elif crlf >= 0:
        first, end = crlf, crlf + 3
    else:
        return None
    return (first - 1 if first and buffer[first - 1] == 0x0D else first), end


class Reader:
    """A buffer over the stream with the reads HTTP/1.1 needs, each one bounded.

    Reading happens in large pieces and lines are found in the buffer, so a line
    never grows past its limit in memory and pipelined requests are kept for later.
    Every wait for more bytes of a request already begun is bounded by
    ``timeout``; only the wait for a new request's first byte is not.
    """

    def __init__(self, reader: asyncio.StreamReader, timeout: float) -> None:
        self._reader = reader
        self._buffer = bytearray()
        self._timeout = timeout

    async def _fill(self, *, idle: bool) -> None:
        read = self._reader.read(READ_SIZE)
        try:
            data = await (read if idle else asyncio.wait_for(read, self._timeout))
        except asyncio.TimeoutError:
            raise Reject(408) from None
        if not data:
            raise _Closed(midway=not idle)
        self._buffer += data

    async def head(self) -> bytes:
        """The next request's head without the empty line that ends it (line endings
        LF or CRLF). Empty lines before it are skipped, a few (RFC 9112 section 2.2);
        a head over ``MAX_HEAD`` is 414 when its request line alone is too long, else
        431. Waiting for its first byte has no time limit."""
        searched = skipped = 0
        while True:
            while self._buffer[:1] == b"\n" or self._buffer[:2] == b"\r\n":
                del self._buffer[:1 if self._buffer[:1] == b"\n" else 2]
                skipped += 1
                searched = 0
                if skipped > MAX_EMPTY_LINES:
                    raise Reject(400)
            found = _head_end(self._buffer, max(0, searched - 3))
            if found is not None:
                start, end = found
                if start > MAX_HEAD:
                    raise Reject(self._too_long())
                raw = bytes(self._buffer[:start])
                del self._buffer[:end]
                return raw
            if len(self._buffer) > MAX_HEAD:
                raise Reject(self._too_long())
            searched = len(self._buffer)
            await self._fill(idle=not self._buffer)

    def _too_long(self) -> int:
        first = self._buffer.find(b"\n", 0, MAX_LINE + 1)
        return 414 if first < 0 else 431

    async def line(self, limit: int, too_long: int) -> bytes:
        """One line of a body (chunk sizes, trailers), its ending (LF, or CRLF)
        included; ``too_long`` when longer than ``limit`` bytes."""
        searched = 0
        while True:
            end = self._buffer.find(b"\n", searched)
            if end >= 0:
                if end + 1 > limit:
                    raise Reject(too_long)
                line = bytes(self._buffer[:end + 1])
                del self._buffer[:end + 1]
                return line
            if len(self._buffer) >= limit:
                raise Reject(too_long)
            searched = len(self._buffer)
            await self._fill(idle=False)

    async def exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            await self._fill(idle=False)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def _request_line(line: bytes) -> tuple[str, str, tuple[int, int]]:
    parts = line.split(b" ")
    if len(parts) != 3:
        raise Reject(400)
    method, target, version = parts
    if not _TOKEN.fullmatch(method) or not _TARGET.fullmatch(target):
        raise Reject(400)
    numbers = _VERSION.fullmatch(version)
    if numbers is None:
        raise Reject(400)
    major, minor = int(numbers[1]), int(numbers[2])
    if (major, minor) not in ((1, 0), (1, 1)):
        raise Reject(505)
    return method.decode("ascii"), _origin_form(target.decode("ascii")), (major, minor)


def _origin_form(target: str) -> str:
    """The path and query of a request target (absolute form is accepted, as RFC 9112
    section 3.2.2 requires of a server, and reduced to what the handler sees)."""
    if target.startswith("/"):
        return target
    if target.lower().startswith(("http://", "https://")):
        try:
            parts = urlsplit(target)
        except ValueError:
            raise Reject(400) from None
        path = parts.path or "/"
        return f"{path}?{parts.query}" if parts.query else path
    if target == "*":
        return target
    raise Reject(400)


def _valid_host(value: str) -> bool:
    match = _HOST.fullmatch(value)
    if match is None:
        return False
    if match["ip6"] is not None:
        try:
            ipaddress.IPv6Address(match["ip6"])
        except ValueError:
            return False
    port = match["port"]
    return not port or int(port) <= 65535


class _Head:
    """A request head, parsed: request line, fields in order, and fields by
    lower-case name (every line of a repeated name)."""

    def __init__(self, raw: bytes) -> None:
        if _HEAD_CONTROLS.search(raw) or raw.count(b"\r") != raw.count(b"\r\n"):
            # A bare CR could be read as a line break by another parser and smuggle a
            # field past us; NUL and other controls have no place in a head.
            raise Reject(400)
        lines = raw.replace(b"\r\n", b"\n").split(b"\n")
        if len(lines[0]) > MAX_LINE:
            raise Reject(414)
        if len(lines) - 1 > MAX_HEADERS:
            raise Reject(431)
        self.method, self.target, self.version = _request_line(lines[0])
        self.pairs: list[tuple[str, str]] = []
        self.fields: dict[str, list[str]] = {}
        for line in lines[1:]:
            if len(line) > MAX_LINE:
                raise Reject(431)
            if line[:1] in (b" ", b"\t"):
                raise Reject(400)  # obsolete line folding
            name, sep, value = line.partition(b":")
            if not sep or not _TOKEN.fullmatch(name):
                raise Reject(400)  # includes whitespace between the name and the colon
            key, text = name.decode("ascii"), value.strip(b" \t").decode("latin-1")
            self.pairs.append((key, text))
            self.fields.setdefault(key.lower(), []).append(text)

    def values(self, name: str) -> list[str]:
        """Every element of a list-valued field, over all its lines, empties dropped."""
        return [item.strip() for value in self.fields.get(name, ())
                for item in value.split(",") if item.strip()]


class _Framing:
    """How the body is delimited: ``chunked``, else ``length`` bytes."""

    def __init__(self, head: _Head) -> None:
        self.chunked = False
        self.length = 0
        if "transfer-encoding" in head.fields:
            codings = [c.lower() for c in head.values("transfer-encoding")]
            if ("content-length" in head.fields or head.version < (1, 1) or not codings
                    or codings[-1] != "chunked"):
                raise Reject(400)  # RFC 9112 sections 6.1 and 6.3: never guess
            if len(codings) > 1:
                raise Reject(501)  # a coding we do not implement before chunked
            self.chunked = True
        elif "content-length" in head.fields:
            lengths = head.values("content-length")
            if not lengths or any(not _DIGITS.fullmatch(v) for v in lengths) or len(
                {int(v) for v in lengths}
            ) != 1:
                raise Reject(400)
            self.length = int(lengths[0])
            if self.length > MAX_BODY:
                raise Reject(413)

    @property
    def has_body(self) -> bool:
        return self.chunked or self.length > 0


def _strip_eol(line: bytes) -> bytes:
    """A line read by ``Reader.line`` without its ending; a CR anywhere else is
    refused, as in a head."""
    body = line[:-2] if line.endswith(b"\r\n") else line[:-1]
    if b"\r" in body:
        raise Reject(400)
    return body


async def _chunked_body(source: Reader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = _strip_eol(await source.line(MAX_LINE, 400))
        size_text = size_line.split(b";", 1)[0].strip(b" \t")
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise Reject(400)
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > MAX_BODY:
            raise Reject(413)
        chunks.append(await source.exactly(size))
        if _strip_eol(await source.line(2, 400)):
            raise Reject(400)  # chunk data longer than its size said
    trailer = 0
    while True:  # trailer fields: bounded, then ignored
        line = await source.line(MAX_LINE, 431)
        trailer += len(line)
        if trailer > MAX_HEAD:
            raise Reject(431)
        if not _strip_eol(line):
            return b"".join(chunks)


async def read_request(
    source: Reader, send_continue: Callable[[], None]
) -> tuple[MockRequest, bool] | None:
    """The next request and whether the connection closes after it; None when the
    client closed an idle connection."""
    try:
        raw = await source.head()
    except _Closed as closed:
        if closed.midway:
            raise Reject(400) from None
        return None
    head = _Head(raw)
    hosts = head.fields.get("host", [])
    if len(hosts) > 1 or (head.version >= (1, 1) and not hosts) or (
        hosts and not _valid_host(hosts[0])
    ):
        raise Reject(400)
    framing = _Framing(head)
    close = head.version < (1, 1) or "close" in {t.lower() for t in head.values("connection")}
    if framing.has_body and head.version >= (1, 1) and "100-continue" in {
        e.lower() for e in head.values("expect")
    }:
        send_continue()  # only now that the head is known to be acceptable
    try:
        body = (await _chunked_body(source) if framing.chunked
                else await source.exactly(framing.length))
    except _Closed:
        raise Reject(400) from None
    return MockRequest(head.method, head.target, tuple(head.pairs), body), close


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


def encode_response(answer: MockResponse, method: str, close: bool) -> bytes:
    """The response's bytes. The server frames every answer itself (Content-Length,
    Connection), except that the answer to HEAD keeps a Content-Length its handler
    gave (the size of what GET would send) and has no body."""
    head = [f"HTTP/1.1 {answer.status} {phrase(answer.status)}"]
    head += [f"{k}: {v}" for k, v in answer.headers if k.lower() not in _FRAMING_HEADERS]
    bodiless = answer.status < 200 or answer.status in (204, 304)
    if not bodiless:
        given = [v for k, v in answer.headers if k.lower() == "content-length"]
        length = given[0] if method == "HEAD" and given else str(len(answer.body))
        head.append(f"Content-Length: {length}")
    if close:
        head.append("Connection: close")
    send_body = not bodiless and method != "HEAD"
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (
        answer.body if send_body else b"")


def reject_response(status: int) -> bytes:
    """The answer to a request refused with ``Reject``: a status line, no body, and
    the connection closed after it."""
    return (f"HTTP/1.1 {status} {phrase(status)}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n").encode("ascii")
