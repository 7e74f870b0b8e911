"""boto3 (test-only) against the loopback server: every operation, over the protocol
botocore picks by default, with awsJson1_1 forced and with rpcv2Cbor forced."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cmclient._generated.operations import OPERATIONS
from cmclient.testing import ComprehendMedicalMock

KEY, SECRET = "AKIDBOTO", "boto-secret"
ROLE = "arn:aws:iam::123456789012:role/ComprehendMedicalData"
NOTE = "Mr. John Smith takes aspirin 81 mg daily. Denies chest pain. History of pneumonia."
JOB_FAMILIES = [
    ("EntitiesDetectionV2Job", "EntitiesDetectionV2Jobs"),
    ("PHIDetectionJob", "PHIDetectionJobs"),
    ("ICD10CMInferenceJob", "ICD10CMInferenceJobs"),
    ("RxNormInferenceJob", "RxNormInferenceJobs"),
    ("SNOMEDCTInferenceJob", "SNOMEDCTInferenceJobs"),
]
DETECTORS = ["DetectEntities", "DetectEntitiesV2", "DetectPHI", "InferICD10CM", "InferRxNorm",
             "InferSNOMEDCT"]


def snake(name: str) -> str:
    """botocore's method name for an operation (xform_name)."""
    return botocore.xform_name(name)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ComprehendMedicalMock, str]]:
    mock = ComprehendMedicalMock(credentials={KEY: SECRET}, job_duration=30, queue_seconds=1)
    with mock.serve() as url:
        yield mock, url


def write_model(folder: Path, protocols: list[str]) -> Path:
    """A copy of botocore's comprehendmedical model advertising only ``protocols``."""
    source = Path(botocore.__file__).parent / "data/comprehendmedical/2018-10-30/service-2.json.gz"
    model = json.loads(gzip.decompress(source.read_bytes()))
    model["metadata"]["protocols"] = protocols
    model["metadata"]["protocol"] = protocols[0]
    target = folder / "comprehendmedical" / "2018-10-30"
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    return folder


