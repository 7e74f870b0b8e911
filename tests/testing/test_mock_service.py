"""The mock's core through cmclient clients in-process: jobs, validation, detectors,
errors on the wire, and the test knobs (faults, rate limits, latency)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from cmclient import ComprehendMedical, Credentials, errors
from cmclient.models import JobStatus
from cmclient.sigv4 import sign_request
from cmclient.testing import SERVICE_QUOTAS, ComprehendMedicalMock

ROLE = "arn:aws:iam::123456789012:role/ComprehendMedicalData"
START = {
    "input_data_config": {"S3Bucket": "notes-in", "S3Key": "batch/"},
    "output_data_config": {"S3Bucket": "notes-out", "S3Key": "results"},
    "data_access_role_arn": ROLE,
    "language_code": "en",
}
NOTE = (
    "Mr. John Smith, a 67-year-old seen on 03/14/2024, phone 555-123-4567. "
    "Takes aspirin 81 mg by mouth daily and Lipitor 20 mg at bedtime. "
    "Denies chest pain or fever. History of hypertension."
)
KINDS = [
    ("entities_detection_v2_job", "entities_detection_v2_jobs"),
    ("phi_detection_job", "phi_detection_jobs"),
    ("icd10_cm_inference_job", "icd10_cm_inference_jobs"),
    ("rx_norm_inference_job", "rx_norm_inference_jobs"),
    ("snomedct_inference_job", "snomedct_inference_jobs"),
]


@pytest.fixture
def mock() -> ComprehendMedicalMock:
    return ComprehendMedicalMock(job_duration=60, queue_seconds=1, stop_seconds=1)


@pytest.fixture
def client(mock: ComprehendMedicalMock) -> ComprehendMedical:
    return mock.client()


def start(client: ComprehendMedical, kind: str = "entities_detection_v2_job", **extra: Any) -> str:
    job_id = getattr(client, f"start_{kind}")(**{**START, **extra}).job_id
    assert job_id is not None
    return str(job_id)


def describe(client: ComprehendMedical, job_id: str, kind: str = "entities_detection_v2_job") -> Any:
    return getattr(client, f"describe_{kind}")(job_id=job_id).comprehend_medical_async_job_properties


def raw(mock: ComprehendMedicalMock, operation: str, body: bytes | dict[str, Any]) -> httpx.Response:
    """POST a hand-built, correctly signed awsJson1_1 request (bypassing client validation)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    url = "https://comprehendmedical.us-east-1.amazonaws.com/"
    headers = {"Content-Type": "application/x-amz-json-1.1",
               "X-Amz-Target": f"ComprehendMedical_20181030.{operation}"}
    headers.update(sign_request("POST", url, headers, content,
                                credentials=Credentials("AKIDMOCK", "mock-secret"),
                                region="us-east-1", service="comprehendmedical",
                                timestamp=datetime.now(timezone.utc)))
    with httpx.Client(transport=mock.transport()) as http:
        return http.post(url, content=content, headers=headers)


# --- job lifecycle ---------------------------------------------------------------

@pytest.mark.parametrize(("kind", "list_kind"), KINDS)
def test_job_moves_submitted_in_progress_completed_on_the_mock_clock(
    mock: ComprehendMedicalMock, client: ComprehendMedical, kind: str, list_kind: str
) -> None:
    job_id = start(client, kind, job_name="nightly")
    assert len(job_id) == 32
    props = describe(client, job_id, kind)
    assert props.job_status is JobStatus.SUBMITTED
    assert props.job_name == "nightly" and props.end_time is None
    mock.advance(1)
    assert describe(client, job_id, kind).job_status is JobStatus.IN_PROGRESS
    mock.advance(60)
    done = describe(client, job_id, kind)
    assert done.job_status is JobStatus.COMPLETED
    assert done.end_time == done.submit_time + timedelta(seconds=61)
    # The job's own folder, named after the role's account, the job type and its id,
    # as AWS's examples show it; the Manifest inside it.
    job_type = {"entities_detection_v2_job": "EntitiesDetection", "phi_detection_job":
                "PHIDetection", "icd10_cm_inference_job": "ICD10CMInference",
                "rx_norm_inference_job": "RxNormInference",
                "snomedct_inference_job": "SNOMEDCTInference"}[kind]
    folder = f"results/123456789012-{job_type}-{job_id}/"
    assert done.output_data_config.s3_key == folder
    assert done.manifest_file_path == f"notes-out/{folder}Manifest"
    assert done.expiration_time > done.submit_time


