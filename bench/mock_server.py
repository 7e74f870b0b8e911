"""Section 6: the throughput of ``cmclient.testing``'s mock service (describe calls).

Skipped, with a note, while ``cmclient.testing`` is not importable. Otherwise one job
is started, then it is described over and over: by cmclient's sync client (what a test
suite does) and by the floor client (the mock's own cost, with the least client work).
The mock runs where ``serve()`` puts it (a thread of this process, or its own).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.common import ACCESS_KEY, REGION, SECRET_KEY, rotations, summary


def run(rounds: int, seconds: float) -> dict[str, Any]:
    try:
        from cmclient.testing import ComprehendMedicalMock  # type: ignore[attr-defined]
    except ImportError as exc:
        return {"skipped": f"cmclient.testing is not importable yet ({exc})"}

    import cmclient
    from bench.floor import FloorClient

    try:
        with ComprehendMedicalMock().serve() as url:
            client = cmclient.ComprehendMedical(
                region=REGION, endpoint_url=str(url),
                credentials=cmclient.Credentials(ACCESS_KEY, SECRET_KEY), quotas=None,
            )
            floor = FloorClient(str(url), ACCESS_KEY, SECRET_KEY, REGION)
            job_id = client.start_entities_detection_v2_job(
                input_data_config={"S3Bucket": "bench-in"},
                output_data_config={"S3Bucket": "bench-out"},
                data_access_role_arn="arn:aws:iam::123456789012:role/bench",
                language_code="en",
            ).job_id
            assert job_id
            calls: dict[str, Callable[[], Any]] = {
                "cmclient": lambda: client.describe_entities_detection_v2_job(job_id=job_id),
                "floor": lambda: floor.describe_entities_detection_v2_job(job_id),
            }
            for call in calls.values():
                for _ in range(20):
                    call()
            samples: dict[str, list[float]] = {name: [] for name in calls}
            for order in rotations(list(calls), rounds):
                for name in order:
                    samples[name].append(_rate(calls[name], seconds))
            client.close()
            floor.close()
    except Exception as exc:  # the mock is new: report, do not sink the whole run
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {name: summary(values) for name, values in samples.items()}


def _rate(call: Callable[[], Any], seconds: float) -> float:
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        call()
        done += 1
    return done / (time.perf_counter() - started)
