"""The batch layout's pure rules by example: kinds, input rules, part names, finding
the job folder, what each object is, input names, and typed parsing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from cmclient import errors
from cmclient._protocol import batch as _batch
from cmclient._protocol.batch import JobLocation, KeyKind, Lookup
from cmclient.models import (
    DetectEntitiesV2Response,
    DetectPHIResponse,
    InferICD10CMResponse,
    InferRxNormResponse,
    InferSNOMEDCTResponse,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "operations"
JOB = "ab9887877365fe70299089371c043b96"
FOLDER = f"out/111122223333-SomeJobTypeWord-{JOB}/"


def response_of(operation_file: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / operation_file).read_text())["response"]
    return loaded


@pytest.mark.parametrize(("kind", "fixture", "model"), [
    ("entities-v2", "detect_entities_v2.json", DetectEntitiesV2Response),
    ("phi", "detect_phi.json", DetectPHIResponse),
    ("icd10-cm", "infer_icd10_cm.json", InferICD10CMResponse),
    ("rx-norm", "infer_rx_norm.json", InferRxNormResponse),
    ("snomedct", "infer_snomedct.json", InferSNOMEDCTResponse),
])
def test_out_files_parse_into_the_real_time_response_model(
    kind: str, fixture: str, model: type[Any]
) -> None:
    document = response_of(fixture)
    document["SomethingNewFromAWS"] = {"x": 1}  # forward compatible
    parsed = _batch.parse_output(kind, json.dumps(document).encode(), key="k.out")
    assert type(parsed) is model
    assert parsed == model.model_validate(response_of(fixture))


def test_a_bad_out_file_names_its_key_and_quotes_nothing() -> None:
    with pytest.raises(errors.ResponseParseError) as caught:
        _batch.parse_output("entities-v2", b'{"Entities": "Jane Doe has diabetes"}',
                            key="out/n.txt.out")
    assert "out/n.txt.out" in str(caught.value)
    assert "Jane" not in str(caught.value)


@pytest.mark.parametrize(("given", "name"), [
    ("entities-v2", "entities-v2"), ("ENTITIES_V2", "entities-v2"), ("icd10cm", "icd10-cm"),
    ("rxnorm", "rx-norm"), ("rx_norm", "rx-norm"), ("snomedct", "snomedct"), ("phi", "phi"),
])
def test_kinds_and_their_spellings(given: str, name: str) -> None:
    assert _batch.batch_kind(given).kind == name


def test_an_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(errors.ParamValidationError) as caught:
        _batch.batch_kind("entities")  # an alias of entities-v2 is fine...
        _batch.batch_kind("ner")
    assert "entities-v2, phi, icd10-cm, rx-norm, snomedct" in str(caught.value)
    assert _batch.batch_kind("entities-v2").describe_operation == "DescribeEntitiesDetectionV2Job"
    assert _batch.batch_kind("rx-norm").start_operation == "StartRxNormInferenceJob"


def test_input_rules() -> None:
    assert _batch.document_problem("é".encode() * 20_000) is None  # exactly 40,000 bytes
    too_long = _batch.document_problem(b"a" * 40_001)
    assert too_long is not None and too_long.code == "TextSizeLimitExceededException"
    latin1 = _batch.document_problem("café".encode("latin-1"))
    assert latin1 is not None and latin1.code == "InvalidEncodingException"
    assert _batch.encode_document("n.txt", "Patient denies pain.") == b"Patient denies pain."
    with pytest.raises(errors.ParamValidationError) as caught:
        _batch.encode_document("a//b.txt", "secret note text " * 3000)
    message = str(caught.value)
    assert "'//'" in message and "40000 bytes" in message and "secret" not in message
    with pytest.raises(errors.ParamValidationError):
        _batch.encode_document("n.txt", "\ud800")


def test_part_names_round_trip() -> None:
    assert _batch.part_name("notes/a.txt", 1) == "notes/a.txt.part-001"
    assert _batch.split_part_name("notes/a.txt.part-012") == ("notes/a.txt", 12)
    assert _batch.split_part_name("notes/a.txt") is None
    with pytest.raises(ValueError):
        _batch.part_name("a", 0)


def test_s3_locations_in_every_form() -> None:
    assert _batch.parse_s3_location("s3://b/out/x/Manifest") == ("b", "out/x/Manifest")
    assert _batch.parse_s3_location("b/out/x/Manifest") == ("b", "out/x/Manifest")
    assert _batch.parse_s3_location("in/a.txt", default_bucket="b") == ("b", "in/a.txt")
    assert _batch.parse_s3_location("b/in/a.txt", default_bucket="b") == ("b", "in/a.txt")
    assert _batch.as_folder("out") == "out/" and _batch.as_folder("") == ""
    assert _batch.input_folder("in/notes-") == "in/" and _batch.input_folder("in") == ""


def test_the_job_folder_from_a_bare_output_prefix_needs_a_listing() -> None:
    where = _batch.locate_job_output(JOB, "outb", "out/")
    assert where == Lookup("outb", "out/", "/", None)
    assert isinstance(where, Lookup)
    prefixes = ["out/111122223333-Other-0123/", f"out/Manifest_x-{JOB}/",
                f"out/111122223333-SomeJobTypeWord-{JOB}/", "out/unrelated/"]
    assert _batch.pick_job_folder(JOB, where, prefixes) == JobLocation(
        "outb", FOLDER, f"{FOLDER}Manifest")
    with pytest.raises(_batch.JobOutputNotFoundError):
        _batch.pick_job_folder(JOB, where, ["out/111122223333-X-other/"])


def test_the_job_folder_as_aws_examples_show_it() -> None:
    assert _batch.locate_job_output(JOB, "outb", FOLDER) == JobLocation(
        "outb", FOLDER, f"{FOLDER}Manifest")
    assert _batch.locate_job_output(JOB, "outb", FOLDER.rstrip("/"),
                                    f"outb/{FOLDER}Manifest") == JobLocation(
        "outb", FOLDER, f"{FOLDER}Manifest")
    # A bare prefix, but the description's ManifestFilePath names the folder.
    assert _batch.locate_job_output(JOB, "outb", "out", f"s3://outb/{FOLDER}Manifest") == (
        JobLocation("outb", FOLDER, f"{FOLDER}Manifest"))
    # The bare job id as folder name (the mock's older layout) is recognised too.
    assert _batch.locate_job_output(JOB, "outb", f"out/{JOB}/") == JobLocation(
        "outb", f"out/{JOB}/", f"out/{JOB}/Manifest")


@pytest.mark.parametrize(("relative", "kind"), [
    ("note.txt.out", KeyKind.OUTPUT),
    ("sub/dir/note.txt.out", KeyKind.OUTPUT),
    ("Manifest", KeyKind.MANIFEST),
    ("Manifest.out", KeyKind.OUTPUT),  # the result of an input named "Manifest"
    ("ComprehendMedicalS3WriteTestFile", KeyKind.WRITE_TEST),
    (f"Manifest_111122223333-X-{JOB}/success/SuccessFiles.json", KeyKind.FILE_LIST),
    (f"Manifest_111122223333-X-{JOB}/failed/UnprocessedFiles.json", KeyKind.FILE_LIST),
    ("Manifest_note.txt.out", KeyKind.OUTPUT),
    ("readme.md", KeyKind.OTHER),
    (".out", KeyKind.OTHER),
])
def test_what_each_object_is(relative: str, kind: KeyKind) -> None:
    assert _batch.classify_key(FOLDER + relative, FOLDER) is kind


def test_file_lists_named_by_the_manifest_are_never_results() -> None:
    odd = f"{FOLDER}lists/success.out"
    assert _batch.classify_key(odd, FOLDER) is KeyKind.OUTPUT
    assert _batch.classify_key(odd, FOLDER, file_lists={odd}) is KeyKind.FILE_LIST
    assert _batch.classify_key("elsewhere/a.out", FOLDER) is KeyKind.OTHER


def test_input_names_are_relative_to_the_input_prefix() -> None:
    assert _batch.input_name_for_output(f"{FOLDER}a.txt.out", FOLDER, "in/") == "a.txt"
    assert _batch.input_name_for_output(f"{FOLDER}sub/a.txt.out", FOLDER, "in/") == "sub/a.txt"
    assert _batch.input_name_for_output(f"{FOLDER}in/a.txt.out", FOLDER, "in/") == "a.txt"
    assert _batch.input_name_for_location("s3://inb/in/sub/a.txt", "inb", "in/") == "sub/a.txt"
    assert _batch.input_name_for_location("inb/in/a.txt", "inb", "in/") == "a.txt"
    assert _batch.input_name_for_location("in/a.txt", "inb", "in/") == "a.txt"
    location = JobLocation("outb", FOLDER, f"{FOLDER}Manifest")
    keys = [f"{FOLDER}Manifest", f"{FOLDER}a.txt.out", f"{FOLDER}ComprehendMedicalS3WriteTestFile",
            f"{FOLDER}Manifest_x/success/SuccessFiles.json", f"{FOLDER}b/c.txt.out"]
    assert list(_batch.output_keys(iter(keys), location, "in/")) == [
        (f"{FOLDER}a.txt.out", "a.txt"), (f"{FOLDER}b/c.txt.out", "b/c.txt")]


AWS_MANIFEST = {
    "Summary": {
        "Status": "PARTIAL_SUCCESS",
        "JobType": "EntitiesDetection",
        "InputDataConfiguration": {"Bucket": "inb", "Path": "in/"},
        "OutputDataConfiguration": {"Bucket": "outb", "Path": FOLDER},
        "InputFileCount": 3,
        "TotalMeteredCharacters": "1234",
        "UnprocessedFilesCount": 1,
        "SuccessFilesCount": 2,
        "TotalDurationSeconds": 52,
        "SuccessfulFilesListLocation": f"s3://outb/{FOLDER}Manifest_x/success/SuccessFiles.json",
        "UnprocessedFilesListLocation": f"s3://outb/{FOLDER}Manifest_x/failed/Unprocessed.json",
        "FailedJobErrorMessage": None,
        "SomeFutureMember": [1, 2],
    }
}


def test_manifest_and_file_lists_are_typed_and_forward_compatible() -> None:
    manifest = _batch.parse_manifest(json.dumps(AWS_MANIFEST).encode())
    summary = manifest.summary
    assert summary.status == "PARTIAL_SUCCESS" and summary.total_metered_characters == 1234
    assert summary.input_data_configuration is not None
    assert summary.input_data_configuration.path == "in/"
    future = _batch.parse_manifest(json.dumps({"Summary": {"Status": "ARCHIVED"}}).encode())
    assert future.summary.status == "ARCHIVED"
    with pytest.raises(errors.ResponseParseError):
        _batch.parse_manifest(b'{"NotASummary": 1}')
    listed = _batch.parse_file_list(json.dumps({"Files": [
        {"Input": "s3://inb/in/big.txt", "ErrorCode": "TextSizeLimitExceededException",
         "ErrorMessage": "too big"},
        {"Input": "s3://inb/in/sub/a.txt", "Output": "s3://outb/x.out", "InputSize": 10},
    ]}).encode())
    unprocessed = _batch.unprocessed_documents(listed, "inb", "in/")
    assert [u.input_name for u in unprocessed] == ["big.txt", "sub/a.txt"]
    assert unprocessed[0].error_code == "TextSizeLimitExceededException"


@pytest.mark.parametrize("status", ["SUBMITTED", "IN_PROGRESS", "STOP_REQUESTED", None])
def test_results_of_an_unfinished_job_are_a_clear_error(status: str | None) -> None:
    with pytest.raises(_batch.JobNotFinishedError) as caught:
        _batch.check_results_ready(JOB, status)
    assert JOB in str(caught.value) and "wait" in str(caught.value)


def test_results_of_ended_jobs() -> None:
    assert _batch.check_results_ready(JOB, "COMPLETED") == "COMPLETED"
    assert _batch.check_results_ready(JOB, "PARTIAL_SUCCESS") == "PARTIAL_SUCCESS"
    with pytest.raises(errors.JobFailedError):
        _batch.check_results_ready(JOB, "FAILED", "no read access")
    with pytest.raises(errors.JobStoppedError):
        _batch.check_results_ready(JOB, "STOPPED")


def test_job_output_streams_what_its_driver_gives() -> None:
    result = DetectEntitiesV2Response.model_validate(response_of("detect_entities_v2.json"))
    location = JobLocation("outb", FOLDER, f"{FOLDER}Manifest")

    def results() -> Iterator[_batch.DocumentResult[DetectEntitiesV2Response]]:
        yield _batch.DocumentResult("a.txt", result, f"{FOLDER}a.txt.out")

    async def aresults() -> AsyncIterator[_batch.DocumentResult[DetectEntitiesV2Response]]:
        yield _batch.DocumentResult("a.txt", result, f"{FOLDER}a.txt.out")

    common: dict[str, Any] = dict(job_id=JOB, kind=_batch.batch_kind("entities-v2"),
                                  status="PARTIAL_SUCCESS", manifest=None, location=location,
                                  unprocessed=[_batch.UnprocessedDocument("big.txt")])
    sync_output = _batch.JobOutput(results=results, **common)
    assert [r.input_name for r in sync_output.iter_results()] == ["a.txt"]
    assert sync_output.partial and "unprocessed=1" in repr(sync_output)

    async def collect() -> list[str]:
        output = _batch.AsyncJobOutput(results=aresults, **common)
        return [r.input_name async for r in output.iter_results()]

    assert asyncio.run(collect()) == ["a.txt"]


def test_the_parts_record_is_never_under_the_input_prefix() -> None:
    for prefix in ("in/", "in", "a/b/notes/", "a/b/notes"):
        key = _batch.parts_index_key(prefix)
        assert not key.startswith(_batch.as_folder(prefix))  # the S3Key the job is given
    assert _batch.parts_index_key("in/") == "in.cmclient-parts.json"
    for empty in ("", "/"):
        with pytest.raises(errors.ParamValidationError):
            _batch.parts_index_key(empty)