def test_job_duration_can_differ_per_kind() -> None:
    mock = ComprehendMedicalMock(job_duration={"phi": 5, "entities-v2": 500}, queue_seconds=0)
    client = mock.client()
    phi, entities = start(client, "phi_detection_job"), start(client)
    mock.advance(10)
    assert describe(client, phi, "phi_detection_job").job_status is JobStatus.COMPLETED
    assert describe(client, entities).job_status is JobStatus.IN_PROGRESS


def test_forced_outcomes_complete_fail_and_partial(mock: ComprehendMedicalMock, client: ComprehendMedical) -> None:
    a, b, c = start(client), start(client), start(client)
    mock.complete(a)
    mock.fail(b, "Access denied to the input bucket.")
    mock.partial(c)
    assert describe(client, a).job_status is JobStatus.COMPLETED
    failed = describe(client, b)
    assert failed.job_status is JobStatus.FAILED and failed.message == "Access denied to the input bucket."
    assert failed.end_time is not None and failed.manifest_file_path is None
    assert describe(client, c).job_status is JobStatus.PARTIAL_SUCCESS
    with pytest.raises(KeyError):
        mock.complete("0" * 32)


def test_stop_moves_a_running_job_to_stop_requested_then_stopped(
    mock: ComprehendMedicalMock, client: ComprehendMedical
) -> None:
    job_id = start(client)
    mock.advance(2)
    assert client.stop_entities_detection_v2_job(job_id=job_id).job_id == job_id
    assert describe(client, job_id).job_status is JobStatus.STOP_REQUESTED
    mock.advance(1)
    stopped = describe(client, job_id)
    assert stopped.job_status is JobStatus.STOPPED and stopped.end_time is not None
    mock.advance(100)
    assert describe(client, job_id).job_status is JobStatus.STOPPED


def test_stopping_a_finished_job_is_invalid_request(mock: ComprehendMedicalMock, client: ComprehendMedical) -> None:
    job_id = start(client)
    mock.complete(job_id)
    with pytest.raises(errors.InvalidRequestException) as caught:
        client.stop_entities_detection_v2_job(job_id=job_id)
    assert caught.value.status_code == 400 and "COMPLETED" in caught.value.message


def test_client_request_token_returns_the_same_job(client: ComprehendMedical, mock: ComprehendMedicalMock) -> None:
    first = start(client, client_request_token="token-1")
    assert start(client, client_request_token="token-1") == first
    assert start(client, client_request_token="token-2") != first
    assert len(mock.jobs()) == 2
    with pytest.raises(errors.InvalidRequestException):
        start(client, client_request_token="token-1", job_name="different")


def test_each_kind_sees_only_its_own_jobs(client: ComprehendMedical) -> None:
    entities = start(client)
    phi = start(client, "phi_detection_job")
    with pytest.raises(errors.ResourceNotFoundException) as caught:
        client.describe_phi_detection_job(job_id=entities)
    assert caught.value.status_code == 404
    with pytest.raises(errors.ResourceNotFoundException):
        client.stop_entities_detection_v2_job(job_id=phi)
    listed = client.list_phi_detection_jobs().comprehend_medical_async_job_properties_list
    assert [p.job_id for p in listed or []] == [phi]
    assert client.list_rx_norm_inference_jobs().comprehend_medical_async_job_properties_list == []


def test_unknown_job_id_is_resource_not_found(client: ComprehendMedical) -> None:
    with pytest.raises(errors.ResourceNotFoundException) as caught:
        client.describe_snomedct_inference_job(job_id="f" * 32)
    assert caught.value.request_id


# --- listing -------------------------------------------------------------------

