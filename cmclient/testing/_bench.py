"""Throughput of the loopback server, for ``make bench``.

``bench_throughput()`` starts a server, drives it with ``concurrency`` threads, each
a ``cmclient.ComprehendMedical`` client with its own keep-alive connection, for
``requests`` calls in all, and returns what it measured. Nothing is asserted.
"""

from __future__ import annotations

import threading
import time
from typing import Any

_TEXT = "Patient takes aspirin 81 mg by mouth daily. Denies chest pain or fever."


def bench_throughput(
    *, requests: int = 2000, concurrency: int = 16, operation: str = "DetectEntitiesV2",
    mock: Any = None,
) -> dict[str, float]:
    """Return ``{"requests", "errors", "seconds", "requests_per_second"}``.

    ``operation`` is ``"DetectEntitiesV2"`` (text analysis) or
    ``"DescribeEntitiesDetectionV2Job"`` (state lookups)."""
    import httpx

    from cmclient import ComprehendMedical, Credentials
    from cmclient.testing._service import ComprehendMedicalMock

    mock = mock or ComprehendMedicalMock(credentials={"AKIDBENCH": "bench-secret"})
    creds = Credentials("AKIDBENCH", "bench-secret")
    per_thread = [requests // concurrency + (1 if i < requests % concurrency else 0)
                  for i in range(concurrency)]
    errors = 0
    lock = threading.Lock()

    with mock.serve() as url:
        setup = ComprehendMedical(region=mock.region, endpoint_url=url, credentials=creds)
        job_id = setup.start_entities_detection_v2_job(
            input_data_config={"S3Bucket": "bench-in"},
            output_data_config={"S3Bucket": "bench-out"},
            data_access_role_arn="arn:aws:iam::123456789012:role/Bench",
            language_code="en",
        ).job_id
        setup.close()

        def worker(count: int) -> None:
            nonlocal errors
            failed = 0
            with httpx.Client() as http, ComprehendMedical(
                region=mock.region, endpoint_url=url, credentials=creds, http_client=http
            ) as client:
                for _ in range(count):
                    try:
                        if operation == "DetectEntitiesV2":
                            client.detect_entities_v2(text=_TEXT)
                        else:
                            client.describe_entities_detection_v2_job(job_id=job_id or "")
                    except Exception:
                        failed += 1
            with lock:
                errors += failed

        threads = [threading.Thread(target=worker, args=(n,)) for n in per_thread]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    return {"requests": float(requests), "errors": float(errors), "seconds": seconds,
            "requests_per_second": requests / seconds if seconds else 0.0}
