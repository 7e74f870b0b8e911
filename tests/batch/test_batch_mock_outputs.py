"""A batch job's outputs as the mock lays them out (``write_job_outputs``), read back
through the mock's S3 with cmclient's S3 driver: the layout the issue describes, the
input rules (over 40,000 bytes, not UTF-8: unprocessed, PARTIAL_SUCCESS), and, for
every kind, results equal to the real-time operation's on each document."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from batch_reader import read_job_output

from cmclient._protocol import batch as _batch
from cmclient._protocol.names import xform_name
from cmclient._protocol.s3_endpoint import S3Endpoint
from cmclient._sync.s3 import S3
from cmclient.credentials import Credentials
from cmclient.testing import ComprehendMedicalMock
from cmclient.testing._clinical import DETECTORS
from cmclient.testing._s3 import MockS3, S3Store, read_job_inputs, write_job_outputs

KEY, SECRET = "AKIDBATCH", "batch-secret"
NOTES = {
    "in/note-1.txt": "Pt is a 64 y/o male with hypertension. Started lisinopril 10 mg PO daily.",
    "in/note-2.txt": "Mr. John Smith takes aspirin 81 mg daily. Denies chest pain.",
    "in/sub/note-3.txt": "History of pneumonia and type 2 diabetes; metformin 500 mg BID.",
}


@pytest.fixture
def mock() -> Iterator[tuple[ComprehendMedicalMock, S3Store]]:
    store = S3Store()
    service = ComprehendMedicalMock(
        credentials={KEY: SECRET},
        fallback=MockS3(store, region="us-east-1", credentials={KEY: SECRET}))
    yield service, store


@pytest.fixture
def s3(mock: tuple[ComprehendMedicalMock, S3Store]) -> Iterator[S3]:
    with httpx.Client(transport=mock[0].transport()) as http:
        yield S3(http, endpoint=S3Endpoint("http://mock.test", "us-east-1", configured=True),
                 credentials=Credentials(KEY, SECRET))


def seed(s3: S3, extra: dict[str, bytes] | None = None) -> None:
    for key, text in NOTES.items():
        s3.put_object("inb", key, text.encode(), content_type="text/plain; charset=utf-8")
    for key, data in (extra or {}).items():
        s3.put_object("inb", key, data)


def describe(job_id: str, outcome: Any, output_key: str) -> dict[str, Any]:
    return {"JobId": job_id, "JobStatus": outcome.status, "Message": outcome.message,
            "InputDataConfig": {"S3Bucket": "inb", "S3Key": "in/"},
            "OutputDataConfig": {"S3Bucket": "outb", "S3Key": output_key}}


def test_partial_success_layout(mock: tuple[ComprehendMedicalMock, S3Store], s3: S3) -> None:
    _service, store = mock
    seed(s3, {"in/big.txt": b"a" * 40_001, "in/latin1.txt": "café".encode("latin-1"),
              "in/": b""})
    inputs = read_job_inputs(store, "inb", "in/")
    s3.put_object("inb", "in/late.txt", b"written after the job started")
    job = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    outcome = write_job_outputs(
        store, job_id=job, kind="entities-v2", input_bucket="inb", input_prefix="in/",
        output_bucket="outb", output_prefix="out", analyse=DETECTORS["DetectEntitiesV2"],
        inputs=inputs, duration_seconds=42.4)
    folder = f"out/111122223333-EntitiesDetection-{job}/"
    assert outcome.status == "PARTIAL_SUCCESS" and outcome.folder == folder
    assert (outcome.processed, outcome.unprocessed) == (3, 2)
    keys = set(store.keys("outb"))
    assert {f"{folder}note-1.txt.out", f"{folder}note-2.txt.out", f"{folder}sub/note-3.txt.out",
            f"{folder}Manifest", "out/ComprehendMedicalS3WriteTestFile"} <= keys
    assert f"{folder}late.txt.out" not in keys and f"{folder}big.txt.out" not in keys

    manifest = json.loads(s3.get_object("outb", f"{folder}Manifest").body)["Summary"]
    assert manifest["Status"] == "PARTIAL_SUCCESS"
    assert (manifest["InputFileCount"], manifest["SuccessFilesCount"],
            manifest["UnprocessedFilesCount"]) == (5, 3, 2)
    assert manifest["TotalMeteredCharacters"] == sum(len(t) for t in NOTES.values())
    assert manifest["TotalDurationSeconds"] == 42
    success_bucket, success_key = _batch.parse_s3_location(manifest["SuccessfulFilesListLocation"])
    success = json.loads(s3.get_object(success_bucket, success_key).body)["Files"]
    assert {"Input": "s3://inb/in/note-1.txt", "Output": f"s3://outb/{folder}note-1.txt.out",
            "InputSize": len(NOTES["in/note-1.txt"])} in success

    # Read back from the bare prefix that was sent, and from the folder, as AWS shows it.
    for output_key in ("out", folder):
        output = read_job_output(s3, job, "entities-v2", describe(job, outcome, output_key))
        assert output.status == "PARTIAL_SUCCESS"
        names = sorted(r.input_name for r in output.iter_results())
        assert names == ["note-1.txt", "note-2.txt", "sub/note-3.txt"]
        reasons = {u.input_name: u.error_code for u in output.unprocessed}
        assert reasons == {"big.txt": "TextSizeLimitExceededException",
                           "latin1.txt": "InvalidEncodingException"}


@pytest.mark.parametrize("kind", ["entities-v2", "phi", "icd10-cm", "rx-norm", "snomedct"])
def test_batch_results_equal_the_real_time_operation(
    mock: tuple[ComprehendMedicalMock, S3Store], s3: S3, kind: str
) -> None:
    service, store = mock
    seed(s3)
    found = _batch.batch_kind(kind)
    job = hashlib.md5(kind.encode()).hexdigest()
    outcome = write_job_outputs(
        store, job_id=job, kind=kind, input_bucket="inb", input_prefix="in/",
        output_bucket="outb", output_prefix="results/", analyse=DETECTORS[found.operation])
    assert outcome.status == "COMPLETED"
    output = read_job_output(s3, job, kind, describe(job, outcome, "results/"))
    batch = {r.input_name: r.result for r in output.iter_results()}
    assert output.unprocessed == [] and len(batch) == 3
    client = service.client(credentials=Credentials(KEY, SECRET))
    try:
        operation = getattr(client, xform_name(found.operation))
        for key, text in NOTES.items():
            assert batch[key.removeprefix("in/")] == operation(text=text)
    finally:
        client.close()


def test_jobs_with_nothing_to_process_fail(mock: tuple[ComprehendMedicalMock, S3Store]) -> None:
    _service, store = mock
    empty = write_job_outputs(
        store, job_id="j1", kind="phi", input_bucket="inb", input_prefix="nothing/",
        output_bucket="outb", output_prefix="o/", analyse=DETECTORS["DetectPHI"])
    assert empty.status == "FAILED" and "No input files" in (empty.message or "")
    store.put("inb", "bad/x.txt", b"\xff\xfe")
    bad = write_job_outputs(
        store, job_id="j2", kind="icd10cm", input_bucket="inb", input_prefix="bad/",
        output_bucket="outb", output_prefix="o/", analyse=DETECTORS["InferICD10CM"])
    assert bad.status == "FAILED" and bad.unprocessed == 1
    manifest = json.loads(store.get("outb", bad.manifest_key).body)  # type: ignore[union-attr]
    assert manifest["Summary"]["FailedJobErrorMessage"] == bad.message
    assert manifest["Summary"]["JobType"] == "ICD10CMInference"

    def broken(text: str) -> dict[str, Any]:
        raise RuntimeError(text)

    store.put("inb", "ok/x.txt", b"Patient Jane Roe")
    failed = write_job_outputs(
        store, job_id="j3", kind="rx-norm", input_bucket="inb", input_prefix="ok/",
        output_bucket="outb", output_prefix="o/", analyse=broken)
    listed = json.loads(store.get(  # type: ignore[union-attr]
        "outb", "o/111122223333-RxNormInference-j3/Manifest_111122223333-RxNormInference-j3/"
                "failed/UnprocessedFiles.json").body)
    assert failed.status == "FAILED"
    assert listed["Files"][0]["ErrorCode"] == "InternalServerException"
    assert "Jane" not in json.dumps(listed)


def test_a_forced_status_is_written_to_the_manifest(
        mock: tuple[ComprehendMedicalMock, S3Store]) -> None:
    _service, store = mock
    store.put("inb", "f/x.txt", b"Takes aspirin.")
    outcome = write_job_outputs(
        store, job_id="j4", kind="snomedct", input_bucket="inb", input_prefix="f/",
        output_bucket="outb", output_prefix="o/", analyse=DETECTORS["InferSNOMEDCT"],
        status="PARTIAL_SUCCESS", write_test_file=False)
    manifest = json.loads(store.get("outb", outcome.manifest_key).body)  # type: ignore[union-attr]
    assert outcome.status == manifest["Summary"]["Status"] == "PARTIAL_SUCCESS"
    assert store.get("outb", "o/ComprehendMedicalS3WriteTestFile") is None
    assert outcome.processed == 1

