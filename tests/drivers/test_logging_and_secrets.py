"""What cmclient logs, and what it never lets out: secrets, signatures and clinical text.

Each test plants distinctive values (secret key, session token, request text) and then
searches everything a caller or a log handler could see for them.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest
import respx

from cmclient import ComprehendMedical, Credentials, ParamValidationError, ServiceError
from cmclient.errors import ResponseParseError
from tests.conftest import ENDPOINT, canned_response

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzSECRETzz"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//TOKENzzSESSIONzz=="
CREDS = Credentials("AKIDEXAMPLE", SECRET, session_token=TOKEN)
CLINICAL = "Patient Jane Q. Doe, DOB 1961-04-02, metformin 500 mg for type 2 diabetes"
JOB_ID = "5c9d7a1e0f3b4a2c8e6d1f7a9b3c5e2d"
REQUEST_ID = "6f1d2c3b-aaaa-bbbb-cccc-0123456789ab"
DETECT_RESPONSE = {"Entities": [], "ModelVersion": "2.0"}


def _everything_logged(records: list[logging.LogRecord]) -> str:
    """Every string a handler could emit for these records: the formatted message, the raw
    message and arguments, any exception text, and every extra attribute."""
    parts = []
    formatter = logging.Formatter()
    for record in records:
        parts.append(formatter.format(record))
        parts.append(str(record.msg))
        parts.append(repr(record.args))
        parts.extend(repr(value) for value in vars(record).values())
    return "\n".join(parts)


def _assert_no_secrets(text: str, *also: str) -> None:
    for needle in (SECRET, TOKEN, CLINICAL, *also):
        assert needle not in text
    # Pieces of them too: a truncated or re-encoded fragment is still a leak.
    for fragment in ("zzSECRETzz", "TOKENzzSESSIONzz", "metformin", "Jane Q. Doe"):
        assert fragment not in text


@pytest.fixture
def root_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Root logger at DEBUG, so httpx, httpcore and every cmclient logger record too."""
    caplog.set_level(logging.DEBUG)
    yield caplog


def test_each_attempt_is_logged_with_operation_status_request_id_attempt_and_latency(
    root_debug: pytest.LogCaptureFixture,
) -> None:
    response = canned_response("describe_entities_detection_v2_job/status_completed.json")
    response.headers["x-amzn-requestid"] = REQUEST_ID
    with respx.mock() as mock, ComprehendMedical(region="us-east-1", credentials=CREDS) as client:
        mock.post(ENDPOINT).mock(return_value=response)
        client.describe_entities_detection_v2_job(job_id=JOB_ID)
    ours = [r for r in root_debug.records if r.name == "cmclient"]
    assert len(ours) == 1
    record = ours[0]
    assert record.levelno == logging.DEBUG
    message = record.getMessage()
    assert "DescribeEntitiesDetectionV2Job" in message
    assert re.search(r"\bstatus=200\b", message)
    assert f"request_id={REQUEST_ID}" in message
    assert re.search(r"\battempt=1\b", message)
    assert re.search(r"\blatency_ms=\d+(\.\d+)?\b", message)


def test_no_log_record_holds_secrets_signature_or_request_text_with_respx(
    root_debug: pytest.LogCaptureFixture,
) -> None:
    with respx.mock() as mock, ComprehendMedical(region="us-east-1", credentials=CREDS) as client:
        route = mock.post(ENDPOINT).mock(
            side_effect=lambda request: httpx.Response(
                200, json=DETECT_RESPONSE, headers={"x-amzn-requestid": REQUEST_ID}
            )
        )
        client.detect_entities_v2(text=CLINICAL)
        client.describe_entities_detection_v2_job(job_id=JOB_ID)
    authorizations = [call.request.headers["authorization"] for call in route.calls]
    signatures = [a.rpartition("Signature=")[2] for a in authorizations]
    assert len(authorizations) == 2 and all(signatures)
    assert CLINICAL in route.calls[0].request.content.decode()  # the text was really sent
    logged = _everything_logged(root_debug.records)
    assert "DetectEntitiesV2" in logged  # the records were captured at all
    _assert_no_secrets(logged, *authorizations, *signatures, JOB_ID)


class _Handler(BaseHTTPRequestHandler):
    """Answers every POST like Comprehend Medical would, and remembers what it saw."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        type(self).seen.append({"headers": dict(self.headers.items()), "body": body})
        payload = json.dumps(DETECT_RESPONSE).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", REQUEST_ID)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the server is not under test."""


