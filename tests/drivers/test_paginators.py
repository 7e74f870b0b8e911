"""iter_*_jobs: every job across NextToken pages, sync and async alike."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest

from cmclient import errors
from tests.helpers.scripted import Script

MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def page(ids: list[str], token: str | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ComprehendMedicalAsyncJobPropertiesList": [
        {"JobId": i, "JobStatus": "COMPLETED"} for i in ids]}
    if token:
        body["NextToken"] = token
    return 200, body


def collect(script: Script, mode: str, method: str = "iter_entities_detection_v2_jobs",
            **kwargs: Any) -> list[str]:
    if mode == "sync":
        with script.sync_client() as client:
            return [p.job_id or "" for p in getattr(client, method)(**kwargs)]

    async def run() -> list[str]:
        async with script.async_client() as client:
            return [p.job_id or "" async for p in getattr(client, method)(**kwargs)]

    return asyncio.run(run())


@MODES
def test_follows_next_token_across_pages(mode: str) -> None:
    script = Script([page(["a", "b"], "t1"), page(["c"], "t2"), page(["d"])])
    assert collect(script, mode, page_size=2) == ["a", "b", "c", "d"]
    bodies = [body for _, body in script.requests]
    assert bodies == [{"MaxResults": 2}, {"MaxResults": 2, "NextToken": "t1"},
                      {"MaxResults": 2, "NextToken": "t2"}]


@MODES
def test_filter_is_sent_with_timestamps_as_epoch_seconds(mode: str) -> None:
    script = Script([page(["a"])])
    naive = datetime(2026, 1, 2, 3, 4, 5)  # naive: taken as UTC
    collect(script, mode, filter={"job_status": "COMPLETED", "SubmitTimeAfter": naive,
                                  "submit_time_before": datetime(2026, 2, 1, tzinfo=timezone.utc)})
    assert script.requests[0][1] == {"Filter": {
        "JobStatus": "COMPLETED", "SubmitTimeAfter": 1767323045, "SubmitTimeBefore": 1769904000}}


@MODES
@pytest.mark.parametrize(
    ("method", "target"),
    [("iter_icd10_cm_inference_jobs", "ListICD10CMInferenceJobs"),
     ("iter_phi_detection_jobs", "ListPHIDetectionJobs"),
     ("iter_rx_norm_inference_jobs", "ListRxNormInferenceJobs"),
     ("iter_snomedct_inference_jobs", "ListSNOMEDCTInferenceJobs")],
)
def test_every_job_kind_lists_with_its_own_operation(mode: str, method: str, target: str) -> None:
    script = Script([page(["x"], "t"), page(["y"])])
    assert collect(script, mode, method) == ["x", "y"]
    assert [t for t, _ in script.requests] == [target, target]


@MODES
def test_a_repeating_token_raises_instead_of_looping(mode: str) -> None:
    script = Script([page(["a"], "same"), page(["b"], "same"), page(["c"])])
    with pytest.raises(errors.PaginationError):
        collect(script, mode)
    assert len(script.requests) == 2


@MODES
def test_page_size_outside_the_model_limits_is_rejected_before_sending(mode: str) -> None:
    script = Script([])
    with pytest.raises(errors.ParamValidationError, match="max_results"):
        collect(script, mode, page_size=501)
    assert script.requests == []
