"""The mock service's server, sent what a hostile or broken client sends: every request
gets a clean 4xx (408 for a body that stalls past the read timeout), never a dropped
connection, and the server keeps serving (issue 12, defect 11).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from cmclient.testing import ComprehendMedicalMock

TARGET = "ComprehendMedical_20181030.DetectEntitiesV2"


def _signed_looking(host: str, body: bytes, *, extra: str = "") -> bytes:
    """A request with a well-formed, current SigV4 Authorization (its signature is not
    checked by a mock without ``credentials``)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    authorization = (f"AWS4-HMAC-SHA256 Credential=AKIDMOCK/{stamp[:8]}/us-east-1/"
                     f"comprehendmedical/aws4_request, SignedHeaders=host;x-amz-date, "
                     f"Signature={'0' * 64}")
    head = (f"POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Date: {stamp}\r\n"
            f"Authorization: {authorization}\r\nX-Amz-Target: {TARGET}\r\n"
            f"Content-Type: application/x-amz-json-1.1\r\n{extra}")
    if "Content-Length" not in extra and "Transfer-Encoding" not in extra:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode("latin-1") + b"\r\n" + body


def nested_json(host: str) -> bytes:
    return _signed_looking(host, b'{"Text": ' + b"[" * 10_000 + b"]" * 10_000 + b"}")


def superscript_length(host: str) -> bytes:
    return _signed_looking(host, b"{}", extra="Content-Length: \u00b2\r\n")


def chunk_size_minus_one(host: str) -> bytes:
    return _signed_looking(host, b"-1\r\n{}\r\n0\r\n\r\n", extra="Transfer-Encoding: chunked\r\n")


def long_header_line(host: str) -> bytes:
    return _signed_looking(host, b"{}", extra=f"X-Long: {'a' * 70_000}\r\n")


def long_request_line(host: str) -> bytes:
    return f"POST /{'a' * 70_000} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n\r\n{{}}".encode()


def host_port_out_of_range(host: str) -> bytes:
    return _signed_looking("h:99999999", b"{}")


def host_unclosed_bracket(host: str) -> bytes:
    return _signed_looking("[::1", b"{}")


CASES: dict[str, tuple[Callable[[str], bytes], bool]] = {
    # name: (request, whether the mock checks signatures)
    "JSON nested 10,000 deep": (nested_json, False),
    "Content-Length: ²": (superscript_length, False),
    "chunk size -1": (chunk_size_minus_one, False),
    "header line over 64 KiB": (long_header_line, False),
    "request line over 64 KiB": (long_request_line, False),
    "Host: h:99999999 with credentials": (host_port_out_of_range, True),
    "Host: [::1 with credentials": (host_unclosed_bracket, True),
}


def _exchange(url: str, data: bytes, *, timeout: float = 5.0) -> bytes:
    """Send ``data``; what the server answers (its status line), b"" if it hung up."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # it may answer and close before reading all
            sock.sendall(data)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while b"\r\n" not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
    return received.split(b"\r\n", 1)[0]


def _still_serving(url: str) -> bytes:
    host = url.removeprefix("http://")
    return _exchange(url, _signed_looking(host, b'{"Text": "still there"}'))


@pytest.mark.parametrize("name", list(CASES))
def test_the_mock_server_answers_a_hostile_request_with_a_4xx(name: str) -> None:
    build, checks_signatures = CASES[name]
    mock = ComprehendMedicalMock(credentials={"AKIDMOCK": "mock-secret"}
                                 if checks_signatures else None)
    with mock.serve() as url:
        status = _exchange(url, build(url.removeprefix("http://")))
        after = _still_serving(url)
    assert status.startswith(b"HTTP/1.1 4"), f"answered {status!r}"
    assert after.startswith(b"HTTP/1.1 "), f"then answered {after!r}"


def test_the_mock_server_answers_a_stalled_body_with_408_after_its_read_timeout() -> None:
    with ComprehendMedicalMock().serve(read_timeout=0.5) as url:
        host = url.removeprefix("http://")
        status = _exchange(url, _signed_looking(host, b'{"Te', extra="Content-Length: 100\r\n"))
        after = _still_serving(url)
    assert status.startswith(b"HTTP/1.1 408"), f"answered {status!r}"
    assert after.startswith(b"HTTP/1.1 "), f"then answered {after!r}"