@pytest.fixture(params=["default", "json", "smithy-rpc-v2-cbor"])
def boto(request: pytest.FixtureRequest, server: tuple[ComprehendMedicalMock, str],
         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    _mock, url = server
    session = botocore.session.Session()
    if request.param != "default":
        # botocore reads models from AWS_DATA_PATH before its own data folder.
        monkeypatch.setenv("AWS_DATA_PATH", str(write_model(tmp_path, [request.param])))
        session = botocore.session.Session()
    client = boto3.Session(botocore_session=session).client(
        "comprehendmedical", region_name="us-east-1", endpoint_url=url,
        aws_access_key_id=KEY, aws_secret_access_key=SECRET,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    expected = client.meta.service_model.resolved_protocol
    if request.param != "default":
        assert expected == request.param
    client.expected_wire = "cbor" if expected == "smithy-rpc-v2-cbor" else "json"
    yield client
    client.close()


def start_args(name: str | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {
        "InputDataConfig": {"S3Bucket": "notes-in", "S3Key": "batch/"},
        "OutputDataConfig": {"S3Bucket": "notes-out"},
        "DataAccessRoleArn": ROLE, "LanguageCode": "en",
    }
    if name:
        args["JobName"] = name
    return args


def test_every_operation_answers_over_the_chosen_protocol(
    boto: Any, server: tuple[ComprehendMedicalMock, str]
) -> None:
    mock, _ = server
    called: set[str] = set()
    for operation in DETECTORS:
        result = getattr(boto, snake(operation))(Text=NOTE)
        assert result["Entities"], operation
        for entity in result["Entities"]:
            assert NOTE[entity["BeginOffset"]:entity["EndOffset"]] == entity["Text"]
        called.add(operation)
    for family, plural in JOB_FAMILIES:
        job_id = getattr(boto, snake(f"Start{family}"))(**start_args("b3"))["JobId"]
        props = getattr(boto, snake(f"Describe{family}"))(JobId=job_id)[
            "ComprehendMedicalAsyncJobProperties"]
        assert props["JobStatus"] == "SUBMITTED"
        assert props["SubmitTime"].tzinfo is not None  # a real timestamp on the wire
        listed = getattr(boto, snake(f"List{plural}"))(Filter={"JobName": "b3"})
        assert job_id in [p["JobId"] for p in listed["ComprehendMedicalAsyncJobPropertiesList"]]
        assert getattr(boto, snake(f"Stop{family}"))(JobId=job_id)["JobId"] == job_id
        called |= {f"Start{family}", f"Describe{family}", f"List{plural}", f"Stop{family}"}
    assert called == set(OPERATIONS)
    assert mock.calls[-1].protocol == boto.expected_wire


def test_job_lifecycle_and_timestamps(boto: Any, server: tuple[ComprehendMedicalMock, str]) -> None:
    mock, _ = server
    job_id = boto.start_rx_norm_inference_job(**start_args())["JobId"]
    assert len(job_id) == 32
    mock.advance(2)
    assert boto.describe_rx_norm_inference_job(JobId=job_id)[
        "ComprehendMedicalAsyncJobProperties"]["JobStatus"] == "IN_PROGRESS"
    mock.advance(30)
    props = boto.describe_rx_norm_inference_job(JobId=job_id)["ComprehendMedicalAsyncJobProperties"]
    assert props["JobStatus"] == "COMPLETED"
    assert (props["EndTime"] - props["SubmitTime"]).total_seconds() == pytest.approx(31, abs=0.01)
    failed = boto.start_rx_norm_inference_job(**start_args())["JobId"]
    mock.fail(failed, "Role cannot read the input bucket.")
    props = boto.describe_rx_norm_inference_job(JobId=failed)["ComprehendMedicalAsyncJobProperties"]
    assert (props["JobStatus"], props["Message"]) == ("FAILED", "Role cannot read the input bucket.")
    with pytest.raises(ClientError) as caught:
        boto.stop_rx_norm_inference_job(JobId=failed)
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"


def test_paging_with_next_token(boto: Any) -> None:
    name = f"page-{boto.expected_wire}-{id(boto)}"
    started = [boto.start_icd10_cm_inference_job(**start_args(name))["JobId"] for _ in range(7)]
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Filter": {"JobName": name}, "MaxResults": 3}
    while True:
        page = boto.list_icd10_cm_inference_jobs(**kwargs)
        seen += [p["JobId"] for p in page["ComprehendMedicalAsyncJobPropertiesList"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert seen == started


def test_submit_time_filters_travel_as_timestamps(boto: Any, server: tuple[ComprehendMedicalMock, str]) -> None:
    from datetime import datetime, timezone

    mock, _ = server
    name = f"time-{boto.expected_wire}-{id(boto)}"
    first = boto.start_phi_detection_job(**start_args(name))["JobId"]
    mock.advance(10)
    cut = datetime.fromtimestamp(mock.now() - 5, timezone.utc)
    second = boto.start_phi_detection_job(**start_args(name))["JobId"]

    def ids(**filter_: Any) -> list[str]:
        page = boto.list_phi_detection_jobs(Filter={"JobName": name, **filter_})
        return [p["JobId"] for p in page["ComprehendMedicalAsyncJobPropertiesList"]]

    assert ids(SubmitTimeBefore=cut) == [first]
    assert ids(SubmitTimeAfter=cut) == [second]


@pytest.mark.parametrize(
    ("call", "code", "status"),
    [
        (lambda b: b.describe_entities_detection_v2_job(JobId="0" * 32), "ResourceNotFoundException", 404),
        (lambda b: b.detect_entities_v2(Text="a" * 20001), "TextSizeLimitExceededException", 400),
        (lambda b: b.infer_snomedct(Text="a" * 10001), "TextSizeLimitExceededException", 400),
        (lambda b: b.start_phi_detection_job(**{**start_args(), "LanguageCode": "de"}), "ValidationException", 400),
        (lambda b: b.start_phi_detection_job(**{**start_args(), "DataAccessRoleArn": "arn:aws:iam::1:role/x"}), "ValidationException", 400),
        (lambda b: b.start_phi_detection_job(**{**start_args(), "InputDataConfig": {"S3Bucket": "bad..name"}}), "InvalidRequestException", 400),
        (lambda b: b.list_phi_detection_jobs(NextToken="garbage"), "ValidationException", 400),
    ],
)
def test_error_classes_reach_boto3(boto: Any, call: Any, code: str, status: int) -> None:
    with pytest.raises(ClientError) as caught:
        call(boto)
    response = caught.value.response
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert response["ResponseMetadata"]["RequestId"]
    assert response["Error"]["Message"]
    # modeled errors surface as the client's exception classes too
    if code in ("ResourceNotFoundException", "TextSizeLimitExceededException", "InvalidRequestException"):
        assert isinstance(caught.value, getattr(boto.exceptions, code))


def test_injected_faults_and_throttling_reach_boto3(boto: Any, server: tuple[ComprehendMedicalMock, str]) -> None:
    mock, _ = server
    mock.fail_next(1, "InternalServerException", operation="DetectPHI")
    with pytest.raises(boto.exceptions.InternalServerException):
        boto.detect_phi(Text="x")
    mock.set_rate_limit("InferRxNorm", 1)
    try:
        with pytest.raises(boto.exceptions.TooManyRequestsException):
            for _ in range(20):
                boto.infer_rx_norm(Text="x")
    finally:
        mock.set_rate_limit("InferRxNorm", None)


def test_boto3_with_wrong_keys_is_refused(server: tuple[ComprehendMedicalMock, str]) -> None:
    _, url = server
    for key, secret, code in (("AKIDBOTO", "wrong", "InvalidSignatureException"),
                              ("AKIDUNKNOWN", SECRET, "UnrecognizedClientException")):
        client = boto3.client("comprehendmedical", region_name="us-east-1", endpoint_url=url,
                              aws_access_key_id=key, aws_secret_access_key=secret,
                              config=Config(retries={"total_max_attempts": 1}))
        with pytest.raises(ClientError) as caught:
            client.detect_phi(Text="x")
        assert caught.value.response["Error"]["Code"] == code
        client.close()