def test_list_pages_through_every_job_exactly_once(client: ComprehendMedical) -> None:
    started = [start(client) for _ in range(23)]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"max_results": 5}
        if token:
            kwargs["next_token"] = token
        page = client.list_entities_detection_v2_jobs(**kwargs)
        seen += [p.job_id for p in page.comprehend_medical_async_job_properties_list or []]
        pages += 1
        token = page.next_token
        if not token:
            break
    assert seen == started and pages == 5


def test_list_filters_by_name_status_and_submit_time(mock: ComprehendMedicalMock, client: ComprehendMedical) -> None:
    early = start(client, job_name="early")
    mock.advance(100)  # early completes
    middle = datetime.fromtimestamp(mock.now(), timezone.utc)
    mock.advance(1)
    late = start(client, job_name="late")

    def ids(**filter_: Any) -> list[str]:
        out = client.list_entities_detection_v2_jobs(filter=filter_)
        return [p.job_id for p in out.comprehend_medical_async_job_properties_list or []]

    assert ids(JobName="late") == [late]
    assert ids(JobStatus="COMPLETED") == [early]
    assert ids(JobStatus="SUBMITTED") == [late]
    assert ids(SubmitTimeBefore=middle) == [early]
    assert ids(SubmitTimeAfter=middle) == [late]
    assert ids(JobName="early", JobStatus="SUBMITTED") == []


def test_list_rejects_bad_max_results_and_tokens(mock: ComprehendMedicalMock) -> None:
    for bad in (0, 501):
        response = raw(mock, "ListPHIDetectionJobs", {"MaxResults": bad})
        assert response.status_code == 400
        assert response.json()["__type"].endswith("#ValidationException")
        assert "maxResults" in response.json()["message"]
    response = raw(mock, "ListPHIDetectionJobs", {"NextToken": "not-a-token"})
    assert response.status_code == 400 and response.json()["__type"].endswith("#ValidationException")
    response = raw(mock, "ListPHIDetectionJobs", {"Filter": {"JobStatus": "DONE"}})
    assert response.status_code == 400 and "enum value set" in response.json()["message"]


# --- Start*Job validation --------------------------------------------------------

def start_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "InputDataConfig": {"S3Bucket": "notes-in"}, "OutputDataConfig": {"S3Bucket": "notes-out"},
        "DataAccessRoleArn": ROLE, "LanguageCode": "en",
    }
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(
    ("changes", "code", "mentions"),
    [
        ({"InputDataConfig": None}, "ValidationException", "inputDataConfig"),
        ({"DataAccessRoleArn": None}, "ValidationException", "dataAccessRoleArn"),
        ({"LanguageCode": None}, "ValidationException", "languageCode"),
        ({"LanguageCode": "fr"}, "ValidationException", "enum value set: [en]"),
        ({"DataAccessRoleArn": "arn:aws:iam::12345:user/someone-else"}, "ValidationException", "regular expression"),
        ({"OutputDataConfig": {"S3Bucket": "Upper_Case"}}, "ValidationException", "outputDataConfig.s3Bucket"),
        ({"InputDataConfig": {"S3Bucket": "ab"}}, "ValidationException", "length greater than or equal to 3"),
        ({"InputDataConfig": {"S3Bucket": "-starts-with-dash"}}, "InvalidRequestException", "bucket"),
        ({"InputDataConfig": {"S3Bucket": "two..dots"}}, "InvalidRequestException", "adjacent dots"),
        ({"InputDataConfig": {"S3Bucket": "192.168.1.10"}}, "InvalidRequestException", "IP address"),
        ({"InputDataConfig": {"S3Bucket": "under_score"}}, "InvalidRequestException", "bucket"),
        ({"KMSKey": "not a key"}, "InvalidRequestException", "KMSKey"),
        ({"KMSKey": ""}, "ValidationException", "kMSKey"),
        ({"ClientRequestToken": "bad token!"}, "ValidationException", "clientRequestToken"),
        ({"JobName": "x" * 257}, "ValidationException", "jobName"),
    ],
)
def test_start_validates_input_as_the_service_does(
    mock: ComprehendMedicalMock, changes: dict[str, Any], code: str, mentions: str
) -> None:
    response = raw(mock, "StartICD10CMInferenceJob", start_body(**changes))
    assert response.status_code == 400
    document = response.json()
    assert document["__type"].rsplit("#", 1)[1] == code
    assert mentions in document["message"]
    assert mock.jobs() == []


