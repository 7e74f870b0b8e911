"""The client's batch methods against an S3 nobody here wrote: moto's server mode.
``upload_documents`` writes what boto3 reads back, and ``job_results`` reads a job's
output as boto3 laid it out (PARTIAL_SUCCESS, the write-test object, a split note's
parts), the job's description given as the service would return it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from cmclient import ComprehendMedical, Credentials, errors, models
from cmclient._protocol.batch import KINDS

BUCKET = "moto-notes"
ACCOUNT = "111122223333"
JOB = "c0ffeec0ffeec0ffeec0ffeec0ffee00"


@pytest.fixture(scope="module")
def moto() -> Iterator[tuple[Any, ComprehendMedical]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="AKIDMOTO", aws_secret_access_key="moto")
    boto.create_bucket(Bucket=BUCKET)
    try:
        with ComprehendMedical(region="us-east-1", endpoint_url="http://127.0.0.1:1",
                               s3_endpoint_url=url, quotas=None,
                               credentials=Credentials("AKIDMOTO", "moto")) as client:
            yield boto, client
    finally:
        server.stop()


def test_uploads_read_back_by_boto3(moto: tuple[Any, ComprehendMedical]) -> None:
    boto, client = moto
    long = "Lisinopril 10 mg daily. Denies chest pain.\n\n" * 1200
    config = client.upload_documents({"a.txt": "Takes aspirin.", "n/long.txt": long},
                                     bucket=BUCKET, prefix="up")
    assert config == models.InputDataConfig(s3_bucket=BUCKET, s3_key="up/")
    keys = [o["Key"] for o in boto.list_objects_v2(Bucket=BUCKET, Prefix="up")["Contents"]]
    assert "up/a.txt" in keys and "up.cmclient-parts.json" in keys
    parts = sorted(k for k in keys if k.startswith("up/n/long.txt.part-"))
    assert len(parts) >= 2
    record = json.loads(boto.get_object(Bucket=BUCKET, Key="up.cmclient-parts.json")
                        ["Body"].read())
    spans = record["Documents"]["n/long.txt"]["Parts"]
    assert [f"up/{span['Name']}" for span in spans] == parts
    for span, key in zip(spans, parts, strict=True):
        body = boto.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert body.decode() == long[span["Begin"]:span["End"]]
    got = boto.get_object(Bucket=BUCKET, Key="up/a.txt")
    assert got["Body"].read() == b"Takes aspirin."
    assert got["ContentType"] == "text/plain; charset=utf-8"


def test_job_results_from_a_layout_boto3_wrote(moto: tuple[Any, ComprehendMedical]) -> None:
    boto, client = moto
    long = "Lisinopril 10 mg daily. Denies chest pain.\n\n" * 1200
    client.upload_documents({"a.txt": "Takes aspirin 81 mg.", "long.txt": long},
                            bucket=BUCKET, prefix="job/in/")
    record = json.loads(boto.get_object(Bucket=BUCKET, Key="job/in.cmclient-parts.json")
                        ["Body"].read())
    spans = record["Documents"]["long.txt"]["Parts"]
    folder = f"job/out/{ACCOUNT}-EntitiesDetection-{JOB}/"
    lists = f"{folder}Manifest_{ACCOUNT}-EntitiesDetection-{JOB}/"

    def put(key: str, document: Any) -> None:
        boto.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document).encode())

    # Each part analysed as the real-time operation would; the unprocessed one listed.
    part_results = []
    for span in spans:
        text = long[span["Begin"]:span["End"]]
        entities = [{"Id": 0, "BeginOffset": text.index("Lisinopril"),
                     "EndOffset": text.index("Lisinopril") + 10, "Score": 0.99,
                     "Text": "Lisinopril", "Category": "MEDICATION", "Type": "GENERIC_NAME",
                     "Traits": [], "Attributes": []}]
        part_results.append({"Entities": entities, "ModelVersion": "2.4.0"})
        put(f"{folder}{span['Name']}.out", part_results[-1])
    put(f"{folder}a.txt.out", {"Entities": [], "ModelVersion": "2.4.0"})
    boto.put_object(Bucket=BUCKET, Key="job/out/ComprehendMedicalS3WriteTestFile", Body=b"")
    put(f"{lists}success/SuccessFiles.json", {"Files": []})
    put(f"{lists}failed/UnprocessedFiles.json", {"Files": [
        {"Input": f"s3://{BUCKET}/job/in/big.txt", "ErrorCode": "INPUT_SIZE_EXCEEDED",
         "ErrorMessage": "File size exceeds the 40 KB limit."}]})
    put(f"{folder}Manifest", {"Summary": {
        "Status": "PARTIAL_SUCCESS", "InputFileCount": 2 + len(spans),
        "SuccessFilesCount": 1 + len(spans), "UnprocessedFilesCount": 1,
        "SuccessfulFilesListLocation": f"s3://{BUCKET}/{lists}success/SuccessFiles.json",
        "UnprocessedFilesListLocation": f"s3://{BUCKET}/{lists}failed/UnprocessedFiles.json"}})
    props = models.ComprehendMedicalAsyncJobProperties.model_validate({
        "JobId": JOB, "JobStatus": "PARTIAL_SUCCESS",
        "InputDataConfig": {"S3Bucket": BUCKET, "S3Key": "job/in/"},
        "OutputDataConfig": {"S3Bucket": BUCKET, "S3Key": "job/out/"}})  # a bare prefix

    output = client._job_output(KINDS["entities-v2"], JOB, props, 4)
    assert output.status == "PARTIAL_SUCCESS" and output.location.folder == folder
    got = {r.input_name: r.result for r in output.iter_results()}
    assert sorted(got) == ["a.txt", "long.txt"]
    starts = [e.begin_offset for e in got["long.txt"].entities or []]
    assert starts == [span["Begin"] + part["Entities"][0]["BeginOffset"]
                      for span, part in zip(spans, part_results, strict=True)]
    assert all(long[s:s + 10] == "Lisinopril" for s in starts)
    assert [(u.input_name, u.error_code) for u in output.unprocessed] == [
        ("big.txt", "INPUT_SIZE_EXCEEDED")]
    # The Manifest gone: a clear error, not a bare NoSuchKey.
    boto.delete_object(Bucket=BUCKET, Key=f"{folder}Manifest")
    with pytest.raises(errors.JobOutputNotFoundError, match="Manifest"):
        client._job_output(KINDS["entities-v2"], JOB, props.model_copy(update={
            "output_data_config": models.OutputDataConfig(s3_bucket=BUCKET,
                                                          s3_key=folder)}), 4)
