"""``analyze_many``: one result per text in input order, errors per text, a lazy read
of the input, progress, dry runs, and the pace under a quota (sync and async)."""

from __future__ import annotations

import asyncio
import os
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from documents_support import FakeAsync, FakeSync, async_client, needs_mock_quotas

from cmclient import errors, models
from cmclient._protocol.quota import Quota
from cmclient.testing import ComprehendMedicalMock
from cmclient.text import AnalysisResult, Estimate

SHORT = "Started lisinopril 10 mg daily for hypertension."
LONG = "\n\n".join(["Denies chest pain. Metformin 500 mg twice daily continued."] * 20)
SLOW = bool(os.environ.get("CMCLIENT_SLOW_TESTS"))


def mixed_texts() -> list[str]:
    texts = [f"Note {i}. {SHORT}" for i in range(30)]
    texts[5] = LONG  # goes through analyze_document
    texts[11] = "   "  # nothing to analyze
    texts[17] = LONG
    return texts


def check_results(results: list[AnalysisResult[Any]], texts: list[str]) -> None:
    assert [r.index for r in results] == list(range(len(texts)))
    for item, text in zip(results, texts, strict=True):
        assert (item.result is None) != (item.error is None)
        if text.strip():
            assert item.ok, item.error
            assert all(text[e.begin_offset:e.end_offset] == e.text for e in item.result.entities)
        else:
            assert isinstance(item.error, errors.ParamValidationError)


def test_one_result_per_text_in_input_order(make_client: Any) -> None:
    client = make_client()
    texts = mixed_texts()
    results = list(client.analyze_many(texts, max_bytes=400, max_concurrency=5))
    check_results(results, texts)
    assert isinstance(results[0].result, models.DetectEntitiesV2Response)


def test_async_one_result_per_text_in_input_order(mock: ComprehendMedicalMock) -> None:
    texts = mixed_texts()

    async def run() -> list[AnalysisResult[Any]]:
        async with async_client(mock) as client:
            return [r async for r in client.analyze_many(iter(texts), operation="detect_phi",
                                                          max_bytes=400, max_concurrency=5)]

    results = asyncio.run(run())
    check_results(results, texts)
    assert isinstance(results[0].result, models.DetectPHIResponse)


def test_a_text_that_fails_gives_its_error_and_the_others_go_on(
    make_client: Any, mock: ComprehendMedicalMock
) -> None:
    client = make_client()
    texts = [f"Note {i}. {SHORT}" for i in range(20)]
    mock.fail_next(1, "InvalidRequestException", operation="DetectEntitiesV2")
    results = list(client.analyze_many(texts, max_concurrency=4))
    failed = [r for r in results if not r.ok]
    assert len(failed) == 1 and isinstance(failed[0].error, errors.InvalidRequestException)
    assert failed[0].result is None
    assert [r.index for r in results] == list(range(20))
    assert "error=InvalidRequestException" in repr(failed[0])


def test_retried_errors_are_not_surfaced_and_count_once(
    make_client: Any, mock: ComprehendMedicalMock
) -> None:
    client = make_client(retry_backoff_base=0.01)
    texts = [f"Note {i}. {SHORT}" for i in range(20)]
    mock.fail_next(3, "ServiceUnavailableException", operation="DetectEntitiesV2")
    results = list(client.analyze_many(texts, max_concurrency=4))
    assert all(r.ok for r in results)
    assert len(mock.calls) == 23
    usage = client.usage["detect_entities_v2"]
    assert usage.requests == 20
    assert usage.characters == sum(map(len, texts))