@pytest.mark.parametrize(
    "key",
    ["1234abcd-12ab-34cd-56ef-1234567890ab", "alias/clinical",
     "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
     "arn:aws:kms:us-east-1:123456789012:alias/clinical"],
)
def test_start_accepts_every_kms_key_form(mock: ComprehendMedicalMock, key: str) -> None:
    response = raw(mock, "StartRxNormInferenceJob", start_body(KMSKey=key))
    assert response.status_code == 200
    job = mock.jobs("rxnorm")[0]
    assert job["KMSKey"] == key and job["JobId"] == response.json()["JobId"]


def test_unknown_members_are_ignored_as_aws_does(mock: ComprehendMedicalMock) -> None:
    assert raw(mock, "StartPHIDetectionJob", start_body(Extra="x")).status_code == 200


# --- detectors -----------------------------------------------------------------

def test_detect_entities_v2_finds_medications_with_dosage_and_frequency(client: ComprehendMedical) -> None:
    result = client.detect_entities_v2(text=NOTE)
    meds = [e for e in result.entities or [] if e.category == "MEDICATION"]
    assert [(m.text, m.type) for m in meds] == [("aspirin", "GENERIC_NAME"), ("Lipitor", "BRAND_NAME")]
    aspirin = {a.type: a for a in meds[0].attributes or []}
    assert set(aspirin) == {"DOSAGE", "ROUTE_OR_MODE", "FREQUENCY"}
    assert aspirin["DOSAGE"].text == "81 mg" and aspirin["DOSAGE"].relationship_type == "DOSAGE"
    assert aspirin["FREQUENCY"].text == "daily"
    assert not any(e.category == "PROTECTED_HEALTH_INFORMATION" for e in result.entities or [])
    assert result.model_version


def test_every_offset_points_at_its_text(client: ComprehendMedical) -> None:
    text = "Ünïcode ✓ note: Pt denies fever. Aspirin 81 mg daily. Called Jane Doe at 555-987-6543."
    for call in (client.detect_entities_v2, client.detect_entities, client.detect_phi,
                 client.infer_icd10_cm, client.infer_rx_norm, client.infer_snomedct):
        result = call(text=text)  # type: ignore[operator]
        spans = [*(result.entities or [])]
        spans += [a for e in result.entities or [] for a in (e.attributes or [])]
        assert spans, call
        ids = [s.id for s in spans]
        assert len(ids) == len(set(ids))
        for span in spans:
            assert text[span.begin_offset:span.end_offset] == span.text


def test_conditions_carry_negation_and_diagnosis_traits(client: ComprehendMedical) -> None:
    result = client.detect_entities_v2(text=NOTE)
    traits = {e.text: {t.name for t in e.traits or []} for e in result.entities or []
              if e.category == "MEDICAL_CONDITION"}
    assert traits == {"chest pain": {"SYMPTOM", "NEGATION"}, "fever": {"SIGN", "NEGATION"},
                      "hypertension": {"DIAGNOSIS"}}


def test_detect_phi_finds_names_dates_ages_and_phone_numbers(client: ComprehendMedical) -> None:
    found = {(e.type, e.text) for e in client.detect_phi(text=NOTE).entities or []}
    assert found == {("NAME", "John Smith"), ("AGE", "67"), ("DATE", "03/14/2024"),
                     ("PHONE_OR_FAX", "555-123-4567")}


def test_detect_entities_v1_includes_phi_and_no_relationship_types(client: ComprehendMedical) -> None:
    entities = client.detect_entities(text=NOTE).entities or []
    assert any(e.category == "PROTECTED_HEALTH_INFORMATION" for e in entities)
    assert all(a.relationship_type is None for e in entities for a in e.attributes or [])


def test_unmapped_attributes_are_reported(client: ComprehendMedical) -> None:
    result = client.detect_entities_v2(text="Take 500 mg twice daily.")
    assert result.entities == []
    assert [u.attribute.text for u in result.unmapped_attributes or []] == ["500 mg", "twice daily"]


