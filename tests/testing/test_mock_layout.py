"""How the mock is put together (issue 15, points 3 and 5): dependencies point one
way, the ways in know only the ``RequestHandler`` protocol, the public names are
unchanged, and a request that is not Comprehend Medical's can go to another handler."""

from __future__ import annotations

import ast
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import cmclient.testing
from cmclient.testing import ComprehendMedicalMock, MockRequest, MockResponse, RequestHandler

PACKAGE = Path(cmclient.testing.__file__).resolve().parent
PREFIX = "cmclient.testing."


def mock_imports(module: str) -> set[str]:
    """The ``cmclient.testing`` modules ``module`` imports anywhere (TYPE_CHECKING and
    function bodies included); ``from cmclient.testing import _x`` counts as ``_x``."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "cmclient.testing":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith(PREFIX):
                found.add(node.module.removeprefix(PREFIX))
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix(PREFIX) for a in node.names
                         if a.name.startswith(PREFIX))
    return found


def cmclient_imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.split(".")[0] == "cmclient"}


@pytest.mark.parametrize(("way_in", "allowed"), [
    ("_server", {"_exchange", "_http11"}), ("_http11", {"_exchange"}),
    ("_transport", {"_exchange"})])
def test_the_ways_in_know_only_the_handler_protocol(way_in: str, allowed: set[str]) -> None:
    assert mock_imports(way_in) == allowed


def test_the_exchange_types_import_nothing_of_cmclient() -> None:
    assert cmclient_imports("_exchange") == set()


def test_no_module_of_the_mock_imports_the_controls_but_the_entry_points() -> None:
    users = {path.stem for path in PACKAGE.glob("*.py")
             if path.stem != "_service" and "_service" in mock_imports(path.stem)}
    assert users <= {"__init__", "_cli", "_bench"}  # the package re-exports it


def test_the_core_layers_point_down() -> None:
    # controls -> core -> handlers -> (validation, buckets, quotas, jobs, clinical)
    assert "_core" not in mock_imports("_handlers")
    for low in ("_validation", "_buckets", "_quotas", "_faults", "_jobs", "_clinical"):
        assert {"_core", "_handlers", "_service"}.isdisjoint(mock_imports(low)), low


def test_public_names_are_unchanged_and_resolve() -> None:
    before = {"SERVICE_QUOTAS", "ComprehendMedicalMock", "MockResponse", "bench_throughput",
              "main"}
    assert before <= set(cmclient.testing.__all__)
    for name in cmclient.testing.__all__:
        assert getattr(cmclient.testing, name) is not None
    from cmclient.testing._service import SERVICE_QUOTAS
    from cmclient.testing._service import MockResponse as FromService

    assert FromService is MockResponse and SERVICE_QUOTAS is cmclient.testing.SERVICE_QUOTAS


def test_the_mock_is_a_request_handler() -> None:
    mock: RequestHandler = ComprehendMedicalMock()
    answer = mock.handle_request(MockRequest.build("POST", "/", {}, b"{}"))
    assert answer.status == 400 and b"MissingAuthenticationTokenException" in answer.body


# --- the seam for other services -------------------------------------------------------

class Recorder:
    """A stand-in for another service (S3, say): records what reaches it."""

    def __init__(self) -> None:
        self.seen: list[MockRequest] = []

    def handle_request(self, request: MockRequest) -> MockResponse:
        self.seen.append(request)
        return MockResponse(200, [("Content-Type", "text/plain")], b"from the fallback")


def test_requests_not_addressed_to_the_service_go_to_the_fallback() -> None:
    other = Recorder()
    mock = ComprehendMedicalMock(fallback=other)
    with httpx.Client(transport=mock.transport(), base_url="https://s3.amazonaws.com") as http:
        assert http.put("/bucket/key.txt", content=b"note").text == "from the fallback"
        assert http.get("/bucket/key.txt?versionId=1").text == "from the fallback"
        assert http.post("/bucket?delete", content=b"<Delete/>").text == "from the fallback"
        # addressed to Comprehend Medical: the service answers, fallback or not
        json_call = http.post("/", content=b"{}", headers={
            "X-Amz-Target": "ComprehendMedical_20181030.DetectPHI"})
        cbor_call = http.post("/service/ComprehendMedical_20181030/operation/DetectPHI",
                              content=b"")
    assert b"MissingAuthenticationTokenException" in json_call.content
    assert cbor_call.status_code == 400
    assert [(r.method, r.path, r.body) for r in other.seen] == [
        ("PUT", "/bucket/key.txt", b"note"), ("GET", "/bucket/key.txt?versionId=1", b""),
        ("POST", "/bucket?delete", b"<Delete/>")]
    # only its own are recorded (the CBOR path without its header names no operation)
    assert [c.operation for c in mock.calls] == ["DetectPHI", None]


def test_the_fallback_is_served_over_the_loopback_server_too() -> None:
    other = Recorder()
    mock = ComprehendMedicalMock()
    with mock.serve() as url, httpx.Client() as http:
        # By default the mock's own S3 answers (and refuses an unsigned request).
        unsigned = http.get(url + "/bucket/key")
        assert unsigned.status_code == 403 and b"<Code>AccessDenied</Code>" in unsigned.content
        assert mock.fallback is mock.s3
        mock.fallback = other
        assert http.get(url + "/bucket/key").text == "from the fallback"
        head = http.head(url + "/bucket/key")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(b"from the fallback"))
    assert [r.method for r in other.seen] == ["GET", "HEAD"]
    assert ("Host", url.removeprefix("http://")) in other.seen[0].headers


# --- the command line ----------------------------------------------------------------

def test_command_line_takes_read_timeout_and_latency() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "cmclient.testing", "--port", "0", "--read-timeout", "0.3",
         "--latency", "0.25"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        host, port = url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            started = time.monotonic()
            sock.sendall(f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 9\r\n\r\n{{".encode())
            assert sock.recv(100).startswith(b"HTTP/1.1 408 Request Timeout")
            assert time.monotonic() - started < 3
        started = time.monotonic()
        answer = httpx.post(url + "/", content=b"{}", headers={
            "X-Amz-Target": "ComprehendMedical_20181030.DetectPHI"})
        assert time.monotonic() - started >= 0.25
        assert json.loads(answer.content)["__type"].endswith("MissingAuthenticationTokenException")
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=20)
    assert process.returncode == 0 and "Traceback" not in err
    for bad in (["--read-timeout", "0"], ["--latency", "-1"], ["--read-timeout", "soon"]):
        refused = subprocess.run([sys.executable, "-m", "cmclient.testing", *bad],
                                 capture_output=True, text=True, timeout=30)
        assert refused.returncode == 2, bad
