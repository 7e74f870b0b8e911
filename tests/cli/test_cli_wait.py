"""``--wait`` on start-*-job and describe-*-job: the status display (one line per
change in a pipe, a live line on a terminal), the job document at the end, failure,
and Ctrl-C, which stops waiting with exit 130 and says how to resume."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_cli_commands import AKID, REGION, ROLE, SECRET, cli_env, run

from cmclient import ComprehendMedical, Credentials
from cmclient.testing import ComprehendMedicalMock

START = ["--input-data-config", "S3Bucket=clinical-notes,S3Key=notes/",
         "--output-data-config", "S3Bucket=cm-results", "--data-access-role-arn", ROLE,
         "--language-code", "en"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path)


def start_job(url: str) -> str:
    with ComprehendMedical(region=REGION, endpoint_url=url,
                           credentials=Credentials(AKID, SECRET)) as client:
        job_id = client.start_entities_detection_v2_job(
            input_data_config={"S3Bucket": "clinical-notes"},
            output_data_config={"S3Bucket": "cm-results"},
            data_access_role_arn=ROLE, language_code="en").job_id
    assert job_id
    return job_id


def test_start_with_wait_prints_one_line_per_status_then_the_finished_job(
    env: dict[str, str],
) -> None:
    mock = ComprehendMedicalMock(region=REGION, queue_seconds=0.4, job_duration=0.8)
    with mock.serve() as url:
        result = run(["start-entities-detection-v2-job", *START, "--wait",
                      "--wait-poll-interval", "0.2", "--endpoint-url", url], env)
    assert result.returncode == 0, result.stderr
    props = json.loads(result.stdout)["ComprehendMedicalAsyncJobProperties"]
    assert props["JobStatus"] == "COMPLETED"
    assert "\r" not in result.stderr  # not a terminal: plain lines
    lines = [line.split("\t") for line in result.stderr.splitlines()]
    assert [line[:2] for line in lines] == [[props["JobId"], "SUBMITTED"],
                                            [props["JobId"], "IN_PROGRESS"],
                                            [props["JobId"], "COMPLETED"]]


def test_describe_with_wait_on_a_failed_job_prints_it_and_exits_255(
    env: dict[str, str],
) -> None:
    mock = ComprehendMedicalMock(region=REGION, queue_seconds=0.1, job_duration=60)
    with mock.serve() as url:
        job_id = start_job(url)
        mock.fail(job_id, "The input bucket is empty.")
        result = run(["describe-entities-detection-v2-job", "--job-id", job_id, "--wait",
                      "--wait-poll-interval", "0.2", "--endpoint-url", url], env)
    assert result.returncode == 255
    props = json.loads(result.stdout)["ComprehendMedicalAsyncJobProperties"]
    assert props["JobStatus"] == "FAILED"
    assert props["Message"] == "The input bucket is empty."
    assert f"Waiter failed: Job {job_id} ended FAILED: The input bucket is empty." in (
        result.stderr)


def read_until(fd: int, wanted: Any, timeout: float) -> str:
    """Read the pseudo-terminal until ``wanted(text)`` is true or time runs out."""
    text = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not wanted(text):
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            text += chunk.decode(errors="replace")
    return text


def test_wait_on_a_terminal_rewrites_one_live_line_and_ctrl_c_says_how_to_resume(
    env: dict[str, str],
) -> None:
    mock = ComprehendMedicalMock(region=REGION, queue_seconds=0.2, job_duration=3600)
    with mock.serve() as url:
        job_id = start_job(url)
        master, slave = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "cmclient", "describe-entities-detection-v2-job",
             "--job-id", job_id, "--wait", "--wait-poll-interval", "0.2",
             "--endpoint-url", url],
            stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=env,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        os.close(slave)
        try:
            live = read_until(master, lambda t: t.count("IN_PROGRESS") >= 3, 15)
            process.send_signal(signal.SIGINT)
            rest = read_until(master, lambda t: "--wait" in t, 10)
            assert process.wait(timeout=10) == 130
        finally:
            if process.poll() is None:
                process.kill()
            os.close(master)
        assert process.stdout is not None
        stdout = process.stdout.read()
        process.stdout.close()
    # The status line is redrawn in place: carriage return, text, clear to end of line.
    assert f"\rJob {job_id}  IN_PROGRESS  elapsed 0:0" in live
    assert "\x1b[K" in live
    assert live.count("\r") >= 3
    assert "\n" not in live  # one line, rewritten: nothing scrolls
    # Ctrl-C: no traceback, the job goes on, and the resume command is given.
    assert "Traceback" not in rest
    assert f"Stopped waiting for job {job_id}" in rest
    assert (f"cmclient describe-entities-detection-v2-job --job-id {job_id} --wait "
            f"--endpoint-url {url}") in rest
    assert stdout == b""
    assert mock.job_status(job_id) == "IN_PROGRESS"