@pytest.fixture
def loopback() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_no_log_record_holds_secrets_signature_or_request_text_over_real_http(
    root_debug: pytest.LogCaptureFixture, loopback: tuple[str, type[_Handler]]
) -> None:
    # A real socket, so the transport's connection DEBUG records appear too.
    endpoint, handler = loopback
    with ComprehendMedical(
        region="us-east-1", credentials=CREDS, endpoint_url=endpoint
    ) as client:
        client.detect_entities_v2(text=CLINICAL)
    (seen,) = handler.seen
    assert CLINICAL in seen["body"].decode()
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["host"] == endpoint.removeprefix("http://")
    assert headers["x-amz-security-token"] == TOKEN
    authorization = headers["authorization"]
    names = {r.name for r in root_debug.records}
    assert {"cmclient", "cmclient.http"} <= names  # the transport really logged
    _assert_no_secrets(
        _everything_logged(root_debug.records),
        authorization, authorization.rpartition("Signature=")[2],
    )


def test_credentials_repr_and_str_hide_secret_and_token() -> None:
    for shown in (repr(CREDS), str(CREDS), f"{CREDS}", f"{CREDS!r}", repr([CREDS]),
                  repr({"creds": CREDS})):
        assert "AKIDEXAMPLE" in shown
        assert SECRET not in shown and TOKEN not in shown
        assert "zzSECRETzz" not in shown and "TOKENzzSESSIONzz" not in shown


def test_too_long_text_error_does_not_contain_the_text() -> None:
    text = (CLINICAL + " ") * (20000 // len(CLINICAL) + 2)
    assert len(text) > 20000
    with respx.mock(assert_all_mocked=True) as mock, ComprehendMedical(
        region="us-east-1", credentials=CREDS
    ) as client:
        with pytest.raises(ParamValidationError) as info:
            client.detect_entities_v2(text=text)
        assert not mock.calls  # nothing was sent
    err = info.value
    assert err.operation_name == "DetectEntitiesV2"
    assert any("text" in path and "more than the maximum" in rule for path, rule in err.problems)
    shown = "\n".join([
        str(err), repr(err), repr(err.args), repr(err.problems),
        "".join(traceback.format_exception(err)),
    ])
    _assert_no_secrets(shown)


def test_pattern_mismatch_error_does_not_echo_the_value() -> None:
    with ComprehendMedical(region="us-east-1", credentials=CREDS) as client, pytest.raises(
        ParamValidationError
    ) as info:
        client.describe_entities_detection_v2_job(job_id="Jane Q. Doe <metformin>")
    shown = str(info.value) + repr(info.value.problems)
    assert "job_id" in shown
    _assert_no_secrets(shown)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"__type": "InvalidRequestException", "Message": "Invalid request."}),
        (400, {"__type": "TextSizeLimitExceededException",
               "Message": "Input text size exceeds limit."}),
        (400, {"__type": "ValidationException"}),
        (403, {"__type": "com.amazon.coral.service#AccessDeniedException"}),
    ],
)
def test_service_error_contains_no_request_text(status: int, body: dict[str, str]) -> None:
    with respx.mock() as mock, ComprehendMedical(region="us-east-1", credentials=CREDS) as client:
        mock.post(ENDPOINT).mock(return_value=httpx.Response(
            status, json=body, headers={"x-amzn-requestid": REQUEST_ID}))
        with pytest.raises(ServiceError) as info:
            client.detect_entities_v2(text=CLINICAL)
    err = info.value
    assert err.request_id == REQUEST_ID
    shown = "\n".join([
        str(err), repr(err), repr(err.args), json.dumps(err.response),
        "".join(traceback.format_exception(err)),
    ])
    _assert_no_secrets(shown)


def test_response_parse_error_does_not_echo_the_response_text() -> None:
    # A 200 whose body is not the documented shape: the message locates the problem
    # without quoting the (clinical) value that broke it.
    bad = {"Entities": [{"Text": CLINICAL, "Score": "not a number"}], "ModelVersion": "2.0"}
    with respx.mock() as mock, ComprehendMedical(region="us-east-1", credentials=CREDS) as client:
        mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json=bad))
        with pytest.raises(ResponseParseError) as info:
            client.detect_entities_v2(text="short note")
    assert "Entities" in str(info.value)
    _assert_no_secrets(str(info.value) + repr(info.value.args))
