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
    assert out.rstrip().endswith("Done.")
    assert "cmclient-demo-secret" not in out + result.stderr
