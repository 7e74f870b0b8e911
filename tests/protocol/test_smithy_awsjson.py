"""Smithy's awsJson1_1 protocol tests (fixtures/smithy/awsjson11_cases.json), run through
cmclient's sans-I/O protocol layer with real Comprehend Medical operations, and end to end
through the client with respx where the case is about the wire (endpoint with a path,
request id, empty bodies)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from pydantic import TypeAdapter

from cmclient import ComprehendMedical, ServiceError
from cmclient._generated import operations as ops
from cmclient._generated.operations import OPERATIONS, TARGET_PREFIX
from cmclient._protocol.awsjson import error_code, parse_response, serialize, service_error
from cmclient.models import JobStatus
from cmclient.models._base import Timestamp
from cmclient.sigv4 import sign_request
from tests.conftest import CREDENTIALS, ENDPOINT, load_fixture

CASES = load_fixture("smithy/awsjson11_cases.json")
JOB_ID = "5c9d7a1e0f3b4a2c8e6d1f7a9b3c5e2d"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
TIMESTAMP = TypeAdapter(Timestamp)


def _by_id(section: str) -> list[Any]:
    return [pytest.param(case, id=case["id"]) for case in CASES[section]]


def _body(case: dict[str, Any]) -> bytes:
    return (case["body"] or "").encode()


def _at(epoch: float) -> datetime:
    """The exact instant of a Smithy epoch-seconds value (no float rounding)."""
    micros = int(Decimal(str(epoch)) * 1_000_000)
    return EPOCH + timedelta(microseconds=micros)


def test_fixture_holds_every_errors_smithy_case() -> None:
    # errors.smithy declares 14 client-side cases; the fixture must not silently lose any.
    ids = [case["id"] for case in CASES["error_cases"]]
    assert len(ids) == len(set(ids)) == 14
    assert "AwsJson11FooErrorWithNestedTypeProperty" in ids


# --- error parsing (errors.smithy) ---------------------------------------------------------


@pytest.mark.parametrize("case", _by_id("error_cases"))
def test_error_code_follows_the_smithy_rule(case: dict[str, Any]) -> None:
    body = _body(case)
    document = json.loads(body) if body else None
    assert error_code(httpx.Headers(case["headers"]), document) == case["expected_code"]


@pytest.mark.parametrize("case", _by_id("error_cases"))
def test_service_error_carries_code_message_and_status(case: dict[str, Any]) -> None:
    headers = httpx.Headers({**case["headers"], "X-Amzn-Requestid": "req-1"})
    err = service_error("GreetingWithErrors", case["status"], headers, _body(case))
    assert type(err) is ServiceError  # the test service's codes are not Comprehend Medical's
    assert err.code == case["expected_code"]
    assert err.message == case["expected_message"]
    assert err.status_code == case["status"]
    assert err.request_id == "req-1"
    assert err.response["Error"] == {"Code": case["expected_code"], "Message": case["expected_message"]}
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == case["status"]


@pytest.mark.parametrize("case", _by_id("error_cases"))
def test_parse_response_raises_the_error_for_a_real_operation(case: dict[str, Any]) -> None:
    op = ops.DESCRIBE_ENTITIES_DETECTION_V2_JOB
    with pytest.raises(ServiceError) as info:
        parse_response(op, case["status"], httpx.Headers(case["headers"]), _body(case))
    assert info.value.code == case["expected_code"]
    assert info.value.operation_name == "DescribeEntitiesDetectionV2Job"
    assert str(info.value) == (
        f"An error occurred ({case['expected_code']}) when calling the "
        f"DescribeEntitiesDetectionV2Job operation: {case['expected_message']}"
    )


@pytest.mark.parametrize(
    ("code", "cls_name"),
    [("InvalidRequestException", "InvalidRequestException"),
     ("TooManyRequestsException", "TooManyRequestsException")],
)
@pytest.mark.parametrize("case", _by_id("error_cases"))
def test_every_smithy_error_form_maps_a_service_code_to_its_class(
    case: dict[str, Any], code: str, cls_name: str
) -> None:
    # The same wire forms carrying a Comprehend Medical code pick the modeled class.
    headers = {k: v.replace("FooError", code) for k, v in case["headers"].items()}
    body = _body(case).replace(case["expected_code"].encode(), code.encode())
    err = service_error("DetectEntitiesV2", case["status"], httpx.Headers(headers), body)
    assert type(err).__name__ == cls_name and err.code == code


def test_error_type_header_wins_over_body_code_and_dunder_type() -> None:
    headers = httpx.Headers({"X-Amzn-Errortype": "FromHeader:uri"})
    document = {"code": "FromCode", "__type": "ns#FromType"}
    assert error_code(headers, document) == "FromHeader"
    assert error_code(httpx.Headers(), document) == "FromCode"
    assert error_code(httpx.Headers(), {"__type": "ns#FromType"}) == "FromType"


# --- successful responses (empty-operation.smithy, kitchen-sink.smithy) --------------------


@pytest.mark.parametrize("op_name", sorted(OPERATIONS))
@pytest.mark.parametrize("case", _by_id("response_cases"))
def test_empty_or_unexpected_200_body_parses_for_every_operation(
    case: dict[str, Any], op_name: str
) -> None:
    op = OPERATIONS[op_name]
    result = parse_response(op, case["status"], httpx.Headers(case["headers"]), _body(case))
    assert isinstance(result, op.output_model)
    assert result.model_dump(exclude_none=True) == {}


@pytest.mark.parametrize("case", _by_id("response_cases"))
def test_empty_or_unexpected_200_body_end_to_end(
    case: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cmclient")
    response = httpx.Response(case["status"], headers=case["headers"], content=_body(case))
    with respx.mock(assert_all_called=True) as mock, ComprehendMedical(
        region="us-east-1", credentials=CREDENTIALS
    ) as client:
        mock.post(ENDPOINT).mock(return_value=response)
        result = client.describe_entities_detection_v2_job(job_id=JOB_ID)
    assert result.comprehend_medical_async_job_properties is None
    if "expected_request_id" in case:
        # Successful outputs carry no metadata; the request id reaches the caller in the
        # per-attempt log record.
        assert any(
            f"request_id={case['expected_request_id']}" in record.getMessage()
            for record in caplog.records if record.name == "cmclient"
        )


def test_request_id_is_read_from_x_amzn_requestid_on_errors() -> None:
    case = next(c for c in CASES["response_cases"]
                if c["id"] == "parses_the_request_id_from_the_response")
    headers = httpx.Headers({**case["headers"], "X-Amzn-Errortype": "ValidationException"})
    with pytest.raises(ServiceError) as info:
        parse_response(ops.LIST_ENTITIES_DETECTION_V2_JOBS, 400, headers, b"{}")
    assert info.value.request_id == case["expected_request_id"]
    assert info.value.response["ResponseMetadata"]["RequestId"] == case["expected_request_id"]


# --- requests (empty-operation.smithy, endpoint-paths.smithy) ------------------------------


@pytest.mark.parametrize("case", _by_id("request_cases"))
def test_request_goes_to_the_endpoint_path_signed_as_sent(case: dict[str, Any]) -> None:
    endpoint = case["endpoint"]
    origin = httpx.URL(endpoint or ENDPOINT).copy_with(path="/")
    with respx.mock(assert_all_called=True) as mock, ComprehendMedical(
        region="us-east-1", credentials=CREDENTIALS, endpoint_url=endpoint
    ) as client:
        route = mock.post(str(origin.copy_with(path=case["uri"]))).mock(
            return_value=httpx.Response(200, json={"ComprehendMedicalAsyncJobProperties": {}})
        )
        client.describe_entities_detection_v2_job(job_id=JOB_ID)
    request = route.calls.last.request
    assert request.method == case["method"]
    assert request.url.raw_path.decode() == case["uri"]
    assert request.headers["content-type"] == case["headers"]["Content-Type"]
    # Same shape as the Smithy case's "JsonProtocol.<Operation>", with our prefix.
    upstream_prefix, _, _ = case["headers"]["X-Amz-Target"].partition(".")
    assert upstream_prefix == "JsonProtocol"
    assert request.headers["x-amz-target"] == f"{TARGET_PREFIX}.DescribeEntitiesDetectionV2Job"
    assert json.loads(request.content) == {"JobId": JOB_ID}
    # The signature covers the path and host actually sent.
    signed = ["content-type", "host", "x-amz-target"]
    again = sign_request(
        "POST", str(request.url), [(n, request.headers[n]) for n in signed], request.content,
        credentials=CREDENTIALS, region="us-east-1", service="comprehendmedical",
        timestamp=datetime.strptime(request.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=timezone.utc),
    )
    assert request.headers["authorization"] == again["Authorization"]


@pytest.mark.parametrize(
    "endpoint", ["https://example.com/custom", "https://example.com/custom/"]
)
def test_endpoint_path_with_or_without_trailing_slash_posts_to_custom_slash(endpoint: str) -> None:
    with respx.mock(assert_all_called=True) as mock, ComprehendMedical(
        region="us-east-1", credentials=CREDENTIALS, endpoint_url=endpoint
    ) as client:
        route = mock.post("https://example.com/custom/").mock(
            return_value=httpx.Response(200, json={})
        )
        client.describe_entities_detection_v2_job(job_id=JOB_ID)
    assert route.calls.last.request.url.raw_path == b"/custom/"


# --- timestamps (kitchen-sink.smithy, fractional-seconds.smithy, datetime-offsets.smithy) --


@pytest.mark.parametrize("case", _by_id("timestamp_parse_cases"))
def test_timestamp_type_parses_the_smithy_forms(case: dict[str, Any]) -> None:
    wire = json.loads(case["body"])[case["member"]]
    expected = _at(case["expected_epoch"])
    for parsed in (TIMESTAMP.validate_python(wire), TIMESTAMP.validate_json(json.dumps(wire))):
        assert parsed == expected
        assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("case", _by_id("timestamp_parse_cases"))
def test_timestamp_forms_parse_inside_a_real_response(case: dict[str, Any]) -> None:
    wire = json.loads(case["body"])[case["member"]]
    body = json.dumps({"ComprehendMedicalAsyncJobProperties": {
        "JobStatus": "COMPLETED", "SubmitTime": wire, "EndTime": wire}}).encode()
    result = parse_response(
        ops.DESCRIBE_ENTITIES_DETECTION_V2_JOB, 200,
        httpx.Headers({"Content-Type": "application/x-amz-json-1.1"}), body,
    )
    props = result.comprehend_medical_async_job_properties
    assert props is not None and props.job_status is JobStatus.COMPLETED
    assert props.submit_time == props.end_time == _at(case["expected_epoch"])


@pytest.mark.parametrize("case", _by_id("timestamp_serialize_cases"))
def test_timestamp_serialises_as_epoch_seconds(case: dict[str, Any]) -> None:
    instant = _at(case["epoch"])
    expected = json.loads(case["body"])[case["member"]]
    assert TIMESTAMP.dump_json(instant) == json.dumps(expected).encode()
    # In a real request: ListEntitiesDetectionV2Jobs' Filter.SubmitTimeAfter, from an
    # aware datetime in another zone, and from a naive one (taken as UTC).
    for value in (instant, instant.astimezone(timezone(timedelta(hours=5, minutes=30))),
                  instant.replace(tzinfo=None)):
        body = serialize(ops.LIST_ENTITIES_DETECTION_V2_JOBS,
                         {"filter": {"submit_time_after": value}})
        sent = json.loads(body)["Filter"]["SubmitTimeAfter"]
        assert sent == expected and type(sent) is int


def test_fractional_timestamp_serialises_as_fractional_epoch_seconds() -> None:
    assert TIMESTAMP.dump_json(_at(946845296.123)) == b"946845296.123"
