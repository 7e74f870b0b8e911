"""The loopback server against malformed and hostile requests (issue 12, point 11).

Every case is sent as raw bytes to a real server on 127.0.0.1 (port 0). Each must get
a clean status line (a 4xx, or 408 once a stalled request has waited
``read_timeout``), the connection must end after it, and the next connection must be
served as if nothing had happened.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest

from cmclient import Credentials
from cmclient.sigv4 import sign_request
from cmclient.testing import ComprehendMedicalMock, MockRequest, MockResponse
from cmclient.testing._server import MAX_BODY, serve

READ_TIMEOUT = 0.3
KEY, SECRET = "AKIDROBUST", "robust-secret"
TARGET = "ComprehendMedical_20181030.DetectEntitiesV2"


@pytest.fixture(scope="module")
def lenient() -> Iterator[tuple[ComprehendMedicalMock, str]]:
    mock = ComprehendMedicalMock()
    with mock.serve(read_timeout=READ_TIMEOUT) as url:
        yield mock, url


@pytest.fixture(scope="module")
def strict() -> Iterator[tuple[ComprehendMedicalMock, str]]:
    """Signatures verified, as ``cmclient mock-server --credentials`` does."""
    mock = ComprehendMedicalMock(credentials={KEY: SECRET})
    with mock.serve(read_timeout=READ_TIMEOUT) as url:
        yield mock, url


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def exchange(url: str, data: bytes, *, half_close: bool = False, wait: float = 5.0) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it."""
    with socket.create_connection(address(url), timeout=wait) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def status(response: bytes) -> int:
    line = response.split(b"\r\n", 1)[0]
    assert line.startswith(b"HTTP/1.1 "), response[:200]
    return int(line.split()[1])


