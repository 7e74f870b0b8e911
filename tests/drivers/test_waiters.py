"""wait_for_*_job: polls Describe until a terminal state, sync and async alike."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from cmclient import errors
from cmclient._protocol.jobs import JobWait
from cmclient.models import ComprehendMedicalAsyncJobProperties, JobStatus
from tests.helpers.scripted import Script, job, throttled

FAST = {"poll_interval": 0.001, "timeout": 5.0}


def run_wait(script: Script, mode: str, method: str = "wait_for_entities_detection_v2_job",
             **kwargs: Any) -> ComprehendMedicalAsyncJobProperties:
    options = {**FAST, **kwargs}
    if mode == "sync":
        with script.sync_client() as client:
            result: ComprehendMedicalAsyncJobProperties = getattr(client, method)("job-1", **options)
            return result

    async def run() -> ComprehendMedicalAsyncJobProperties:
        async with script.async_client() as client:
            result: ComprehendMedicalAsyncJobProperties = await getattr(client, method)(
                "job-1", **options)
            return result

    return asyncio.run(run())


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


@MODES
def test_returns_properties_when_the_job_completes(mode: str) -> None:
    script = Script([job("SUBMITTED"), job("IN_PROGRESS"), job("IN_PROGRESS"), job("COMPLETED")])
    props = run_wait(script, mode)
    assert props.job_status is JobStatus.COMPLETED
    assert [target for target, _ in script.requests] == ["DescribeEntitiesDetectionV2Job"] * 4
    assert all(body == {"JobId": "job-1"} for _, body in script.requests)


@MODES
@pytest.mark.parametrize(
    ("method", "target"),
    [("wait_for_icd10_cm_inference_job", "DescribeICD10CMInferenceJob"),
     ("wait_for_phi_detection_job", "DescribePHIDetectionJob"),
     ("wait_for_rx_norm_inference_job", "DescribeRxNormInferenceJob"),
     ("wait_for_snomedct_inference_job", "DescribeSNOMEDCTInferenceJob")],
)
def test_every_job_kind_polls_its_own_describe(mode: str, method: str, target: str) -> None:
    script = Script([job("IN_PROGRESS"), job("COMPLETED")])
    run_wait(script, mode, method)
    assert [t for t, _ in script.requests] == [target, target]


@MODES
def test_failed_job_raises_with_the_job_message(mode: str) -> None:
    script = Script([job("IN_PROGRESS"), job("FAILED", Message="NO_READ_ACCESS_TO_S3")])
    with pytest.raises(errors.JobFailedError) as caught:
        run_wait(script, mode)
    assert caught.value.job_message == "NO_READ_ACCESS_TO_S3"
    assert caught.value.status == "FAILED"
    assert "NO_READ_ACCESS_TO_S3" in str(caught.value)


@MODES
def test_stopped_job_raises_job_stopped(mode: str) -> None:
    script = Script([job("STOP_REQUESTED"), job("STOPPED")])
    with pytest.raises(errors.JobStoppedError):
        run_wait(script, mode)


@MODES
def test_partial_success_returns_unless_disallowed(mode: str) -> None:
    assert run_wait(Script([job("PARTIAL_SUCCESS")]), mode).job_status is JobStatus.PARTIAL_SUCCESS
    with pytest.raises(errors.JobFailedError) as caught:
        run_wait(Script([job("PARTIAL_SUCCESS", Message="3 documents failed")]), mode,
                 allow_partial=False)
    assert caught.value.status == "PARTIAL_SUCCESS"


@MODES
def test_throttled_polls_are_waited_out(mode: str) -> None:
    script = Script([job("IN_PROGRESS"), throttled(), throttled(), job("COMPLETED")])
    assert run_wait(script, mode).job_status is JobStatus.COMPLETED
    assert len(script.requests) == 4


@MODES
def test_a_non_transient_error_ends_the_wait(mode: str) -> None:
    script = Script([(400, {"__type": "ResourceNotFoundException", "message": "no such job"})])
    with pytest.raises(errors.ResourceNotFoundException):
        run_wait(script, mode)


@MODES
def test_timeout_raises_with_the_last_seen_status(mode: str) -> None:
    script = Script([job("IN_PROGRESS")] * 1000)
    started = time.monotonic()
    with pytest.raises(errors.WaiterTimeoutError) as caught:
        run_wait(script, mode, timeout=0.2, poll_interval=0.02)
    assert caught.value.status == "IN_PROGRESS"
    assert time.monotonic() - started < 2.0  # the deadline bounds the last sleep
    assert 2 <= len(script.requests) < 1000


@MODES
def test_on_progress_sees_the_first_poll_and_each_change(mode: str) -> None:
    script = Script([job("SUBMITTED"), job("SUBMITTED"), job("IN_PROGRESS"), job("IN_PROGRESS"),
                     job("COMPLETED")])
    seen: list[str] = []
    run_wait(script, mode, on_progress=lambda props: seen.append(str(props.job_status.value)))
    assert seen == ["SUBMITTED", "IN_PROGRESS", "COMPLETED"]


@MODES
def test_unknown_status_keeps_polling(mode: str) -> None:
    script = Script([job("QUEUED_FOR_REVIEW"), job("COMPLETED")])
    assert run_wait(script, mode).job_status is JobStatus.COMPLETED


def test_async_waiter_does_not_block_the_event_loop() -> None:
    script = Script([job("IN_PROGRESS")] * 5 + [job("COMPLETED")])
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    async def run() -> None:
        task = asyncio.create_task(ticker())
        async with script.async_client() as client:
            await client.wait_for_entities_detection_v2_job("job-1", poll_interval=0.02, timeout=5)
        task.cancel()

    asyncio.run(run())
    assert ticks >= 10  # the loop kept running while the waiter slept between polls


def test_backoff_grows_with_jitter_and_is_capped_by_the_deadline() -> None:
    draws = iter([0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    wait = JobWait("j", "Describe", timeout=100.0, poll_interval=2.0, allow_partial=True,
                   on_progress=None, started=0.0, jitter=lambda: next(draws))
    delays = []
    for _ in range(3):
        wait.polls += 1
        delays.append(wait.next_delay(now=0.0))
    assert delays == [2.0, 4.0, 8.0]  # jitter 0 → the interval; jitter 1 → the ceiling
    wait.polls = 20
    assert wait.next_delay(now=0.0) == 30.0  # capped
    assert wait.next_delay(now=99.5) == pytest.approx(0.5)  # never sleeps past the deadline
    with pytest.raises(errors.WaiterTimeoutError):
        wait.next_delay(now=100.0)


@MODES
def test_unmodeled_throttling_codes_and_gateway_errors_are_waited_out(mode: str) -> None:
    script = Script([job("IN_PROGRESS"), (400, {"__type": "Throttling", "message": "slow"}),
                     (503, {"message": "Service Unavailable"}), job("COMPLETED")])
    assert run_wait(script, mode).job_status is JobStatus.COMPLETED
    assert len(script.requests) == 4