def test_infer_operations_return_codes(client: ComprehendMedical) -> None:
    icd = client.infer_icd10_cm(text=NOTE).entities or []
    assert {(e.text, e.icd10_cm_concepts[0].code) for e in icd} == {
        ("chest pain", "R07.9"), ("fever", "R50.9"), ("hypertension", "I10")}
    rx = client.infer_rx_norm(text=NOTE).entities or []
    assert [(e.text, e.rx_norm_concepts[0].code) for e in rx] == [("aspirin", "1191"), ("Lipitor", "153165")]
    snomed = client.infer_snomedct(text="Chest x-ray for pneumonia.")
    assert [(e.text, e.snomedct_concepts[0].code) for e in snomed.entities or []] == [
        ("Chest x-ray", "399208008"), ("pneumonia", "233604007")]
    assert snomed.characters.original_text_characters == len("Chest x-ray for pneumonia.")
    assert snomed.snomedct_details.edition == "US"


def test_results_are_deterministic(client: ComprehendMedical) -> None:
    assert client.detect_entities_v2(text=NOTE) == client.detect_entities_v2(text=NOTE)


@pytest.mark.parametrize(("operation", "limit"), [
    ("DetectEntitiesV2", 20000), ("DetectEntities", 20000), ("DetectPHI", 20000),
    ("InferICD10CM", 10000), ("InferRxNorm", 10000), ("InferSNOMEDCT", 10000)])
def test_text_over_the_limit_is_text_size_limit_exceeded(mock: ComprehendMedicalMock, operation: str, limit: int) -> None:
    assert raw(mock, operation, {"Text": "a" * limit}).status_code == 200
    response = raw(mock, operation, {"Text": "a" * (limit + 1)})
    assert response.status_code == 400
    assert response.json()["__type"] == "com.amazonaws.comprehendmedical#TextSizeLimitExceededException"


def test_invalid_utf8_is_invalid_encoding(mock: ComprehendMedicalMock) -> None:
    response = raw(mock, "DetectPHI", b'{"Text": "caf\xe9 \xff"}')
    assert response.status_code == 400
    assert response.json()["__type"] == "com.amazonaws.comprehendmedical#InvalidEncodingException"
    lone_surrogate = raw(mock, "InferRxNorm", b'{"Text": "aspirin \\udc80"}')
    assert lone_surrogate.json()["__type"].endswith("#InvalidEncodingException")


def test_empty_text_is_a_validation_error(mock: ComprehendMedicalMock) -> None:
    response = raw(mock, "DetectEntitiesV2", {"Text": ""})
    assert response.status_code == 400 and response.json()["__type"].endswith("#ValidationException")


# --- errors on the wire ----------------------------------------------------------

