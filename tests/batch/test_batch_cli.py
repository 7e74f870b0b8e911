"""``cmclient run-batch`` and ``cmclient job-results`` against the mock's loopback
server (Comprehend Medical and S3 on one port), run in-process."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmclient import ComprehendMedical, Credentials
from cmclient.cli._batch import _result_path
from cmclient.cli._main import _Runner, _top_parser
from cmclient.testing import ComprehendMedicalMock

KEY, SECRET = "AKIDBATCHCLI", "batch-cli-secret"
ROLE = "arn:aws:iam::123456789012:role/ComprehendMedicalS3"
NOTES = {
    "a.txt": "Pt is a 64 y/o male with hypertension. Started lisinopril 10 mg PO daily.",
    "sub/b.txt": "Mr. John Smith takes aspirin 81 mg daily. Denies chest pain.",
}


class Ran:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def cli(*argv: str) -> Ran:
    out, err = io.StringIO(), io.StringIO()
    code = _Runner(out, err).run(list(argv))
    return Ran(code, out.getvalue(), err.getvalue())


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ComprehendMedicalMock, list[str]]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    mock = ComprehendMedicalMock(credentials={KEY: SECRET}, queue_seconds=0.05,
                                 job_duration=0.15)
    with mock.serve() as url:
        yield mock, ["--endpoint-url", url, "--s3-endpoint-url", url]


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    for name, text in NOTES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / ".DS_Store").write_bytes(b"\x00\xff")  # hidden: skipped
    return folder


RUN = ["--bucket", "cli-notes", "--input-prefix", "in/", "--output-prefix", "out/",
       "--role-arn", ROLE]


def test_run_batch_waits_and_writes_one_file_per_document(
    served: tuple[ComprehendMedicalMock, list[str]], notes: Path, tmp_path: Path
) -> None:
    mock, where = served
    results = tmp_path / "results"
    ran = cli("run-batch", "--input-dir", str(notes), *RUN, "--kind", "entities-v2",
              "--wait", "--wait-poll-interval", "0.05", "--output-dir", str(results), *where)
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out)
    assert summary["JobStatus"] == "COMPLETED" and summary["Documents"] == 2
    assert summary["Unprocessed"] == [] and summary["Manifest"]["SuccessFilesCount"] == 2
    assert summary["OutputLocation"].startswith("s3://cli-notes/out/123456789012-")
    job_id = summary["JobId"]
    statuses = [line.split("\t")[1] for line in ran.err.splitlines() if "\t" in line]
    assert statuses[0] == "SUBMITTED" and statuses[-1] == "COMPLETED"
    assert "Uploaded 2 documents to s3://cli-notes/in/" in ran.err
    written = sorted(p.relative_to(results).as_posix() for p in results.rglob("*.json"))
    assert written == ["a.txt.json", "sub/b.txt.json"]
    with ComprehendMedical(region="us-east-1", endpoint_url=where[1],
                           credentials=Credentials(KEY, SECRET)) as client:
        for name, text in NOTES.items():
            saved = json.loads((results / f"{name}.json").read_text())
            assert saved == json.loads(client.detect_entities_v2(text=text).model_dump_json(
                by_alias=True, exclude_none=True))
    assert mock.s3.store.get("cli-notes", "in/.DS_Store") is None
    assert all(text not in ran.err for text in NOTES.values())

    # job-results reads the same job again; without --output-dir, JSON lines on stdout.
    again = cli("job-results", "--job-id", job_id, "--kind", "entities-v2", *where)
    assert again.code == 0, again.err
    lines = [json.loads(line) for line in again.out.splitlines()]
    assert sorted(line["InputName"] for line in lines) == sorted(NOTES)
    assert f"Job {job_id} COMPLETED: 2 documents, 0 unprocessed" in again.err


def test_run_batch_without_wait_starts_the_job_and_says_how_to_read_it(
    served: tuple[ComprehendMedicalMock, list[str]], notes: Path
) -> None:
    _mock, where = served
    ran = cli("run-batch", "--input-dir", str(notes), *RUN, "--kind", "phi", *where)
    assert ran.code == 0, ran.err
    started = json.loads(ran.out)
    assert started["InputDataConfig"] == {"S3Bucket": "cli-notes", "S3Key": "in/"}
    assert started["OutputDataConfig"] == {"S3Bucket": "cli-notes", "S3Key": "out/"}
    assert f"cmclient job-results --job-id {started['JobId']} --kind phi --wait" in ran.err
    # Too early: a clear error, then --wait makes it wait.
    early = cli("job-results", "--job-id", started["JobId"], "--kind", "phi", *where)
    assert early.code == 255 and "wait for it first" in early.err
    waited = cli("job-results", "--job-id", started["JobId"], "--kind", "phi", "--wait",
                 "--wait-poll-interval", "0.05", *where)
    assert waited.code == 0, waited.err
    assert len(waited.out.splitlines()) == 2


def test_job_results_of_a_partial_job_lists_the_unprocessed_and_exits_254(
    served: tuple[ComprehendMedicalMock, list[str]], tmp_path: Path
) -> None:
    mock, where = served
    store = mock.s3.store
    store.put("cli-notes", "p/good.txt", b"Takes aspirin 81 mg daily.")
    store.put("cli-notes", "p/latin1.txt", "café".encode("latin-1"))
    with ComprehendMedical(region="us-east-1", endpoint_url=where[1],
                           credentials=Credentials(KEY, SECRET)) as client:
        job_id = client.start_rx_norm_inference_job(
            input_data_config={"S3Bucket": "cli-notes", "S3Key": "p/"},
            output_data_config={"S3Bucket": "cli-notes", "S3Key": "p-out/"},
            data_access_role_arn=ROLE, language_code="en").job_id or ""
    mock.complete(job_id)
    lines = cli("job-results", "--job-id", job_id, "--kind", "rx-norm", *where)
    assert lines.code == 254
    by_name = {json.loads(line)["InputName"]: json.loads(line) for line in lines.out.splitlines()}
    assert "Result" in by_name["good.txt"]
    assert by_name["latin1.txt"]["Error"]["Code"] == "InvalidEncodingException"
    files = cli("job-results", "--job-id", job_id, "--kind", "rx-norm", "--output-dir",
                str(tmp_path / "r"), *where)
    assert files.code == 254
    summary = json.loads(files.out)
    assert summary["JobStatus"] == "PARTIAL_SUCCESS"
    assert [u["InputName"] for u in summary["Unprocessed"]] == ["latin1.txt"]
    assert [p.name for p in (tmp_path / "r").iterdir()] == ["good.txt.json"]


def test_bad_command_lines_and_bad_notes(notes: Path, tmp_path: Path) -> None:
    missing = cli("run-batch", "--input-dir", str(notes), "--kind", "phi")
    assert missing.code == 252 and "required" in missing.err
    wrong_kind = cli("job-results", "--job-id", "x", "--kind", "entities")
    assert wrong_kind.code == 252
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = cli("run-batch", "--input-dir", str(empty), *RUN, "--kind", "phi",
                  "--endpoint-url", "http://127.0.0.1:1")
    assert nothing.code == 252 and "no files" in nothing.err
    (notes / "latin1.txt").write_bytes("Señor Pérez".encode("latin-1"))
    bad = cli("run-batch", "--input-dir", str(notes), *RUN, "--kind", "phi",
              "--endpoint-url", "http://127.0.0.1:1", "--s3-endpoint-url", "http://127.0.0.1:1",
              "--region", "us-east-1")
    assert bad.code == 252 and "latin1.txt" in bad.err and "Pérez" not in bad.err
    listed = _top_parser().format_help()
    assert "run-batch" in listed and "job-results" in listed


def test_result_files_never_leave_the_output_folder(tmp_path: Path) -> None:
    assert _result_path(tmp_path, "a/b.txt") == tmp_path / "a" / "b.txt.json"
    for name in ("../../etc/passwd", "/abs.txt", "a//b", "./x", "a/../../b"):
        path = _result_path(tmp_path, name)
        assert path.parent == tmp_path and "/" not in path.name
