"""The pure rules both pools follow (``cmclient._http.rules``): what response heads
are refused, how a body is framed, which header values may be sent."""

from __future__ import annotations

import os

import pytest

from cmclient._http import rules
from cmclient._http.rules import CHUNKED, NO_BODY, UNTIL_CLOSE, BadResponse, body_framing

CL = b"Content-Length"
TE = b"Transfer-Encoding"


@pytest.mark.parametrize(("status", "method", "headers", "framing"), [
    (200, "POST", [(CL, b"12")], 12),
    (200, "POST", [(CL, b"12"), (b"content-length", b"12")], 12),  # repeated, equal
    (200, "POST", [(CL, b"12, 12")], 12),
    (200, "POST", [(TE, b"chunked")], CHUNKED),
    (200, "POST", [(TE, b" Chunked ")], CHUNKED),
    (200, "POST", [], UNTIL_CLOSE),
    (204, "POST", [], NO_BODY),
    (304, "GET", [(CL, b"5")], NO_BODY),
    (200, "HEAD", [(CL, b"5")], NO_BODY),
])
def test_unambiguous_heads_are_framed(status: int, method: str,
                                      headers: list[tuple[bytes, bytes]], framing: int) -> None:
    assert body_framing(status, method, headers) == framing


@pytest.mark.parametrize("headers", [
    [(CL, b"5"), (CL, b"6")],
    [(CL, b"5, 6")],
    [(CL, b"-1")],
    [(CL, b"+5")],
    [(CL, b"0x10")],
    [(CL, "²".encode())],  # a digit to str.isdigit(), not a decimal number
    [(CL, b"")],
    [(CL, b"1" * 19)],
    [(TE, b"foo, chunked")],  # aiohttp accepts this one
    [(TE, b"gzip")],
    [(TE, b"chunked"), (TE, b"chunked")],
    [(TE, b"chunked"), (CL, b"5")],
    [(b"X-%d" % i, b"v") for i in range(rules.MAX_HEADERS + 1)],
], ids=lambda h: repr(h[:2]))
def test_ambiguous_heads_are_refused(headers: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(BadResponse):
        body_framing(200, "POST", headers)


@pytest.mark.parametrize("line", [b"X-A: b\r\n", b"X-A: b\n", b"HTTP/1.1 200 OK\r\n", b"\r\n", b""])
def test_ordinary_lines_pass(line: bytes) -> None:
    rules.check_head_line(line)


@pytest.mark.parametrize("line", [b"X-A: b\rInjected: yes\r\n", b"X-A: \x00\r\n", b"X-A: b\r\r\n"])
def test_a_bare_cr_or_nul_in_a_line_is_refused(line: bytes) -> None:
    with pytest.raises(BadResponse, match="bare CR or a NUL"):
        rules.check_head_line(line)


@pytest.mark.parametrize(("line", "size"), [
    (b"0\r\n", 0), (b"1a\r\n", 26), (b"FF;name=value\r\n", 255), (b"10 \r\n", 16), (b"5\n", 5),
])
def test_chunk_sizes_are_read_as_hex(line: bytes, size: int) -> None:
    assert rules.chunk_size(line) == size


@pytest.mark.parametrize("line", [b"-1\r\n", b"+1\r\n", b"\r\n", b" 1\r\n", b"1_0\r\n", b"g\r\n",
                                  b"1" * 17 + b"\r\n", b"0x1\r\n"])
def test_bad_chunk_sizes_are_refused(line: bytes) -> None:
    with pytest.raises(BadResponse, match="chunk size"):
        rules.chunk_size(line)


@pytest.mark.parametrize(("version", "ok"), [(b"1.1", True), (b"1.0", True), (b"2.0", False),
                                             (b"0.9", False), (b"1.2", False)])
def test_only_http_1_0_and_1_1_are_spoken(version: bytes, ok: bool) -> None:
    if ok:
        rules.check_version(version)
    else:
        with pytest.raises(BadResponse):
            rules.check_version(version)


def test_interim_responses_are_1xx_but_101() -> None:
    assert [s for s in range(90, 210) if rules.is_interim(s)] == [100, *range(102, 200)]


@pytest.mark.parametrize(("keep_alive", "leftover", "reusable"), [
    (True, False, True), (True, True, False), (False, False, False), (False, True, False),
])
def test_a_connection_with_leftover_bytes_is_never_reused(keep_alive: bool, leftover: bool,
                                                          reusable: bool) -> None:
    assert rules.reusable(keep_alive, leftover) is reusable


def test_unsafe_header_names_the_header_not_the_value() -> None:
    assert rules.unsafe_header([(b"a", b"ok"), (b"X-Amz-Security-Token", b"tok\n")]) == \
        b"X-Amz-Security-Token"
    assert rules.unsafe_header([(b"a", b"ok\tstill ok")]) is None
    for bad in (b"x\r", b"x\n", b"x\x00y"):
        assert rules.unsafe_header([(b"h", bad)]) == b"h"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_the_fork_generation_moves_in_a_child_only() -> None:
    before = rules.fork_generation()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child reports its generation and leaves at once
        os.write(write, str(rules.fork_generation()).encode())
        os._exit(0)
    os.close(write)
    child = int(os.read(read, 32))
    os.close(read)
    os.waitpid(pid, 0)
    assert child == before + 1
    assert rules.fork_generation() == before
