"""``make demo``'s batch section: three notes uploaded to the mock's S3, a job run on
them, the results read back and summarised (the whole demo runs in tests/test_demo.py)."""

from __future__ import annotations

import io
import re

from cmclient.demo import BATCH_NOTES, batch_section
from cmclient.testing import ComprehendMedicalMock


def test_the_batch_section_runs_a_job_and_summarises_each_note() -> None:
    mock = ComprehendMedicalMock(job_duration=0.1, queue_seconds=0.05)
    out = io.StringIO()
    with mock.client(quotas=None) as client:
        batch_section(client, out, poll_interval=0.02)
    printed = out.getvalue()
    assert "3 notes uploaded to s3://demo-notes/batch/in/" in printed
    assert re.search(r"^  job COMPLETED after \d+\.\d s$", printed, re.M)
    assert re.search(r"ended COMPLETED: 3 of 3 files processed, \d+ characters metered",
                     printed)
    summaries = dict(re.findall(r"^  (\S+\.txt): (\d+ entities; medications: .*)$", printed,
                                re.M))
    assert sorted(summaries) == sorted(BATCH_NOTES)
    assert "lisinopril" in summaries["2024-11-02-smith.txt"]
    # The job read what was uploaded, and wrote where it says.
    assert len(mock.s3.store.keys("demo-notes", "batch/in/")) == 3
    assert any(k.endswith("/Manifest") for k in mock.s3.store.keys("demo-notes", "batch/out/"))
    # Nothing the demo's JSON reader or its status reader would take for its own.
    assert "}" not in printed and not re.search(r"^\s+\d+\.\ds\s+\w+$", printed, re.M)
