"""A finished job's outputs laid out by boto3 in moto (an S3 nobody here wrote), as the
service documents them, read back with cmclient's S3 driver and the batch rules: a
PARTIAL_SUCCESS job with unprocessed files, the write-test object, both shapes of
OutputDataConfig, and a JobType word cmclient has never seen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from batch_reader import read_job_output
from moto.server import ThreadedMotoServer

from cmclient import errors
from cmclient._protocol import batch as _batch
from cmclient._protocol.s3_endpoint import S3Endpoint
from cmclient._sync.s3 import S3
from cmclient.credentials import Credentials
from cmclient.models import DetectEntitiesV2Response, InferICD10CMResponse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "operations"
IN_BUCKET, OUT_BUCKET = "clinic-in", "clinic-out"
ACCOUNT = "111122223333"


def response_of(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())["response"]
    return loaded


@pytest.fixture(scope="module")
def moto() -> Iterator[tuple[Any, S3]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="AKIDMOTO", aws_secret_access_key="moto")
    boto.create_bucket(Bucket=IN_BUCKET)
    boto.create_bucket(Bucket=OUT_BUCKET)
    try:
        with httpx.Client(timeout=10) as http:
            yield boto, S3(http, endpoint=S3Endpoint(url, "us-east-1", configured=True),
                           credentials=Credentials("AKIDMOTO", "moto"))
    finally:
        server.stop()


def put_json(boto: Any, key: str, document: Any) -> None:
    boto.put_object(Bucket=OUT_BUCKET, Key=key, Body=json.dumps(document).encode())


def test_partial_success_from_a_bare_output_prefix(moto: tuple[Any, S3]) -> None:
    boto, s3 = moto
    job = "f00dfeedf00dfeedf00dfeedf00dfeed"
    folder = f"results/{ACCOUNT}-DetectEntitiesV2Job-{job}/"
    lists = f"results/Manifest_{ACCOUNT}-DetectEntitiesV2Job-{job}/"
    inputs = {"in/a.txt": b"Started lisinopril.", "in/sub/b.txt": b"Denies chest pain.",
              "in/big.txt": b"x" * 40_001}
    for key, body in inputs.items():
        boto.put_object(Bucket=IN_BUCKET, Key=key, Body=body)
    result = response_of("detect_entities_v2.json")
    put_json(boto, f"{folder}a.txt.out", result)
    put_json(boto, f"{folder}sub/b.txt.out", {**result, "Entities": []})
    boto.put_object(Bucket=OUT_BUCKET, Key="results/ComprehendMedicalS3WriteTestFile", Body=b"")
    boto.put_object(Bucket=OUT_BUCKET, Key=f"{folder}ComprehendMedicalS3WriteTestFile", Body=b"")
    # Another job's folder beside it, which must not be read.
    put_json(boto, f"results/{ACCOUNT}-DetectEntitiesV2Job-0123abcd/x.txt.out", result)
    put_json(boto, f"{lists}success/SuccessFiles.json", {"Files": [
        {"Input": f"s3://{IN_BUCKET}/in/a.txt", "Output": f"s3://{OUT_BUCKET}/{folder}a.txt.out",
         "InputSize": 19},
        {"Input": f"s3://{IN_BUCKET}/in/sub/b.txt",
         "Output": f"s3://{OUT_BUCKET}/{folder}sub/b.txt.out", "InputSize": 18}]})
    put_json(boto, f"{lists}failed/UnprocessedFiles.json", {"Files": [
        {"Input": f"s3://{IN_BUCKET}/in/big.txt", "ErrorCode": "INPUT_SIZE_EXCEEDED",
         "ErrorMessage": "File size exceeds the 40 KB limit."}]})
    put_json(boto, f"{folder}Manifest", {"Summary": {
        "Status": "PARTIAL_SUCCESS", "JobType": "DetectEntitiesV2Job",
        "InputDataConfiguration": {"Bucket": IN_BUCKET, "Path": "in/"},
        "OutputDataConfiguration": {"Bucket": OUT_BUCKET, "Path": folder},
        "InputFileCount": 3, "TotalMeteredCharacters": 37, "UnprocessedFilesCount": 1,
        "SuccessFilesCount": 2, "TotalDurationSeconds": 61,
        "SuccessfulFilesListLocation": f"s3://{OUT_BUCKET}/{lists}success/SuccessFiles.json",
        "UnprocessedFilesListLocation": f"s3://{OUT_BUCKET}/{lists}failed/UnprocessedFiles.json",
    }})
    props = {"JobId": job, "JobStatus": "PARTIAL_SUCCESS", "Message": "1 file not processed",
             "InputDataConfig": {"S3Bucket": IN_BUCKET, "S3Key": "in/"},
             "OutputDataConfig": {"S3Bucket": OUT_BUCKET, "S3Key": "results/"}}

    output = read_job_output(s3, job, "entities-v2", props)
    assert output.status == "PARTIAL_SUCCESS" and output.partial
    assert output.location.folder == folder
    assert output.manifest is not None and output.manifest.summary.success_files_count == 2
    results = {r.input_name: r.result for r in output.iter_results()}
    assert sorted(results) == ["a.txt", "sub/b.txt"]
    assert results["a.txt"] == DetectEntitiesV2Response.model_validate(result)
    assert results["sub/b.txt"].entities == []
    (skipped,) = output.unprocessed
    assert (skipped.input_name, skipped.error_code) == ("big.txt", "INPUT_SIZE_EXCEEDED")
    assert skipped.error_message == "File size exceeds the 40 KB limit."


def test_output_config_holding_the_job_folder_as_in_aws_examples(moto: tuple[Any, S3]) -> None:
    boto, s3 = moto
    job = "0badc0de0badc0de0badc0de0badc0de"
    folder = f"ontology/{ACCOUNT}-ICD10CMInference-{job}/"
    result = response_of("infer_icd10_cm.json")
    put_json(boto, f"{folder}note 1.txt.out", result)
    put_json(boto, f"{folder}Manifest", {"Summary": {"Status": "COMPLETED",
                                                     "SuccessFilesCount": 1,
                                                     "UnprocessedFilesCount": 0}})
    boto.put_object(Bucket=OUT_BUCKET, Key=f"{folder}ComprehendMedicalS3WriteTestFile", Body=b"")
    props = {"JobId": job, "JobStatus": "COMPLETED",
             "InputDataConfig": {"S3Bucket": IN_BUCKET, "S3Key": "ontology-in/"},
             "OutputDataConfig": {"S3Bucket": OUT_BUCKET, "S3Key": folder},
             "ManifestFilePath": f"{OUT_BUCKET}/{folder}Manifest"}
    output = read_job_output(s3, job, "icd10-cm", props)
    (only,) = list(output.iter_results())
    assert only.input_name == "note 1.txt"
    assert only.result == InferICD10CMResponse.model_validate(result)
    assert output.status == "COMPLETED" and output.unprocessed == []


def test_missing_objects_and_unfinished_jobs(moto: tuple[Any, S3]) -> None:
    _boto, s3 = moto
    props = {"JobId": "feedface", "JobStatus": "COMPLETED",
             "InputDataConfig": {"S3Bucket": IN_BUCKET, "S3Key": "in/"},
             "OutputDataConfig": {"S3Bucket": OUT_BUCKET, "S3Key": "nowhere/"}}
    with pytest.raises(_batch.JobOutputNotFoundError):
        read_job_output(s3, "feedface", "phi", props)
    props["OutputDataConfig"] = {"S3Bucket": OUT_BUCKET, "S3Key": "nowhere/1-X-feedface/"}
    with pytest.raises(errors.NoSuchKey):
        read_job_output(s3, "feedface", "phi", props)
    with pytest.raises(_batch.JobNotFinishedError):
        read_job_output(s3, "feedface", "phi", {**props, "JobStatus": "IN_PROGRESS"})
