"""The ``analyze-document``, ``deidentify`` and ``analyze-many`` commands, run through
the CLI's own runner (its error handling and exit codes) against the mock."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from documents_support import CREDENTIALS, sync_class

from cmclient.cli import _documents
from cmclient.cli._main import EXIT_PARAMS, EXIT_SERVICE, _Runner
from cmclient.testing import ComprehendMedicalMock

NOTE = ("Mr. John Smith was seen on 03/14/2021. Denies chest pain. Started lisinopril "
        "10 mg PO daily for hypertension.")


@pytest.fixture
def cli(mock: ComprehendMedicalMock, monkeypatch: pytest.MonkeyPatch) -> Any:
    made: list[dict[str, Any]] = []

    def make_client(options: Any, quotas: Any) -> Any:
        made.append({"options": dict(options), "quotas": quotas})
        return sync_class()(region="us-east-1", credentials=CREDENTIALS,
                            endpoint_url="https://comprehendmedical.us-east-1.amazonaws.com",
                            http_client=httpx.Client(transport=mock.transport()),
                            quotas=quotas)

    monkeypatch.setattr(_documents, "make_client", make_client)

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        runner = _Runner(out, err)
        runner._run = lambda args: _documents.run(args[0], args[1:], runner)  # type: ignore[method-assign]
        code = runner.run(list(argv))
        return code, out.getvalue(), err.getvalue()

    run.made = made  # type: ignore[attr-defined]
    return run


def test_analyze_document(cli: Any, tmp_path: Path, mock: ComprehendMedicalMock) -> None:
    note = tmp_path / "note.txt"
    text = "\n\n".join([NOTE] * 5)
    note.write_text(text, encoding="utf-8")
    code, out, err = cli("analyze-document", "--operation", "detect-entities-v2",
                         "--text", f"file://{note}", "--max-bytes", "300")
    assert code == 0, err
    document = json.loads(out)
    assert len(mock.calls) > 1
    for entity in document["Entities"]:
        assert text[entity["BeginOffset"]:entity["EndOffset"]] == entity["Text"]


def test_analyze_document_dry_run_prints_the_cost_and_no_text(
    cli: Any, mock: ComprehendMedicalMock
) -> None:
    code, out, _ = cli("analyze-document", "--text", NOTE * 10, "--max-bytes", "500",
                       "--operation", "infer_rx_norm", "--dry-run")
    assert code == 0
    estimate = json.loads(out)
    assert estimate["Operation"] == "infer_rx_norm"
    assert estimate["Requests"] == len(estimate["Chunks"]) > 1
    assert "Smith" not in out
    assert mock.calls == []


def test_deidentify_prints_the_redacted_text(cli: Any) -> None:
    code, out, _ = cli("deidentify", "--text", NOTE)
    assert code == 0
    assert "John Smith" not in out and "[NAME]" in out and out.endswith("hypertension.\n")
    code, out, _ = cli("deidentify", "--text", NOTE, "--strategy", "mask", "--types", "DATE")
    assert "**********" in out and "John Smith" in out


def test_deidentify_pseudonyms_need_a_key(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = cli("deidentify", "--text", NOTE, "--strategy", "pseudonym")
    assert code == EXIT_PARAMS and "--key" in err
    monkeypatch.setenv(_documents.KEY_VARIABLE, "clinic-secret")
    code, out, _ = cli("deidentify", "--text", NOTE, "--strategy", "pseudonym")
    assert code == 0 and "[NAME-" in out and "clinic-secret" not in out


def test_bad_input_names_the_parameter_never_the_text(cli: Any) -> None:
    code, _, err = cli("analyze-document", "--text", "   ")
    assert code == EXIT_PARAMS and "text" in err
    code, _, err = cli("analyze-document", "--text", NOTE, "--operation", "detect-pii")
    assert code == EXIT_PARAMS and "--operation" in err and "Smith" not in err


def test_quota_flags_reach_the_client(cli: Any) -> None:
    cli("analyze-document", "--text", NOTE, "--operation", "detect-phi", "--tps", "300")
    quotas = cli.made[-1]["quotas"]
    assert quotas["detect_phi"].tps == 300
    assert quotas["detect_phi"].chars_per_second == 40_000


def write_notes(path: Path, count: int) -> list[str]:
    texts = [f"Note {i}. {NOTE}" for i in range(count)]
    lines = [json.dumps({"text": t, "patient": f"p{i}"}) for i, t in enumerate(texts)]
    lines.insert(3, "")  # blank lines do not count
    lines[5] = "not json"  # index 4
    lines[8] = json.dumps({"text": "  ", "patient": "blank"})  # index 7
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return texts


def test_analyze_many_writes_one_line_per_input_in_order(cli: Any, tmp_path: Path) -> None:
    source, target = tmp_path / "notes.jsonl", tmp_path / "results.jsonl"
    write_notes(source, 12)
    code, _, err = cli("analyze-many", "--input", str(source), "--output", str(target),
                       "--operation", "detect-phi")
    assert code == EXIT_SERVICE, err  # two inputs could not be analyzed
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["index"] for r in records] == list(range(12))
    assert records[4]["error"]["code"] == "InvalidInput"
    assert records[7]["error"]["code"] == "ParamValidationError"
    ok = [r for r in records if "result" in r]
    assert len(ok) == 10
    assert all("text" not in r for r in records)
    assert records[0]["patient"] == "p0" and "Entities" in records[0]["result"]
    assert "12 texts: 10 analyzed, 2 errors" in err


def test_analyze_many_resumes_where_it_stopped(
    cli: Any, tmp_path: Path, mock: ComprehendMedicalMock
) -> None:
    source, target = tmp_path / "notes.jsonl", tmp_path / "results.jsonl"
    texts = [f"Note {i}. {NOTE}" for i in range(10)]
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    # A previous run wrote indexes 0-3, and was cut off in the middle of a line.
    target.write_text("".join(json.dumps({"index": i, "result": {}}) + "\n" for i in range(4))
                      + '{"index": 4, "res')
    code, _, err = cli("analyze-many", "--input", str(source), "--output", str(target))
    assert code == EXIT_PARAMS and "--resume" in err
    code, _, err = cli("analyze-many", "--input", str(source), "--output", str(target),
                       "--resume")
    assert code == 0, err
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["index"] for r in records] == list(range(10))
    assert len(mock.calls) == 6
    assert "4 already in the output" in err


def test_analyze_many_dry_run(cli: Any, tmp_path: Path, mock: ComprehendMedicalMock) -> None:
    source = tmp_path / "notes.jsonl"
    source.write_text("".join(json.dumps({"text": NOTE * 4}) + "\n" for _ in range(3)))
    code, out, _ = cli("analyze-many", "--input", str(source), "--output",
                       str(tmp_path / "r.jsonl"), "--dry-run", "--max-bytes", "200")
    assert code == 0
    summary = json.loads(out)
    assert summary["Texts"] == 3 and summary["Requests"] > 3 and summary["Errors"] == 0
    assert mock.calls == []
    assert not (tmp_path / "r.jsonl").exists()


def test_analyze_many_to_stdout(cli: Any, tmp_path: Path) -> None:
    source = tmp_path / "notes.jsonl"
    source.write_text(json.dumps({"text": NOTE}) + "\n")
    code, out, _ = cli("analyze-many", "--input", str(source), "--output", "-")
    assert code == 0
    assert json.loads(out)["index"] == 0


def test_the_progress_line_on_a_terminal() -> None:
    stream = io.StringIO()
    line = _documents._LiveLine(stream, live=True)
    line.update(0, 4)
    line.update(4, 4)
    line.close()
    shown = stream.getvalue()
    assert shown.startswith("\ranalyzed 0/4 (0%)") and "analyzed 4/4 (100%)" in shown
    assert shown.endswith("\n")
