"""The batch methods of the sync client against the mock, S3 included: documents in
(``upload_documents``), results out (``job_results``), and both with a job between
(``run_batch``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmclient import ComprehendMedical, Credentials, errors, models
from cmclient._protocol.batch import KINDS, parts_index_key
from cmclient._protocol.names import xform_name
from cmclient.testing import ComprehendMedicalMock
from cmclient.testing._clinical import DETECTORS

KEY, SECRET = "AKIDBATCHCLIENT", "batch-client-secret"
ROLE = "arn:aws:iam::123456789012:role/ComprehendMedicalS3"
BUCKET = "clinic-notes"
NOTES = {
    "2024/note-1.txt": "Pt is a 64 y/o male with hypertension. Started lisinopril 10 mg PO "
                       "daily.",
    "2024/note-2.txt": "Mr. John Smith takes aspirin 81 mg daily. Denies chest pain.",
    "note-3.txt": "History of pneumonia and type 2 diabetes; metformin 500 mg BID.",
}


def long_note(paragraphs: int = 250) -> str:
    """A note well over 40,000 bytes, with entities on both sides of any cut."""
    day = ("Day {n}: the patient denies chest pain but reports a mild headache. "
           "Lisinopril 10 mg PO daily was continued for hypertension; metformin 500 mg "
           "twice daily for type 2 diabetes. Aspirin 81 mg daily. Lungs clear.\n")
    return "DISCHARGE SUMMARY\n\n" + "\n".join(day.format(n=n) for n in range(paragraphs))


@pytest.fixture
def mock() -> ComprehendMedicalMock:
    return ComprehendMedicalMock(credentials={KEY: SECRET}, job_duration=5, queue_seconds=1)


@pytest.fixture
def client(mock: ComprehendMedicalMock) -> Iterator[ComprehendMedical]:
    with mock.client(credentials=Credentials(KEY, SECRET), quotas=None) as made:
        yield made


def start(client: ComprehendMedical, kind: str = "entities-v2", prefix: str = "in/",
          output: str = "out/") -> str:
    method = getattr(client, f"start_{xform_name(KINDS[kind].job)}")
    return str(method(input_data_config={"S3Bucket": BUCKET, "S3Key": prefix},
                      output_data_config={"S3Bucket": BUCKET, "S3Key": output},
                      data_access_role_arn=ROLE, language_code="en").job_id)


# --- documents in --------------------------------------------------------------------------

def test_upload_takes_a_mapping_pairs_or_paths(
    client: ComprehendMedical, mock: ComprehendMedicalMock, tmp_path: Path
) -> None:
    config = client.upload_documents(NOTES, bucket=BUCKET, prefix="in")
    assert config == models.InputDataConfig(s3_bucket=BUCKET, s3_key="in/")
    store = mock.s3.store
    for name, text in NOTES.items():
        stored = store.get(BUCKET, f"in/{name}")
        assert stored is not None and stored.body == text.encode()
        assert stored.content_type == "text/plain; charset=utf-8"
    client.upload_documents([("a.txt", "Takes aspirin."), ("b.txt", b"Denies fever.")],
                            bucket=BUCKET, prefix="pairs/")
    assert store.keys(BUCKET, "pairs/") == ["pairs/a.txt", "pairs/b.txt"]
    (tmp_path / "c.txt").write_bytes("Café, aspirin 81 mg.".encode())
    client.upload_documents([tmp_path / "c.txt"], bucket=BUCKET, prefix="paths/")
    assert store.get(BUCKET, "paths/c.txt").body == "Café, aspirin 81 mg.".encode()  # type: ignore[union-attr]
    # No record of parts when nothing was split.
    assert store.get(BUCKET, parts_index_key("in/")) is None


def test_every_document_is_checked_before_any_upload(
    client: ComprehendMedical, mock: ComprehendMedicalMock, tmp_path: Path
) -> None:
    secret_text = "Patient Jane Roe, SSN 123-45-6789."
    with pytest.raises(errors.ParamValidationError) as caught:
        client.upload_documents([
            ("fine.txt", "Takes aspirin."),
            ("latin1.txt", "café".encode("latin-1")),
            ("empty.txt", ""),
            ("../up.txt", secret_text),
            ("fine.txt", secret_text),
            ("surrogate.txt", "\ud800"),
        ], bucket=BUCKET, prefix="in/")
    problems = dict(caught.value.problems)
    assert set(problems) == {"documents['latin1.txt']", "documents['empty.txt']",
                             "documents['../up.txt']", "documents['fine.txt']",
                             "documents['surrogate.txt']"}
    assert "UTF-8" in problems["documents['latin1.txt']"]
    assert "Jane" not in str(caught.value)
    assert mock.s3.store.buckets() == []  # nothing was sent
    with pytest.raises(errors.ParamValidationError, match="cannot be read"):
        client.upload_documents([tmp_path / "missing.txt"], bucket=BUCKET, prefix="in/")
    with pytest.raises(errors.ParamValidationError, match="bucket"):
        client.upload_documents(NOTES, bucket="Not A Bucket", prefix="in/")
    with pytest.raises(errors.ParamValidationError, match="documents"):
        client.upload_documents("note.txt", bucket=BUCKET, prefix="in/")  # type: ignore[arg-type]


def test_a_long_note_is_split_and_its_parts_recorded_beside_the_input(
    client: ComprehendMedical, mock: ComprehendMedicalMock
) -> None:
    note = long_note()
    assert len(note.encode()) > 40_000
    client.upload_documents({"long.txt": note, "short.txt": "Takes aspirin."}, bucket=BUCKET,
                            prefix="in/")
    keys = mock.s3.store.keys(BUCKET, "in/")
    parts = [k for k in keys if k.startswith("in/long.txt.part-")]
    assert parts[0] == "in/long.txt.part-001" and len(parts) >= 2
    assert "in/long.txt" not in keys and "in/short.txt" in keys
    bodies = [mock.s3.store.get(BUCKET, k).body for k in parts]  # type: ignore[union-attr]
    assert all(len(body) <= 40_000 for body in bodies)
    record = json.loads(mock.s3.store.get(BUCKET, "in.cmclient-parts.json").body)  # type: ignore[union-attr]
    spans = record["Documents"]["long.txt"]["Parts"]
    assert [s["Name"] for s in spans] == [k.removeprefix("in/") for k in parts]
    for span, body in zip(spans, bodies, strict=True):
        assert note[span["Begin"]:span["End"]] == body.decode()
    # A split needs a folder: the record cannot go beside the bucket's root.
    with pytest.raises(errors.ParamValidationError, match="prefix"):
        client.upload_documents({"long.txt": note}, bucket=BUCKET, prefix="")


# --- results out ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
def test_batch_results_equal_the_real_time_operation_on_each_document(
    client: ComprehendMedical, mock: ComprehendMedicalMock, kind: str
) -> None:
    client.upload_documents(NOTES, bucket=BUCKET, prefix="in/")
    job_id = start(client, kind)
    with pytest.raises(errors.JobNotFinishedError):
        client.job_results(job_id, kind=kind)
    mock.advance(10)  # the job's time runs out: it writes its outputs
    output = client.job_results(job_id, kind=kind)
    assert output.status == "COMPLETED" and output.unprocessed == []
    assert output.manifest is not None and output.manifest.summary.success_files_count == 3
    batch = {r.input_name: r.result for r in output.iter_results()}
    operation = getattr(client, xform_name(KINDS[kind].operation))
    assert sorted(batch) == sorted(NOTES)
    for name, text in NOTES.items():
        assert batch[name] == operation(text=text)


def test_partial_success_gives_the_results_and_the_unprocessed_files(
    client: ComprehendMedical, mock: ComprehendMedicalMock
) -> None:
    client.upload_documents(NOTES, bucket=BUCKET, prefix="in/")
    mock.s3.store.put(BUCKET, "in/latin1.txt", "café".encode("latin-1"))
    mock.s3.store.put(BUCKET, "in/big.txt", b"aspirin " * 6000)
    job_id = start(client, "phi")
    mock.complete(job_id)  # as the job would end: its inputs say PARTIAL_SUCCESS
    props = client.describe_phi_detection_job(
        job_id=job_id).comprehend_medical_async_job_properties
    assert props.job_status is models.JobStatus.PARTIAL_SUCCESS and props.message
    output = client.job_results(job_id, kind="phi")
    assert output.status == "PARTIAL_SUCCESS" and output.partial
    assert sorted(r.input_name for r in output.iter_results()) == sorted(NOTES)
    reasons = {u.input_name: u.error_code for u in output.unprocessed}
    assert reasons == {"latin1.txt": "InvalidEncodingException",
                       "big.txt": "TextSizeLimitExceededException"}


def test_a_split_note_comes_back_joined_with_offsets_on_the_whole_note(
    client: ComprehendMedical, mock: ComprehendMedicalMock
) -> None:
    note = long_note()
    client.upload_documents({"long.txt": note, "short.txt": "Takes aspirin 81 mg."},
                            bucket=BUCKET, prefix="in/")
    job_id = start(client)
    mock.complete(job_id)
    output = client.job_results(job_id, kind="entities-v2")
    results = {r.input_name: r.result for r in output.iter_results()}
    assert sorted(results) == ["long.txt", "short.txt"]
    joined = results["long.txt"]
    whole = models.DetectEntitiesV2Response.model_validate(
        DETECTORS["DetectEntitiesV2"](note))
    spans = [(e.begin_offset, e.end_offset, e.type, e.text) for e in joined.entities]
    assert spans == [(e.begin_offset, e.end_offset, e.type, e.text) for e in whole.entities]
    for entity in joined.entities:
        assert note[entity.begin_offset:entity.end_offset] == entity.text
        for attribute in entity.attributes or ():
            assert note[attribute.begin_offset:attribute.end_offset] == attribute.text
    assert len({e.id for e in joined.entities}) == len(joined.entities)
    assert joined.entities[-1].begin_offset > 40_000


def test_a_split_note_with_a_part_unprocessed_is_listed_unprocessed(
    client: ComprehendMedical, mock: ComprehendMedicalMock
) -> None:
    client.upload_documents({"long.txt": long_note(), "short.txt": "Takes aspirin."},
                            bucket=BUCKET, prefix="in/")
    mock.s3.store.put(BUCKET, "in/long.txt.part-002", b"\xff not UTF-8")
    job_id = start(client)
    mock.complete(job_id)
    output = client.job_results(job_id, kind="entities-v2")
    assert [r.input_name for r in output.iter_results()] == ["short.txt"]
    (skipped,) = output.unprocessed
    assert skipped.input_name == "long.txt"
    assert skipped.error_code == "InvalidEncodingException"
    assert (skipped.error_message or "").startswith("part 2 of ")


def test_a_job_without_results_is_a_clear_error(
    client: ComprehendMedical, mock: ComprehendMedicalMock
) -> None:
    client.upload_documents(NOTES, bucket=BUCKET, prefix="in/")
    failed = start(client)
    mock.fail(failed, "Access denied to the output bucket.")
    with pytest.raises(errors.JobFailedError, match="Access denied"):
        client.job_results(failed, kind="entities-v2")
    stopped = start(client)
    client.stop_entities_detection_v2_job(job_id=stopped)
    mock.advance(2)
    with pytest.raises(errors.JobStoppedError):
        client.job_results(stopped, kind="entities-v2")
    # A job whose input bucket the mock's S3 does not have ends without writing.
    elsewhere = client.start_entities_detection_v2_job(
        input_data_config={"S3Bucket": "no-such-bucket", "S3Key": "in/"},
        output_data_config={"S3Bucket": BUCKET, "S3Key": "out/"},
        data_access_role_arn=ROLE, language_code="en").job_id
    mock.complete(elsewhere)
    with pytest.raises(errors.JobOutputNotFoundError) as caught:
        client.job_results(elsewhere, kind="entities-v2")
    assert isinstance(caught.value, errors.BatchResultsError)
    with pytest.raises(errors.ParamValidationError, match="kind"):
        client.job_results(failed, kind="nope")
    with pytest.raises(errors.ResourceNotFoundException):
        client.job_results("0" * 32, kind="phi")


def test_the_job_folder_is_found_by_a_listing_when_the_description_does_not_name_it(
    client: ComprehendMedical, mock: ComprehendMedicalMock
) -> None:
    client.upload_documents(NOTES, bucket=BUCKET, prefix="in/")
    job_id = start(client, output="out/")
    other = start(client, output="out/")
    mock.complete(job_id)
    mock.complete(other)
    props = client.describe_entities_detection_v2_job(
        job_id=job_id).comprehend_medical_async_job_properties
    # As if the service reported the bare prefix that was sent, and no Manifest path.
    bare = props.model_copy(update={
        "output_data_config": models.OutputDataConfig(s3_bucket=BUCKET, s3_key="out/"),
        "manifest_file_path": None})
    output = client._job_output(KINDS["entities-v2"], job_id, bare, 4)
    assert output.location.folder == props.output_data_config.s3_key
    assert sorted(r.input_name for r in output.iter_results()) == sorted(NOTES)


def test_more_than_a_page_of_results_streams_whole(
    client: ComprehendMedical, mock: ComprehendMedicalMock
) -> None:
    for n in range(1_003):
        mock.s3.store.put(BUCKET, f"many/n{n:04d}.txt", b"Takes aspirin.")
    job_id = start(client, "rx-norm", prefix="many/")
    mock.complete(job_id)
    output = client.job_results(job_id, kind="rx-norm", max_concurrency=8)
    names = [r.input_name for r in output.iter_results()]
    assert len(names) == 1_003 and len(set(names)) == 1_003
    with pytest.raises(errors.ParamValidationError, match="max_concurrency"):
        client.job_results(job_id, kind="rx-norm", max_concurrency=0)


# --- the whole path ---------------------------------------------------------------------------

def test_run_batch_uploads_starts_waits_and_reads(mock: ComprehendMedicalMock) -> None:
    fast = ComprehendMedicalMock(credentials={KEY: SECRET}, job_duration=0, queue_seconds=0)
    seen: list[Any] = []
    with fast.client(credentials=Credentials(KEY, SECRET), quotas=None) as client:
        output = client.run_batch(
            {**NOTES, "long.txt": long_note()}, kind="icd10-cm", bucket=BUCKET,
            input_prefix="run/in/", output_prefix="run/out/", data_access_role_arn=ROLE,
            job_name="nightly", poll_interval=0.01, timeout=10, on_progress=seen.append,
            client_request_token="token-1")
        results = {r.input_name: r.result for r in output.iter_results()}
        assert output.status == "COMPLETED" and sorted(results) == sorted([*NOTES, "long.txt"])
        for name, text in NOTES.items():
            assert results[name] == client.infer_icd10_cm(text=text)
        assert seen and seen[-1].job_status is models.JobStatus.COMPLETED
        assert isinstance(results["long.txt"], models.InferICD10CMResponse)
        # The same request token: the same job, not a second one.
        again = client.run_batch(
            NOTES, kind="icd10-cm", bucket=BUCKET, input_prefix="run/in/",
            output_prefix="run/out/", data_access_role_arn=ROLE, job_name="nightly",
            poll_interval=0.01, timeout=10, client_request_token="token-1")
        assert again.job_id == output.job_id
        assert len(fast.jobs("icd10cm")) == 1


def test_run_batch_checks_everything_before_the_first_upload(
    client: ComprehendMedical, mock: ComprehendMedicalMock
) -> None:
    common: dict[str, Any] = {"kind": "entities-v2", "bucket": BUCKET,
                              "data_access_role_arn": ROLE}
    with pytest.raises(errors.ParamValidationError, match="output_prefix"):
        client.run_batch(NOTES, input_prefix="in/", output_prefix="in/out/", **common)
    with pytest.raises(errors.ParamValidationError):
        client.run_batch(NOTES, input_prefix="in/", output_prefix="out/",
                         **{**common, "data_access_role_arn": "not-an-arn"})
    with pytest.raises(errors.ParamValidationError, match="kind"):
        client.run_batch(NOTES, input_prefix="in/", output_prefix="out/",
                         **{**common, "kind": "nope"})
    assert mock.s3.store.buckets() == []
    assert mock.jobs() == []


def test_errors_moved_into_the_tree_are_still_in_the_batch_module() -> None:
    from cmclient._protocol import batch as _batch

    assert _batch.BatchResultsError is errors.BatchResultsError
    assert _batch.JobNotFinishedError is errors.JobNotFinishedError
    assert _batch.JobOutputNotFoundError is errors.JobOutputNotFoundError
    assert issubclass(errors.JobNotFinishedError, errors.ComprehendMedicalError)
