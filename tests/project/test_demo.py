"""``make demo`` runs ``python -m cmclient.demo``: it must work with no AWS account,
no network and no configuration, and print the finished job's document."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path


def test_demo_runs_a_job_on_the_mock_and_prints_the_finished_job(tmp_path: Path) -> None:
    # No AWS settings at all: the demo brings its own fake credentials and region.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    result = subprocess.run([sys.executable, "-m", "cmclient.demo"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"listening on http://127\.0\.0\.1:\d+", out)
    job_id = re.search(r"Started job (\w+)", out)
    assert job_id
    statuses = re.findall(r"^\s+\d+\.\ds\s+(\w+)$", out, re.M)
    assert statuses == ["SUBMITTED", "IN_PROGRESS", "COMPLETED"]
    document = json.loads(out[out.index("\n{") + 1: out.rindex("}") + 1])
    props = document["ComprehendMedicalAsyncJobProperties"]
    assert props["JobId"] == job_id.group(1)
    assert props["JobStatus"] == "COMPLETED"
    assert props["ManifestFilePath"].endswith("/Manifest")
    # The long note: over one request's limit, so split; analysed; de-identified.
    long_note = re.search(r"A long note: [\d,]+ characters, ([\d,]+) bytes .* sends it in "
                          r"(\d+) chunks", out)
    assert long_note, out
    assert int(long_note.group(1).replace(",", "")) > 20_000
    assert int(long_note.group(2)) >= 2
    entities = re.search(r"over the whole note: (\d+) entities", out)
    assert entities and int(entities.group(1)) > 0
    redacted = "\n".join(re.findall(r"^  \| (.*)$", out, re.M))
    assert "[NAME]" in redacted and "[DATE]" in redacted
    assert "John Smith" not in redacted
    assert out.rstrip().endswith("Done.")
    assert "cmclient-demo-secret" not in out + result.stderr


def test_long_note_section_prints_the_merged_analysis_and_no_phi() -> None:
    """The long note is over DetectEntitiesV2's limit; the section prints the entity
    count of the whole note's merged analysis, and the first lines of the note as
    ``redact`` leaves them, with no PHI."""
    import io

    from cmclient.demo import long_note, long_note_section
    from cmclient.phi import redact
    from cmclient.testing import ComprehendMedicalMock
    from cmclient.text import text_limit

    note = long_note()
    assert len(note.encode()) > text_limit("detect_entities_v2")
    with ComprehendMedicalMock().client(quotas=None) as client:
        out = io.StringIO()
        long_note_section(client, out)
        found = client.analyze_document(note).entities or []
        phi = client.analyze_document(note, operation="detect_phi").entities or []
    printed = out.getvalue()
    assert f"over the whole note: {len(found)} entities" in printed
    first_lines = [line[4:] for line in printed.splitlines() if line.startswith("  | ")]
    assert first_lines
    assert first_lines == redact(note, phi).text.splitlines()[:len(first_lines)]
    for value in ("John Smith", "00482913", "123-45-6789", "11/02/2024", "Maria Lopez",
                  "123 Main Street", "206-555-0142", "john.smith@example.com"):
        assert value in note
        assert value not in "\n".join(first_lines)
