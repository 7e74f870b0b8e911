"""The mock's S3 wired to its jobs: a job reads its inputs from ``mock.s3`` when it
starts and writes its outputs there when it ends; Describe says where; boto3's own S3
and Comprehend Medical clients work against ``mock.serve()`` (one port, path-style)
and read the same bytes as cmclient, whichever wrote them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from cmclient import ComprehendMedical, Credentials
from cmclient.testing import ComprehendMedicalMock, MockRequest
from cmclient.testing._s3 import s3_operation

KEY, SECRET = "AKIDMOCKJOBS", "mock-jobs-secret"
ROLE = "arn:aws:iam::210987654321:role/ComprehendMedicalS3"
START = {"InputDataConfig": {"S3Bucket": "notes", "S3Key": "in/"},
         "OutputDataConfig": {"S3Bucket": "results", "S3Key": "out"},
         "DataAccessRoleArn": ROLE, "LanguageCode": "en"}


@pytest.fixture
def mock() -> ComprehendMedicalMock:
    return ComprehendMedicalMock(credentials={KEY: SECRET}, job_duration=10, queue_seconds=1)


@pytest.fixture
def client(mock: ComprehendMedicalMock) -> Iterator[ComprehendMedical]:
    with mock.client(credentials=Credentials(KEY, SECRET), quotas=None) as made:
        yield made


def start(client: ComprehendMedical) -> str:
    return str(client.start_entities_detection_v2_job(
        input_data_config=START["InputDataConfig"],
        output_data_config=START["OutputDataConfig"],
        data_access_role_arn=ROLE, language_code="en").job_id)


def test_a_job_reads_its_inputs_when_it_starts_and_writes_when_its_time_runs_out(
    mock: ComprehendMedicalMock, client: ComprehendMedical
) -> None:
    store = mock.s3.store
    store.put("notes", "in/a.txt", b"Takes aspirin 81 mg daily.")
    store.put("notes", "in/", b"")  # a folder marker: not an input
    job_id = start(client)
    store.put("notes", "in/late.txt", b"Written after the job started.")
    folder = f"out/210987654321-EntitiesDetection-{job_id}/"
    mock.advance(5)
    assert store.keys("results") == []  # nothing before the job ends
    mock.advance(6)
    props = client.describe_entities_detection_v2_job(
        job_id=job_id).comprehend_medical_async_job_properties
    assert props.job_status.value == "COMPLETED"
    assert props.output_data_config.s3_key == folder
    assert props.manifest_file_path == f"results/{folder}Manifest"
    manifest = json.loads(store.get("results", f"{folder}Manifest").body)  # type: ignore[union-attr]
    assert manifest["Summary"]["InputFileCount"] == 1
    assert manifest["Summary"]["TotalDurationSeconds"] == 11
    assert store.get("results", f"{folder}a.txt.out") is not None
    assert store.get("results", f"{folder}late.txt.out") is None
    assert store.get("results", "out/ComprehendMedicalS3WriteTestFile") is not None
    # Written once: reading the job again changes nothing.
    before = store.keys("results")
    mock.advance(100)
    client.describe_entities_detection_v2_job(job_id=job_id)
    assert store.keys("results") == before


def test_forced_ends(mock: ComprehendMedicalMock, client: ComprehendMedical) -> None:
    store = mock.s3.store
    store.put("notes", "in/a.txt", b"Takes aspirin.")
    store.put("notes", "in/bad.txt", b"\xff\xfe")
    completed, partial, failed = start(client), start(client), start(client)
    mock.complete(completed)  # as the inputs say: one file could not be processed
    mock.partial(partial, "Forced by the test.")
    mock.fail(failed)
    statuses = {job["JobId"]: (job["JobStatus"], job.get("Message")) for job in mock.jobs()}
    assert statuses[completed][0] == "PARTIAL_SUCCESS"
    assert "could not be processed" in statuses[completed][1]
    assert statuses[partial] == ("PARTIAL_SUCCESS", "Forced by the test.")
    assert statuses[failed] == ("FAILED", "The job failed.")
    written = {key.split("/")[1] for key in store.keys("results", "out/2")}
    assert written == {f"210987654321-EntitiesDetection-{completed}",
                       f"210987654321-EntitiesDetection-{partial}"}
    # Only bad inputs: the job fails, with the reason as its message.
    store.put("notes", "bad/x.txt", b"\xff")
    only_bad = client.start_phi_detection_job(
        input_data_config={"S3Bucket": "notes", "S3Key": "bad/"},
        output_data_config={"S3Bucket": "results"}, data_access_role_arn=ROLE,
        language_code="en").job_id or ""
    mock.complete(only_bad)
    assert mock.job_status(only_bad) == "FAILED"
    mock.reset()
    assert store.buckets() == [] and mock.jobs() == []


def test_s3_answers_get_the_mock_latency_by_operation(mock: ComprehendMedicalMock) -> None:
    mock.set_latency({"GetObject": 0.25, "DetectPHI": 0.5})
    answer = mock.handle_request(MockRequest.build("GET", "/notes/in/a.txt", {}, b""))
    assert answer.status == 403 and (answer.delay, answer.operation) == (0.25, "GetObject")
    mock.set_latency(0.02)
    listing = mock.handle_request(MockRequest.build("GET", "/notes?list-type=2", {}, b""))
    assert (listing.delay, listing.operation) == (0.02, "ListObjectsV2")
    assert [s3_operation(m, p, q) for m, p, q in (
        ("PUT", "/b/k", ""), ("HEAD", "/b/k", ""), ("DELETE", "/b/k", ""), ("PUT", "/b", ""),
        ("GET", "/", ""), ("POST", "/b/k", ""))] == [
        "PutObject", "HeadObject", "DeleteObject", "CreateBucket", "ListBuckets", "Unknown"]


def boto_clients(url: str) -> tuple[Any, Any]:
    options: dict[str, Any] = {"endpoint_url": url, "region_name": "us-east-1",
                               "aws_access_key_id": KEY, "aws_secret_access_key": SECRET}
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"},
                                          retries={"max_attempts": 1}), **options)
    return s3, boto3.client("comprehendmedical", **options)


def test_boto3_and_cmclient_read_the_same_bytes_on_one_port() -> None:
    mock = ComprehendMedicalMock(credentials={KEY: SECRET}, job_duration=0, queue_seconds=0)
    with mock.serve() as url, ComprehendMedical(
        region="us-east-1", endpoint_url=url, s3_endpoint_url=url, quotas=None,
        credentials=Credentials(KEY, SECRET),
    ) as client:
        s3, medical = boto_clients(url)
        s3.create_bucket(Bucket="shared")
        body = "Note: Mrs. Ana Díaz, aspirin 81 mg daily.\n".encode()
        s3.put_object(Bucket="shared", Key="in/by-boto3.txt", Body=body)
        client.upload_documents({"by-cmclient.txt": "Denies chest pain. Lisinopril 10 mg."},
                                bucket="shared", prefix="in/")
        assert client._s3().get_object("shared", "in/by-boto3.txt").body == body
        got = s3.get_object(Bucket="shared", Key="in/by-cmclient.txt")
        assert got["Body"].read() == b"Denies chest pain. Lisinopril 10 mg."
        assert got["ContentType"] == "text/plain; charset=utf-8"
        # boto3 starts the job; cmclient reads its results; boto3 reads the same objects.
        job_id = medical.start_entities_detection_v2_job(
            InputDataConfig={"S3Bucket": "shared", "S3Key": "in/"},
            OutputDataConfig={"S3Bucket": "shared", "S3Key": "out/"},
            DataAccessRoleArn=ROLE, LanguageCode="en")["JobId"]
        props = medical.describe_entities_detection_v2_job(
            JobId=job_id)["ComprehendMedicalAsyncJobProperties"]
        assert props["JobStatus"] == "COMPLETED"
        output = client.job_results(job_id, kind="entities-v2")
        results = {r.input_name: r for r in output.iter_results()}
        assert sorted(results) == ["by-boto3.txt", "by-cmclient.txt"]
        manifest_bucket, _, manifest_key = props["ManifestFilePath"].partition("/")
        manifest = json.loads(s3.get_object(Bucket=manifest_bucket, Key=manifest_key)["Body"]
                              .read())
        assert manifest["Summary"]["SuccessFilesCount"] == 2
        for name, result in results.items():
            raw = s3.get_object(Bucket="shared", Key=result.output_key)["Body"].read()
            assert json.loads(raw) == result.result.model_dump(by_alias=True,
                                                               exclude_none=True, mode="json")
            assert result.result == client.detect_entities_v2(
                text=s3.get_object(Bucket="shared", Key=f"in/{name}")["Body"].read().decode())


def test_what_goes_to_s3_and_what_to_the_service(mock: ComprehendMedicalMock) -> None:
    def answer(method: str, path: str, headers: dict[str, str]) -> str | None:
        return mock.handle_request(MockRequest.build(method, path, headers, b"{}")).operation

    # Comprehend Medical's: its headers, its CBOR path, or a POST S3 never makes.
    assert answer("POST", "/", {"X-Amz-Target": "ComprehendMedical_20181030.DetectPHI"}) \
        == "DetectPHI"
    assert answer("POST", "/", {}) is None  # the service's error, not S3's
    assert answer("POST", "/bucket", {"Content-Type": "application/x-amz-json-1.1"}) is None
    # S3's: everything else.
    assert answer("GET", "/bucket/key", {}) == "GetObject"
    assert answer("POST", "/bucket/key?uploads", {}) == "Unknown"


def test_boto3_s3_against_the_mock_server_command() -> None:
    import subprocess
    import sys

    server = subprocess.Popen(
        [sys.executable, "-m", "cmclient", "mock-server", "--port", "0", "--credentials",
         f"{KEY}:{SECRET}"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        s3, medical = boto_clients(url)
        s3.create_bucket(Bucket="served")
        s3.put_object(Bucket="served", Key="in/a.txt", Body=b"Takes aspirin.")
        listed = s3.list_objects_v2(Bucket="served", Prefix="in/")
        assert [o["Key"] for o in listed["Contents"]] == ["in/a.txt"]
        assert s3.get_object(Bucket="served", Key="in/a.txt")["Body"].read() == b"Takes aspirin."
        assert medical.detect_phi(Text="Mr. John Smith")["Entities"]  # same port
        bad = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id=KEY, aws_secret_access_key="wrong",
                           config=Config(retries={"max_attempts": 1}))
        with pytest.raises(bad.exceptions.ClientError, match="SignatureDoesNotMatch"):
            bad.get_object(Bucket="served", Key="in/a.txt")
    finally:
        server.terminate()
        server.wait(timeout=10)