def signed_head(url: str, body: bytes, *, target: str = TARGET,
                extra: str = "") -> bytes:
    """A correctly signed awsJson1_1 request head for ``body``."""
    host = url.removeprefix("http://")
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
    headers.update(sign_request("POST", url + "/", {**headers, "Host": host}, body,
                                credentials=Credentials(KEY, SECRET), region="us-east-1",
                                service="comprehendmedical",
                                timestamp=datetime.now(timezone.utc)))
    lines = [f"{k}: {v}" for k, v in headers.items()]
    return (f"POST / HTTP/1.1\r\nHost: {host}\r\n" + "\r\n".join(lines)
            + f"\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode()


def assert_still_serving(url: str) -> None:
    """A fresh connection gets a real answer from the mock."""
    body = json.dumps({"Text": "aspirin 81 mg daily"}).encode()
    answer = exchange(url, signed_head(url, body, extra="Connection: close\r\n") + body)
    assert status(answer) == 200, answer[:300]
    assert b'"aspirin"' in answer


def plain(url: str, head: str, body: bytes = b"") -> bytes:
    host = url.removeprefix("http://")
    return head.replace("{host}", host).encode("latin-1") + body


# --- framing and syntax: answered, connection closed, next connection served ---------

CASES = [
    # (id, raw request with {host} for the server's address, expected status)
    ("content-length-superscript-two-latin1",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: \xb2\r\n\r\nxx", 400),
    ("content-length-superscript-two-utf8",
     "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: ²\r\n\r\nxx".encode(), 400),
    ("content-length-arabic-indic-digit",
     "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: ١\r\n\r\nx".encode(), 400),
    ("content-length-negative",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: -1\r\n\r\n", 400),
    ("content-length-plus-sign",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: +2\r\n\r\n{}", 400),
    ("content-length-conflicting-list",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2, 3\r\n\r\n{}", 400),
    ("content-length-conflicting-fields",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
     400),
    ("content-length-too-large",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: " + str(MAX_BODY + 1).encode()
     + b"\r\n\r\n", 413),
    ("content-length-and-chunked",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400),
    ("chunk-size-minus-one",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n{}\r\n"
     b"0\r\n\r\n", 400),
    ("chunk-size-hex-prefix",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\n{}\r\n"
     b"0\r\n\r\n", 400),
    ("chunk-size-enormous",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"ffffffffffffffffff\r\n", 400),
    ("chunks-over-the-body-limit",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n"
     + f"{MAX_BODY + 1:x}".encode() + b"\r\n", 413),
    ("chunk-longer-than-its-size",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n"
     b"0\r\n\r\n", 400),
    ("transfer-encoding-unknown-before-chunked",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: foo, chunked\r\n\r\n"
     b"0\r\n\r\n", 501),
    ("transfer-encoding-chunked-not-last",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked, foo\r\n\r\n", 400),
    ("transfer-encoding-on-http-1.0",
     b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("request-line-over-64-KiB",
     b"POST /" + b"a" * (65 * 1024) + b" HTTP/1.1\r\nHost: {host}\r\n\r\n", 414),
    ("header-line-over-64-KiB",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nX-Big: " + b"b" * (65 * 1024) + b"\r\n\r\n", 431),
    ("too-many-header-fields",
     b"POST / HTTP/1.1\r\nHost: {host}\r\n" + b"".join(
         b"X-F%d: v\r\n" % i for i in range(101)) + b"\r\n", 431),
    ("head-over-64-KiB-in-many-lines",
     b"POST / HTTP/1.1\r\nHost: {host}\r\n" + b"".join(
         b"X-F%d: %s\r\n" % (i, b"v" * 1000) for i in range(80)) + b"\r\n", 431),
    ("header-without-colon",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nNoColonHere\r\n\r\n", 400),
    ("space-before-colon",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length : 2\r\n\r\n{}", 400),
    ("obsolete-line-folding",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nX-A: one\r\n two\r\n\r\n", 400),
    ("bare-cr-inside-a-header",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nX-A: one\rX-B: two\r\n\r\n", 400),
    ("nul-in-a-header-value",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nX-A: o\x00ne\r\n\r\n", 400),
    ("missing-host-on-http-1.1",
     b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400),
    ("two-host-fields",
     b"POST / HTTP/1.1\r\nHost: {host}\r\nHost: other\r\n\r\n", 400),
    ("garbage-request-line", b"NONSENSE\r\n\r\n", 400),
    ("four-part-request-line", b"POST / HTTP/1.1 extra\r\nHost: {host}\r\n\r\n", 400),
    ("relative-target", b"POST nowhere HTTP/1.1\r\nHost: {host}\r\n\r\n", 400),
    ("http-2-request-line", b"POST / HTTP/2.0\r\nHost: {host}\r\n\r\n", 505),
    ("unknown-http-version", b"POST / HTTP/x\r\nHost: {host}\r\n\r\n", 400),
]


@pytest.mark.parametrize(("raw", "expected"), [(c[1], c[2]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_malformed_requests_get_a_clean_4xx_and_the_server_keeps_serving(
    lenient: tuple[ComprehendMedicalMock, str], raw: bytes, expected: int,
) -> None:
    _, url = lenient
    request = raw.replace(b"{host}", url.removeprefix("http://").encode())
    answer = exchange(url, request)  # returns only once the server closed the connection
    assert status(answer) == expected
    assert b"connection: close" in answer.lower()
    assert answer.count(b"HTTP/1.1 ") == 1  # nothing after the error
    assert_still_serving(url)


@pytest.mark.parametrize("host", ["h:99999999", "[::1", "[::1]:65536", "[nothex]",
                                  "a b", "h:1:2"])
def test_an_invalid_host_is_400_with_signatures_verified(
    strict: tuple[ComprehendMedicalMock, str], host: str,
) -> None:
    _, url = strict
    body = b"{}"
    head = signed_head(url, body).replace(
        f"Host: {url.removeprefix('http://')}".encode(), f"Host: {host}".encode())
    assert status(exchange(url, head + body)) == 400
    assert_still_serving(url)


@pytest.mark.parametrize("host", ["h:99999999", "[::1"])
def test_the_core_answers_an_unparsable_signed_host_without_raising(host: str) -> None:
    # In-process there is no HTTP server to refuse the Host: the signature check must
    # not try to parse it as a URL, and simply fails to match.
    mock = ComprehendMedicalMock(credentials={KEY: SECRET})
    url = "http://h:1"
    head = signed_head(url, b"{}")
    lines = head.decode().split("\r\n")[1:]
    headers = [tuple(line.split(": ", 1)) for line in lines if ": " in line]
    headers = [(k, host if k == "Host" else v) for k, v in headers]
    answer = mock.handle("POST", "/", headers, b"{}")
    assert answer.status == 400
    assert json.loads(answer.body)["__type"].endswith("#InvalidSignatureException")


# --- bodies the decoders cannot take ------------------------------------------------

def test_json_nested_10000_deep_is_a_serialization_error_and_keeps_the_connection(
    strict: tuple[ComprehendMedicalMock, str],
) -> None:
    _, url = strict
    deep = b'{"Text": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    with socket.create_connection(address(url), timeout=5) as sock:
        stream = sock.makefile("rwb")
        for _ in range(2):  # the same connection answers twice: framing was never in doubt
            stream.write(signed_head(url, deep) + deep)
            stream.flush()
            assert stream.readline().startswith(b"HTTP/1.1 400")
            length = 0
            while (line := stream.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            document = json.loads(stream.read(length))
            assert document["__type"] == "com.amazon.coral.service#SerializationException"
    assert_still_serving(url)


def test_cbor_nested_100000_deep_is_a_serialization_error() -> None:
    pytest.importorskip("cbor2")
    mock = ComprehendMedicalMock()
    deep = b"\xa1\x64Text" + b"\x81" * 100_000 + b"\x01"
    answer = mock.handle("POST", "/service/ComprehendMedical_20181030/operation/DetectPHI",
                         {"smithy-protocol": "rpc-v2-cbor", "Authorization": "x"}, deep)
    assert answer.status == 400  # the signature fails first: the CBOR path is below
    signed_mock = ComprehendMedicalMock()
    creds = Credentials(KEY, SECRET)
    url = "https://comprehendmedical.us-east-1.amazonaws.com/service/ComprehendMedical_20181030/operation/DetectPHI"
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
    headers.update(sign_request("POST", url, headers, deep, credentials=creds,
                                region="us-east-1", service="comprehendmedical",
                                timestamp=datetime.now(timezone.utc)))
    with httpx.Client(transport=signed_mock.transport()) as http:
        response = http.post(url, content=deep, headers=headers)
    import cbor2

    assert response.status_code == 400
    assert cbor2.loads(response.content)["__type"].endswith("#SerializationException")


# --- stalls: 408 after read_timeout, idle keep-alive untouched -------------------------

def test_a_body_shorter_than_its_content_length_gets_408_after_the_read_timeout(
    lenient: tuple[ComprehendMedicalMock, str],
) -> None:
    _, url = lenient
    started = time.monotonic()
    answer = exchange(url, plain(url, "POST / HTTP/1.1\r\nHost: {host}\r\n"
                                      "Content-Length: 100\r\n\r\n", b'{"Text": '))
    elapsed = time.monotonic() - started
    assert status(answer) == 408
    assert READ_TIMEOUT * 0.9 <= elapsed < READ_TIMEOUT + 2.0
    assert_still_serving(url)


def test_a_head_that_stops_midway_gets_408(lenient: tuple[ComprehendMedicalMock, str]) -> None:
    _, url = lenient
    assert status(exchange(url, plain(url, "POST / HTTP/1.1\r\nHost: {host}\r\nX-Half"))) == 408
    assert status(exchange(url, b"POST / HTT")) == 408
    assert_still_serving(url)


def test_a_chunked_body_that_stops_midway_gets_408(
    lenient: tuple[ComprehendMedicalMock, str],
) -> None:
    _, url = lenient
    answer = exchange(url, plain(url, "POST / HTTP/1.1\r\nHost: {host}\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n10\r\n{}"))
    assert status(answer) == 408
    assert_still_serving(url)


def test_a_body_cut_short_by_the_client_is_400(lenient: tuple[ComprehendMedicalMock, str]) -> None:
    _, url = lenient
    answer = exchange(url, plain(url, "POST / HTTP/1.1\r\nHost: {host}\r\n"
                                      "Content-Length: 100\r\n\r\n", b"{}"), half_close=True)
    assert status(answer) == 400
    assert_still_serving(url)


def test_an_idle_keep_alive_connection_is_not_timed_out(
    strict: tuple[ComprehendMedicalMock, str],
) -> None:
    _, url = strict
    body = json.dumps({"Text": "aspirin"}).encode()
    slept = False
    with socket.create_connection(address(url), timeout=5) as sock:
        stream = sock.makefile("rwb")
        for _ in range(2):
            stream.write(signed_head(url, body) + body)
            stream.flush()
            assert stream.readline().startswith(b"HTTP/1.1 200")
            length = 0
            while (line := stream.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            stream.read(length)
            if not slept:
                time.sleep(READ_TIMEOUT * 2)  # idle between requests: no 408
                slept = True


def test_the_read_timeout_is_configurable_and_must_be_positive() -> None:
    mock = ComprehendMedicalMock()
    with pytest.raises(ValueError, match="read_timeout"), mock.serve(read_timeout=0):
        pass
    with mock.serve(read_timeout=0.8) as url:
        started = time.monotonic()
        answer = exchange(url, plain(url, "POST / HTTP/1.1\r\nHost: {host}\r\n"
                                          "Content-Length: 5\r\n\r\n"))
        assert status(answer) == 408 and time.monotonic() - started >= 0.75


# --- what a well-behaved client may do still works -------------------------------------

def test_pipelined_requests_are_answered_in_order(
    strict: tuple[ComprehendMedicalMock, str],
) -> None:
    _, url = strict
    first = json.dumps({"Text": "aspirin"}).encode()
    second = json.dumps({"Text": "ibuprofen"}).encode()
    answer = exchange(url, signed_head(url, first) + first
                      + signed_head(url, second, extra="Connection: close\r\n") + second)
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert answer.index(b'"aspirin"') < answer.index(b'"ibuprofen"')


def test_expect_100_continue_only_for_an_acceptable_head(
    lenient: tuple[ComprehendMedicalMock, str],
) -> None:
    _, url = lenient
    with socket.create_connection(address(url), timeout=5) as sock:
        sock.sendall(plain(url, "POST / HTTP/1.1\r\nHost: {host}\r\nExpect: 100-continue\r\n"
                                "Content-Length: 2\r\nConnection: close\r\n\r\n"))
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"{}")
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
    assert b"MissingAuthenticationTokenException" in rest
    too_big = exchange(url, plain(url, "POST / HTTP/1.1\r\nHost: {host}\r\nExpect: 100-continue"
                                       f"\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"))
    assert status(too_big) == 413 and b"100 Continue" not in too_big


@pytest.mark.parametrize("head", [
    "\r\nPOST http://{host}/ HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n"
    "Connection: close\r\n\r\n",  # an empty line first, and an absolute-form target
    "POST / HTTP/1.1\nHost: {host}\nContent-Length: 2\nConnection: close\n\n",  # LF only
    "POST / HTTP/1.1\r\nHost: {host}\nContent-Length: 2\r\nConnection: close\n\r\n",
    "POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
    "Connection: close\r\n\r\n1;ext=1\r\n{\r\n1\r\n}\r\n0\r\nTrailer: x\r\n\r\n",
])
def test_what_rfc_9112_lets_a_client_send_reaches_the_service(
    lenient: tuple[ComprehendMedicalMock, str], head: str,
) -> None:
    _, url = lenient
    body = b"" if "chunked" in head else b"{}"
    answer = exchange(url, plain(url, head, body))
    assert status(answer) == 400 and b"MissingAuthenticationTokenException" in answer


class _Exploding:
    def handle_request(self, request: MockRequest) -> MockResponse:
        if request.path == "/boom":
            raise RuntimeError("a handler bug")
        return MockResponse(200, [("Content-Length", "1234")], b"hello")


def test_a_handler_that_raises_is_answered_500_and_the_connection_kept() -> None:
    with serve(_Exploding(), read_timeout=READ_TIMEOUT) as url, httpx.Client() as http:
        assert http.get(url + "/boom").status_code == 500
        ok = http.get(url + "/fine")  # same pooled connection
        assert ok.status_code == 200 and ok.content == b"hello"
        assert ok.headers["content-length"] == "5"  # the server frames the body itself
        head = http.head(url + "/fine")
        assert head.headers["content-length"] == "1234" and head.content == b""