def test_errors_use_namespaced_type_message_and_request_id(mock: ComprehendMedicalMock) -> None:
    response = raw(mock, "DescribePHIDetectionJob", {"JobId": "abc"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    assert response.json() == {"__type": "com.amazonaws.comprehendmedical#ResourceNotFoundException",
                               "message": "Job with id abc does not exist."}
    assert response.headers["x-amzn-errortype"].startswith("ResourceNotFoundException:")
    assert response.headers["x-amzn-requestid"]


def test_every_response_has_a_unique_request_id(mock: ComprehendMedicalMock) -> None:
    ids = {raw(mock, "ListPHIDetectionJobs", {}).headers["x-amzn-RequestId"] for _ in range(5)}
    ids.add(raw(mock, "Nope", {}).headers["x-amzn-RequestId"])
    assert len(ids) == 6


def test_unknown_operation_and_malformed_json(mock: ComprehendMedicalMock) -> None:
    unknown = raw(mock, "DeleteEverything", {})
    assert unknown.status_code == 400
    assert unknown.json()["__type"] == "com.amazon.coral.service#UnknownOperationException"
    broken = raw(mock, "DetectPHI", b"{not json")
    assert broken.json()["__type"] == "com.amazon.coral.service#SerializationException"


# --- knobs -----------------------------------------------------------------------

def code_of(response: httpx.Response) -> str | None:
    return response.json().get("__type", "#").rsplit("#", 1)[1] if response.status_code != 200 else None


def test_fail_next_injects_faults_then_recovers(mock: ComprehendMedicalMock) -> None:
    mock.fail_next(2, "ServiceUnavailableException")
    answers = [raw(mock, "DetectPHI", {"Text": NOTE}) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert code_of(answers[0]) == "ServiceUnavailableException"
    assert answers[0].json()["__type"] == "com.amazonaws.comprehendmedical#ServiceUnavailableException"


def test_a_retrying_client_rides_out_an_injected_fault(mock: ComprehendMedicalMock, client: ComprehendMedical) -> None:
    mock.fail_next(1, "InternalServerException")
    assert client.detect_phi(text=NOTE).entities
    assert [c.status for c in mock.calls] == [500, 200]


def test_fail_next_can_target_one_operation(mock: ComprehendMedicalMock) -> None:
    mock.fail_next(1, "TooManyRequestsException", operation="StartPHIDetectionJob")
    assert raw(mock, "DetectPHI", {"Text": "x"}).status_code == 200
    assert raw(mock, "StartRxNormInferenceJob", start_body()).status_code == 200
    throttled = raw(mock, "StartPHIDetectionJob", start_body())
    assert throttled.status_code == 400 and code_of(throttled) == "TooManyRequestsException"
    assert mock.jobs("phi") == []
    assert raw(mock, "StartPHIDetectionJob", start_body()).status_code == 200


def test_rate_limit_answers_too_many_requests() -> None:
    mock = ComprehendMedicalMock(rate_limits={"DetectPHI": 3})
    answers = [raw(mock, "DetectPHI", {"Text": "x"}) for _ in range(10)]
    # a bucket of 3 refilling at 3/s cannot pass 10 calls made back to back; the
    # service sends TooManyRequestsException with HTTP 400, not 429
    assert [a.status_code for a in answers[:3]] == [200] * 3
    throttled = [a for a in answers if a.status_code != 200]
    assert throttled and {(a.status_code, code_of(a)) for a in throttled} == {
        (400, "TooManyRequestsException")}
    assert raw(mock, "DetectEntitiesV2", {"Text": "x"}).status_code == 200  # not limited
    mock.set_rate_limit("DetectPHI", None)
    assert [raw(mock, "DetectPHI", {"Text": "x"}).status_code for _ in range(10)] == [200] * 10


def test_service_quota_preset_covers_every_operation() -> None:
    from cmclient._generated.operations import OPERATIONS

    assert set(SERVICE_QUOTAS) == set(OPERATIONS)
    assert SERVICE_QUOTAS["DetectEntitiesV2"] == 100 and SERVICE_QUOTAS["StartPHIDetectionJob"] == 5
    assert SERVICE_QUOTAS["InferSNOMEDCT"] == 2
    limits = ComprehendMedicalMock(rate_limits="aws").rate_limits
    assert {name: limit.tps for name, limit in limits.items()} == SERVICE_QUOTAS
    assert limits["DetectPHI"].chars_per_second == 40_000
    assert limits["InferSNOMEDCT"].chars_per_second == 5_000
    assert limits["ListPHIDetectionJobs"].chars_per_second is None


def test_latency_is_reported_for_the_io_layer_to_apply(mock: ComprehendMedicalMock) -> None:
    mock.set_latency({"DetectPHI": 0.25})
    answer = mock.handle("POST", "/", {}, b"")
    assert answer.delay == 0.0
    assert mock.handle("POST", "/", {"X-Amz-Target": "ComprehendMedical_20181030.DetectPHI"}, b"").delay == 0.25


def test_calls_record_operations_and_outcomes_but_not_text(mock: ComprehendMedicalMock, client: ComprehendMedical) -> None:
    client.detect_phi(text="Jane Doe secret")
    with pytest.raises(errors.ResourceNotFoundException):
        client.describe_phi_detection_job(job_id="x")
    calls = mock.calls
    assert [(c.operation, c.status, c.error_code) for c in calls] == [
        ("DetectPHI", 200, None), ("DescribePHIDetectionJob", 404, "ResourceNotFoundException")]
    assert "Jane" not in repr(calls)
    mock.reset()
    assert mock.calls == []
