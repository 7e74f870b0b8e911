"""``BoundedBody``: a response body read and decoded within ``max_response_bytes``,
however large the body or however far it inflates."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from cmclient import errors
from cmclient._http.body import BoundedBody

TEXT = b'{"Entities": []}' * 1000


def pieces(data: bytes, size: int = 4096) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize(("coding", "encode"), [
    ("", lambda b: b),
    ("identity", lambda b: b),
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("deflate", zlib.compress),  # zlib data, as RFC 9110 says
    ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
    ("gzip, gzip", lambda b: gzip.compress(gzip.compress(b))),
])
def test_each_coding_decodes_to_the_body(coding: str, encode: object) -> None:
    body = BoundedBody(1 << 20, coding)
    for piece in pieces(encode(TEXT)):  # type: ignore[operator]
        body.feed(piece)
    assert body.result() == TEXT


def test_a_body_over_the_limit_is_refused_while_it_arrives() -> None:
    body = BoundedBody(10_000)
    with pytest.raises(errors.ResponseTooLargeError, match="max_response_bytes=10000"):
        for piece in pieces(TEXT):
            body.feed(piece)


def test_a_content_length_over_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(errors.ResponseTooLargeError):
        BoundedBody(100, "", "101", "DetectEntitiesV2")
    BoundedBody(100, "", "100")


def test_a_gzip_bomb_stops_at_the_limit_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * (100 << 20))  # ~100 KB that inflates to 100 MB
    assert len(bomb) < 200_000
    body = BoundedBody(16 << 20, "gzip")
    tracemalloc.start()
    try:
        with pytest.raises(errors.ResponseTooLargeError):
            for piece in pieces(bomb, 64 * 1024):
                body.feed(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 << 20  # the limit and one step past it, not 100 MB


def test_an_unknown_coding_is_refused_without_echoing_much_of_it() -> None:
    with pytest.raises(errors.ConnectionClosedError, match="did not ask for") as caught:
        BoundedBody(100, "br" + "x" * 100)
    assert "x" * 30 not in str(caught.value)


def test_corrupt_compressed_data_is_a_connection_error() -> None:
    body = BoundedBody(1 << 20, "gzip")
    with pytest.raises(errors.ConnectionClosedError, match="could not be decoded"):
        body.feed(b"\x1f\x8b" + b"garbage" * 10)
        body.result()


def test_the_error_is_not_retried() -> None:
    assert errors.ResponseTooLargeError.retryable is False
    assert issubclass(errors.ResponseTooLargeError, errors.HTTPClientError)
