"""Response framing: a malformed or ambiguous response head or body is refused, never
guessed at (RFC 9112 section 6.3), the same way by both pools (issue 12, defect 7, and
the cases that already held).

Each case answers one request badly and two more well, through both pools over TCP and
TLS and through aiohttp. After a bad head the server keeps the connection open and
silent, so a client that does not reject it waits for its read timeout: that counts as
a failure too (``RawCase.prompt``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from tests.helpers.rawserver import (
    Request,
    Responder,
    ServerConnection,
    chunked,
    ok,
    ok_body,
    response,
)
from tests.http.adversarial._harness import RawCase, Tls, case_params, check_case, tls_for

RIGHT = frozenset({"right"})
ERROR = frozenset({"error"})
EITHER = frozenset({"right", "error"})
JSON = ("Content-Type", "application/x-amz-json-1.1")

#: The bytes of a (mis)answer, from the request's text.
Build = Callable[[str], bytes]


def then_hold(*, close: bool = False, reset: bool = False) -> Responder:
    """Answer nothing: keep the connection open and silent, or close it (FIN), or
    reset it (RST)."""

    def respond(request: Request, conn: ServerConnection) -> bool:
        if reset:
            conn.reset()
        elif not close:
            conn.hold()
        return False

    return respond


def head_then_hold(build: Build, *, close: bool = False, keep_serving: bool = False,
                   taint: bool = False) -> Responder:
    """Write ``build(text)`` (the bytes for this request), then hold/close, or go on
    serving the connection (``keep_serving``)."""

    def respond(request: Request, conn: ServerConnection) -> bool:
        if taint:
            conn.taint()
        conn.send(build(request.text))
        if keep_serving:
            return True
        if not close:
            conn.hold()
        return False

    return respond


def with_headers(headers: Iterable[tuple[str, str]], *, content_length: bool = True,
                 framed: bool = False) -> Build:
    """The right body for the text, under ``headers`` (``framed``: chunked body)."""
    fixed = list(headers)

    def build(text: str) -> bytes:
        body = ok_body(text)
        if framed:
            body = chunked(body)
        return response(200, body, [JSON, *fixed], content_length=content_length)

    return build


def conflicting_lengths(text: str) -> bytes:
    body = ok_body(text)
    return response(200, body, [JSON, ("Content-Length", str(len(body))),
                                ("Content-Length", str(len(body) + 7))], content_length=False)


def length_value(value: Callable[[int], str]) -> Build:
    """The answer with Content-Length written as ``value(len)``."""

    def build(text: str) -> bytes:
        body = ok_body(text)
        return response(200, body, [JSON, ("Content-Length", value(len(body)))],
                        content_length=False)

    return build


def bare_cr_header(text: str) -> bytes:
    """A header line with a bare CR that, split there, injects another header."""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"X-Note: a\rX-Injected: yes\r\n" + _length_and_body(text))


def _length_and_body(text: str) -> bytes:
    body = ok_body(text)
    return b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


def cl_plus_chunked(text: str) -> bytes:
    body = chunked(ok_body(text))
    return response(200, body, [JSON, ("Content-Length", "10"),
                                ("Transfer-Encoding", "chunked")], content_length=False)


def status_line(line: bytes) -> Build:
    def build(text: str) -> bytes:
        return line + b"\r\nContent-Type: application/x-amz-json-1.1\r\n" + _length_and_body(text)

    return build


def http10_close_delimited(text: str) -> bytes:
    return b"HTTP/1.0 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n\r\n" + ok_body(text)


def http11_close_delimited(text: str) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n\r\n" + ok_body(text)


def folded_header(text: str) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"X-Folded: first part\r\n   continued here\r\n" + _length_and_body(text))


def lf_only(text: str) -> bytes:
    return response(200, ok_body(text), [JSON], eol=b"\n")


def huge_header_line(text: str) -> bytes:
    return response(200, ok_body(text), [JSON, ("X-Big", "a" * (1 << 20))])


def many_headers(text: str) -> bytes:
    return response(200, ok_body(text), [JSON, *((f"X-H{i}", "v") for i in range(1000))])


def cut_body(text: str) -> bytes:
    body = ok_body(text)
    return response(200, body, [JSON])[:-(len(body) // 2)]


def cut_head(text: str) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/x-am"


def cut_chunked(text: str) -> bytes:
    body = chunked(ok_body(text), pieces=3)
    return response(200, body, [JSON, ("Transfer-Encoding", "chunked")],
                    content_length=False)[:-20]


def chunk_size(size: bytes) -> Build:
    def build(text: str) -> bytes:
        body = ok_body(text)
        return (response(200, b"", [JSON, ("Transfer-Encoding", "chunked")],
                         content_length=False)
                + size + b"\r\n" + body + b"\r\n0\r\n\r\n")

    return build


def reset_mid_body(request: Request, conn: ServerConnection) -> bool:
    conn.send(ok(request.text)[:-10])
    conn.reset()
    return False


def http10_keepalive_absent(request: Request, conn: ServerConnection) -> bool:
    """An HTTP/1.0 answer without keep-alive: the connection ends with it, so a request
    arriving on it afterwards means the client reused it."""
    conn.send(response(200, ok_body(request.text), [JSON], version="HTTP/1.0"))
    conn.taint()
    return True


def close_but_read_on(request: Request, conn: ServerConnection) -> bool:
    """An answer that says ``Connection: close``, on a connection the server then goes
    on reading: a request arriving on it means the client reused it."""
    conn.send(ok(request.text, [("Connection", "close")]))
    conn.taint()
    return True


CASES = [
    # -- defect 7: the sync parser was more lenient than the async one --------------
    RawCase("conflicting Content-Length headers", head_then_hold(conflicting_lengths),
            ERROR, defect="7"),
    RawCase("bare CR inside a header line", head_then_hold(bare_cr_header), ERROR,
            defect="7"),
    RawCase("Content-Length: -1", head_then_hold(length_value(lambda n: "-1")), ERROR,
            defect="7"),
    RawCase("Content-Length: abc", head_then_hold(length_value(lambda n: "abc")), ERROR,
            defect="7"),
    RawCase("Content-Length: ²", head_then_hold(length_value(lambda n: "\u00b2")), ERROR,
            defect="7"),
    RawCase("Content-Length: ² (UTF-8)",
            head_then_hold(length_value(lambda n: "\u00c2\u00b2")), ERROR, defect="7"),
    RawCase("Content-Length: +N", head_then_hold(length_value(lambda n: f"+{n}")), ERROR,
            defect="7"),
    RawCase("Content-Length: N with an underscore",
            head_then_hold(length_value(lambda n: f"{str(n)[0]}_{str(n)[1:]}")), ERROR,
            defect="7"),
    RawCase("Transfer-Encoding: foo, chunked",
            head_then_hold(with_headers([("Transfer-Encoding", "foo, chunked")],
                                        content_length=False, framed=True)),
            ERROR, defect="7"),
    RawCase("Transfer-Encoding: chunked, foo",
            head_then_hold(with_headers([("Transfer-Encoding", "chunked, foo")],
                                        content_length=False, framed=True)),
            ERROR, defect="7"),
    RawCase("chunk size -1", head_then_hold(chunk_size(b"-1")), ERROR, defect="7"),
    RawCase("chunk size not hex", head_then_hold(chunk_size(b"zz")), ERROR, defect="7"),
    # -- defect 6: caps on the head ---------------------------------------------------
    RawCase("1 MB header line", head_then_hold(huge_header_line), ERROR, defect="6"),
    RawCase("1000 header lines (12 KB)", head_then_hold(many_headers), ERROR, defect="6"),
    # -- the cases that already held ------------------------------------------------
    RawCase("Content-Length plus chunked", head_then_hold(cl_plus_chunked, keep_serving=True),
            ERROR),
    RawCase("garbage status line", head_then_hold(status_line(b"NONSENSE")), ERROR),
    RawCase("status code not 3 digits", head_then_hold(status_line(b"HTTP/1.1 2000 OK")),
            ERROR),
    RawCase("HTTP/2.0 status line", head_then_hold(status_line(b"HTTP/2.0 200 OK")),
            ERROR, defect="7"),
    RawCase("status line without a reason", head_then_hold(status_line(b"HTTP/1.1 200"),
                                                           keep_serving=True), EITHER),
    RawCase("HTTP/1.0 answer, no keep-alive", http10_keepalive_absent, RIGHT),
    RawCase("Connection: close, server reads on", close_but_read_on, RIGHT),
    RawCase("101 Switching Protocols unasked",
            head_then_hold(lambda text: response(101, headers=[("Upgrade", "foo")],
                                                 content_length=False) + ok(text)), ERROR),
    RawCase("HTTP/1.0 answer delimited by close",
            head_then_hold(http10_close_delimited, close=True), RIGHT),
    RawCase("HTTP/1.1 answer delimited by close",
            head_then_hold(http11_close_delimited, close=True), EITHER),
    RawCase("folded header (obs-fold)", head_then_hold(folded_header, keep_serving=True),
            EITHER),
    RawCase("LF-only line endings", head_then_hold(lf_only, keep_serving=True), EITHER),
    RawCase("body cut short, then close", head_then_hold(cut_body, close=True), ERROR),
    RawCase("head cut short, then close", head_then_hold(cut_head, close=True), ERROR),
    RawCase("chunked body cut short, then close", head_then_hold(cut_chunked, close=True),
            ERROR),
    RawCase("close before any byte", then_hold(close=True), ERROR),
    RawCase("reset before any byte", then_hold(reset=True), ERROR),
    RawCase("server resets mid-body", reset_mid_body, ERROR),
]


@pytest.mark.parametrize(("case", "pool", "transport"), case_params(CASES))
def test_framing_case(case: RawCase, pool: str, transport: str, tls_material: Tls) -> None:
    check_case(case, pool, transport, tls_for(transport, tls_material))
