"""DescribeEntitiesDetectionV2Job end to end through respx, sync and async."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import httpx
import pytest
import respx

from cmclient import AsyncComprehendMedical, ComprehendMedical, Credentials, errors
from cmclient.models import JobStatus
from tests.conftest import CREDENTIALS, ENDPOINT, canned_response, load_fixture

JOB_ID = "5c9d7a1e0f3b4a2c8e6d1f7a9b3c5e2d"
FIXTURE_DIR = "describe_entities_detection_v2_job"


def make_client(**kwargs: object) -> ComprehendMedical:
    """One attempt per call: these tests are about parsing, not retrying."""
    return ComprehendMedical(region="us-east-1", credentials=CREDENTIALS, max_attempts=1, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [s.value for s in JobStatus])
def test_every_job_status_parses_to_the_enum(status: str) -> None:
    with respx.mock(assert_all_called=True) as mock, make_client() as client:
        mock.post(ENDPOINT).mock(return_value=canned_response(f"{FIXTURE_DIR}/status_{status.lower()}.json"))
        props = client.describe_entities_detection_v2_job(job_id=JOB_ID).comprehend_medical_async_job_properties
    assert props is not None
    assert props.job_status is JobStatus(status)
    assert props.submit_time == datetime(2024, 11, 28, 10, 40, 0, 123000, tzinfo=timezone.utc)


def test_request_on_the_wire_is_a_signed_json_1_1_post() -> None:
    with respx.mock() as mock, make_client() as client:
        route = mock.post(ENDPOINT).mock(return_value=canned_response(f"{FIXTURE_DIR}/status_completed.json"))
        client.describe_entities_detection_v2_job(job_id=JOB_ID)
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == "/"
    assert request.headers["x-amz-target"] == "ComprehendMedical_20181030.DescribeEntitiesDetectionV2Job"
    assert request.headers["content-type"] == "application/x-amz-json-1.1"
    assert json.loads(request.content) == {"JobId": JOB_ID}
    auth = request.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/comprehendmedical/aws4_request" in auth
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-target," in auth
    assert "x-amz-security-token" not in request.headers


def test_session_token_is_sent_and_signed() -> None:
    creds = Credentials("AKID", "SECRET", session_token="TOKEN/abc==")
    with respx.mock() as mock, ComprehendMedical(region="us-east-1", credentials=creds) as client:
        route = mock.post(ENDPOINT).mock(return_value=canned_response(f"{FIXTURE_DIR}/status_completed.json"))
        client.describe_entities_detection_v2_job(job_id=JOB_ID)
    request = route.calls.last.request
    assert request.headers["x-amz-security-token"] == "TOKEN/abc=="
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target," in (
        request.headers["authorization"]
    )


def test_iso_timestamps_parse_to_utc() -> None:
    with respx.mock() as mock, make_client() as client:
        mock.post(ENDPOINT).mock(return_value=canned_response(f"{FIXTURE_DIR}/iso_timestamps.json"))
        props = client.describe_entities_detection_v2_job(job_id=JOB_ID).comprehend_medical_async_job_properties
    assert props is not None
    assert props.submit_time == datetime(2024, 11, 28, 10, 40, 0, 123000, tzinfo=timezone.utc)
    # "+01:00" in the document: same instant, expressed in UTC
    assert props.end_time == datetime(2024, 11, 28, 5, 10, 35, tzinfo=timezone.utc)
    assert props.end_time.tzinfo is timezone.utc


def test_unknown_enum_value_and_member_do_not_break_parsing() -> None:
    with respx.mock() as mock, make_client() as client:
        mock.post(ENDPOINT).mock(return_value=canned_response(f"{FIXTURE_DIR}/unknown_enum_and_member.json"))
        props = client.describe_entities_detection_v2_job(job_id=JOB_ID).comprehend_medical_async_job_properties
    assert props is not None
    assert props.job_status == "ARCHIVED"
    assert not isinstance(props.job_status, JobStatus)
    assert props.language_code == "es"


def test_dump_by_alias_gives_back_the_wire_document() -> None:
    doc = load_fixture(f"responses/{FIXTURE_DIR}/status_completed.json")["body"]
    with respx.mock() as mock, make_client() as client:
        mock.post(ENDPOINT).mock(return_value=canned_response(f"{FIXTURE_DIR}/status_completed.json"))
        resp = client.describe_entities_detection_v2_job(job_id=JOB_ID)
    assert resp.model_dump(mode="json", by_alias=True, exclude_none=True) == doc
    python_dump = resp.model_dump(by_alias=True, exclude_none=True)
    assert python_dump["ComprehendMedicalAsyncJobProperties"]["KMSKey"] == doc[
        "ComprehendMedicalAsyncJobProperties"]["KMSKey"]


@pytest.mark.parametrize(
    ("code", "status"),
    [("InvalidRequestException", 400), ("TooManyRequestsException", 429),
     ("ResourceNotFoundException", 404), ("InternalServerException", 500)],
)
def test_modeled_errors_raise_their_class(code: str, status: int) -> None:
    with respx.mock() as mock, make_client() as client:
        mock.post(ENDPOINT).mock(return_value=canned_response(f"{FIXTURE_DIR}/error_{code}.json"))
        with pytest.raises(errors.ServiceError) as caught:
            client.describe_entities_detection_v2_job(job_id=JOB_ID)
    err = caught.value
    assert type(err) is getattr(errors, code)
    assert err.code == code
    assert err.status_code == status
    assert err.request_id == f"req-error_{code}"
    assert err.operation_name == "DescribeEntitiesDetectionV2Job"
    assert str(err) == (
        f"An error occurred ({code}) when calling the DescribeEntitiesDetectionV2Job "
        f"operation: {err.message}"
    )
    assert err.response["Error"] == {"Code": code, "Message": err.message}
    meta = err.response["ResponseMetadata"]
    assert meta["RequestId"] == err.request_id
    assert meta["HTTPStatusCode"] == status
    assert meta["HTTPHeaders"]["x-amzn-requestid"] == err.request_id
    assert meta["RetryAttempts"] == 0


def test_unknown_error_code_is_a_plain_service_error_with_that_code() -> None:
    body = {"__type": "com.amazonaws.comprehendmedical#BrandNewException", "message": "new"}
    with respx.mock() as mock, make_client() as client:
        mock.post(ENDPOINT).mock(return_value=httpx.Response(400, json=body))
        with pytest.raises(errors.ServiceError) as caught:
            client.describe_entities_detection_v2_job(job_id=JOB_ID)
    assert type(caught.value) is errors.ServiceError
    assert caught.value.code == "BrandNewException"


@pytest.mark.parametrize(("name", "status"), [("error_html_502", 502), ("error_empty_500", 500)])
def test_non_json_error_bodies_raise_service_error_with_status(name: str, status: int) -> None:
    with respx.mock() as mock, make_client() as client:
        mock.post(ENDPOINT).mock(return_value=canned_response(f"{FIXTURE_DIR}/{name}.json"))
        with pytest.raises(errors.ServiceError) as caught:
            client.describe_entities_detection_v2_job(job_id=JOB_ID)
    assert caught.value.status_code == status
    assert caught.value.code == str(status)
    assert caught.value.request_id == f"req-{name}"


def test_truncated_success_body_is_a_response_parse_error() -> None:
    with respx.mock() as mock, make_client() as client:
        mock.post(ENDPOINT).mock(return_value=canned_response(f"{FIXTURE_DIR}/truncated_200.json"))
        with pytest.raises(errors.ResponseParseError) as caught:
            client.describe_entities_detection_v2_job(job_id=JOB_ID)
    assert caught.value.status_code == 200
    assert caught.value.request_id == "req-truncated_200"
    assert caught.value.__cause__ is None  # no raw pydantic ValidationError chained


@pytest.mark.parametrize(
    ("job_id", "rule"),
    [("", "less than the minimum of 1"), ("x" * 33, "length 33 is more than the maximum of 32"),
     ("bad#id", "must match the pattern")],
)
def test_invalid_job_id_is_rejected_before_any_request(job_id: str, rule: str) -> None:
    with respx.mock(assert_all_called=False) as mock, make_client() as client:
        route = mock.post(ENDPOINT)
        with pytest.raises(errors.ParamValidationError) as caught:
            client.describe_entities_detection_v2_job(job_id=job_id)
    assert not route.called
    assert "job_id (JobId)" in str(caught.value)
    assert rule in str(caught.value)


def test_unicode_job_id_is_valid() -> None:
    with respx.mock() as mock, make_client() as client:
        route = mock.post(ENDPOINT).mock(return_value=canned_response(f"{FIXTURE_DIR}/status_completed.json"))
        client.describe_entities_detection_v2_job(job_id="ünïcödé-1")
    assert json.loads(route.calls.last.request.content) == {"JobId": "ünïcödé-1"}


def test_missing_job_id_is_reported_as_required() -> None:
    with make_client() as client, pytest.raises(errors.ParamValidationError, match=r"job_id \(JobId\): is required"):
        client.describe_entities_detection_v2_job(job_id=None)  # type: ignore[arg-type]


def test_async_client_describes_the_same_job() -> None:
    async def run() -> object:
        async with AsyncComprehendMedical(region="us-east-1", credentials=CREDENTIALS) as client:
            return await client.describe_entities_detection_v2_job(job_id=JOB_ID)

    with respx.mock() as mock:
        route = mock.post(ENDPOINT).mock(return_value=canned_response(f"{FIXTURE_DIR}/status_completed.json"))
        resp = asyncio.run(run())
    props = resp.comprehend_medical_async_job_properties  # type: ignore[attr-defined]
    assert props.job_status is JobStatus.COMPLETED
    assert route.calls.last.request.headers["x-amz-target"].endswith("DescribeEntitiesDetectionV2Job")


def test_non_default_port_is_signed_as_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return canned_response(f"{FIXTURE_DIR}/status_completed.json")

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with ComprehendMedical(region="us-east-1", endpoint_url="http://127.0.0.1:8123",
                           credentials=CREDENTIALS, http_client=http) as client:
        client.describe_entities_detection_v2_job(job_id=JOB_ID)
    assert seen[0].headers["host"] == "127.0.0.1:8123"
    assert str(seen[0].url) == "http://127.0.0.1:8123/"