class Counted:
    """A generator of notes that records how far it has been read."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.read = 0

    def __iter__(self) -> Iterator[str]:
        for i in range(self.count):
            self.read += 1
            yield f"Note {i}: fever and cough."


def test_the_input_is_read_lazily_and_memory_stays_flat() -> None:
    notes = Counted(100_000)
    service = FakeSync()
    service._invoke = lambda operation, params: RESPONSE  # type: ignore[method-assign]
    tracemalloc.start()
    try:
        done = 0
        baseline = tracemalloc.get_traced_memory()[0]
        for item in service.analyze_many(notes, max_concurrency=8):
            assert item.index == done
            done += 1
            assert notes.read - done <= 2 * 8 + 1  # never more than the window ahead
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert done == 100_000
    # Holding the notes or the results would take tens of megabytes.
    assert peak - baseline < 2_000_000
    assert current - baseline < 200_000


RESPONSE = models.DetectEntitiesV2Response(entities=[])


def test_async_reads_the_input_lazily() -> None:
    notes = Counted(100_000)
    service = FakeAsync()

    async def constant(operation: Any, params: Any) -> Any:
        return RESPONSE

    service._invoke = constant  # type: ignore[method-assign]

    async def run() -> int:
        done = 0
        async for item in service.analyze_many(notes, max_concurrency=8):
            assert item.index == done
            done += 1
            assert notes.read - done <= 2 * 8 + 1
        return done

    assert asyncio.run(run()) == 100_000


def test_stopping_early_stops_the_work(make_client: Any, mock: ComprehendMedicalMock) -> None:
    client = make_client()
    results = client.analyze_many(Counted(1_000), max_concurrency=4)
    for item in results:
        if item.index == 9:
            break
    results.close()
    sent = len(mock.calls)
    assert sent <= 10 + 2 * 4
    time.sleep(0.05)
    assert len(mock.calls) == sent


def test_progress(make_client: Any) -> None:
    client = make_client()
    seen: list[tuple[int, int | None]] = []
    list(client.analyze_many([SHORT] * 5, on_progress=lambda d, t: seen.append((d, t))))
    assert seen == [(i, 5) for i in range(6)]
    seen.clear()
    list(client.analyze_many(iter([SHORT] * 3), on_progress=lambda d, t: seen.append((d, t))))
    assert seen == [(0, None), (1, None), (2, None), (3, None)]


def test_dry_run_estimates_each_text_and_sends_nothing(
    make_client: Any, mock: ComprehendMedicalMock
) -> None:
    client = make_client()
    texts = [SHORT, "", LONG]
    results = list(client.analyze_many(texts, dry_run=True, max_bytes=300))
    assert mock.calls == []
    assert isinstance(results[0].result, Estimate) and results[0].result.units == 1
    assert isinstance(results[1].error, errors.ParamValidationError)
    assert len(results[2].result.chunks) > 1
    assert results[2].result.units == sum(-(-len(c.text) // 100) for c in results[2].result.chunks)


def test_bad_options_are_errors_before_anything_is_read(make_client: Any) -> None:
    client = make_client()
    notes = Counted(10)
    for options in ({"operation": "detect_pii"}, {"max_concurrency": 0},
                    {"on_progress": "yes"}):
        with pytest.raises(errors.ParamValidationError):
            client.analyze_many(notes, **options)
    with pytest.raises(errors.ParamValidationError, match="texts"):
        client.analyze_many("one note, not an iterable of notes")
    assert notes.read == 0


# --- the pace under a quota ---------------------------------------------------------------


def test_the_limiter_paces_to_the_quota(make_client: Any, mock: ComprehendMedicalMock) -> None:
    """With no throttling at the service at all, the client keeps to its quota."""
    client = make_client(quotas={"detect_entities_v2": Quota(tps=40)})
    started = time.perf_counter()
    results = list(client.analyze_many([SHORT] * 41, max_concurrency=8))
    elapsed = time.perf_counter() - started
    assert all(r.ok for r in results)
    assert 1.0 <= elapsed < 1.5


def test_the_limiter_paces_characters_too(make_client: Any) -> None:
    client = make_client(quotas={"detect_entities_v2": Quota(chars_per_second=2_000)})
    started = time.perf_counter()
    list(client.analyze_many(["x" * 500 + " fever."] * 5, max_concurrency=5))
    # 5 requests of 507 characters: the fifth may go after 4 * 507 / 2000 s.
    assert 1.0 <= time.perf_counter() - started < 1.5


def run_under_service_quota(mock: ComprehendMedicalMock, count: int, tps: float, *,
                            use_async: bool, retry_mode: str) -> tuple[list[Any], float]:
    mock.set_rate_limit("DetectEntitiesV2", tps=tps, chars_per_second=None)
    mock.set_latency(0.03)
    notes = (f"Note {i}. {SHORT}" for i in range(count))
    options = {"quotas": {"detect_entities_v2": Quota(tps=tps)}, "retry_mode": retry_mode}

    async def run_async() -> list[Any]:
        async with async_client(mock, **options) as client:
            return [r async for r in client.analyze_many(notes, max_concurrency=16)]

    started = time.perf_counter()
    if use_async:
        results = asyncio.run(run_async())
    else:
        import httpx
        from documents_support import CREDENTIALS, sync_class

        with sync_class()(region="us-east-1", credentials=CREDENTIALS,
                          endpoint_url="https://comprehendmedical.us-east-1.amazonaws.com",
                          http_client=httpx.Client(transport=mock.transport()),
                          **options) as client:
            results = list(client.analyze_many(notes, max_concurrency=16))
    return results, time.perf_counter() - started


def check_run(mock: ComprehendMedicalMock, results: list[Any], elapsed: float, count: int,
              tps: float) -> None:
    assert [r.index for r in results] == list(range(count)), "none lost or duplicated"
    assert all(r.ok for r in results), "no throttling error surfaced"
    calls = [c for c in mock.calls if c.operation == "DetectEntitiesV2"]
    throttled = [c for c in calls if c.error_code == "TooManyRequestsException"]
    assert len(calls) == count + len(throttled)
    assert len(throttled) < 0.05 * len(calls)
    assert count / elapsed >= 0.85 * tps


@needs_mock_quotas
@pytest.mark.parametrize(("use_async", "retry_mode"), [(False, "standard"), (True, "adaptive")])
def test_many_notes_under_a_service_quota(
    mock: ComprehendMedicalMock, use_async: bool, retry_mode: str
) -> None:
    count, tps = (1_000, 20.0) if SLOW else (100, 20.0)
    results, elapsed = run_under_service_quota(mock, count, tps, use_async=use_async,
                                               retry_mode=retry_mode)
    check_run(mock, results, elapsed, count, tps)
