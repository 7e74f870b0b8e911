"""The quota limiter and the usage meter: the pure schedule as properties, the defaults,
the ``quotas=`` option, and the client's counts across threads and tasks."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Any

import pytest
from documents_support import async_client
from hypothesis import given, settings
from hypothesis import strategies as st

from cmclient import errors
from cmclient._generated.operations import OPERATIONS
from cmclient._protocol.names import xform_name
from cmclient._protocol.quota import DEFAULT_QUOTAS, Admission, Quota, QuotaState, resolve_quotas
from cmclient.testing import ComprehendMedicalMock
from cmclient.text import Usage

EPSILON = 1e-9


@settings(max_examples=200, deadline=None)
@given(
    tps=st.one_of(st.none(), st.floats(0.5, 200)),
    cps=st.one_of(st.none(), st.floats(100, 50_000)),
    requests=st.lists(st.tuples(st.floats(0, 2), st.integers(0, 20_000)), min_size=1,
                      max_size=60),
)
def test_the_schedule_keeps_both_rates_and_wastes_no_time(
    tps: float | None, cps: float | None, requests: list[tuple[float, int]]
) -> None:
    state = QuotaState(Quota(tps=tps, chars_per_second=cps))
    now = 1000.0
    slots: list[tuple[float, int]] = []
    for gap, characters in requests:
        now += gap
        wait = state.reserve(now, characters)
        assert wait >= 0
        slot = now + wait
        if slots:
            previous, previous_chars = slots[-1]
            earliest = max(now, previous + (1 / tps if tps else 0),
                           previous + (previous_chars / cps if cps else 0))
            # Never earlier than both rates allow, and no later either.
            assert slot == pytest.approx(earliest, abs=EPSILON)
        else:
            assert wait == 0
        slots.append((slot, characters))
    # In any one second from a slot: at most tps requests (+1 for the edge) and at
    # most cps characters plus the one request that straddles the end.
    biggest = max(c for _, c in slots)
    for i, (start, _) in enumerate(slots):
        window = [(s, c) for s, c in slots[i:] if s < start + 1 - EPSILON]
        if tps:
            assert len(window) <= math.floor(tps) + 1
        if cps:
            assert sum(c for _, c in window) <= cps + biggest + EPSILON


def test_a_late_caller_does_not_move_the_schedule() -> None:
    state = QuotaState(Quota(tps=10))
    assert [state.reserve(0.0) for _ in range(3)] == pytest.approx([0.0, 0.1, 0.2])
    # Asked again at 0.25 (the third went at 0.2 as booked): the next slot is 0.3.
    assert state.reserve(0.25) == pytest.approx(0.05)


def test_no_limit_on_either_axis_means_no_wait() -> None:
    state = QuotaState(Quota())
    assert all(state.reserve(0.0, 10**6) == 0 for _ in range(100))


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), True, "5"])
def test_a_quota_must_be_positive(value: Any) -> None:
    with pytest.raises(errors.ParamValidationError) as caught:
        Quota(tps=value)
    assert caught.value.problems[0][0] == "tps"
    with pytest.raises(errors.ParamValidationError, match="chars_per_second"):
        Quota(chars_per_second=value)


def test_the_defaults_name_every_operation() -> None:
    assert set(DEFAULT_QUOTAS) == {xform_name(name) for name in OPERATIONS}
    assert DEFAULT_QUOTAS["detect_entities_v2"] == Quota(tps=40, chars_per_second=40_000)
    assert DEFAULT_QUOTAS["infer_snomedct"] == Quota(tps=2, chars_per_second=5_000)
    assert DEFAULT_QUOTAS["start_phi_detection_job"] == Quota(tps=5)
    assert DEFAULT_QUOTAS["list_rx_norm_inference_jobs"] == Quota(tps=10)
    with pytest.raises(TypeError):
        DEFAULT_QUOTAS["detect_phi"] = Quota(tps=1)  # type: ignore[index]


def test_quotas_lay_over_the_defaults() -> None:
    assert resolve_quotas(None) is None
    assert resolve_quotas({}) == {k: v for k, v in DEFAULT_QUOTAS.items() if v is not None}
    resolved = resolve_quotas({"detect_phi": Quota(tps=500), "infer_snomedct": None})
    assert resolved is not None
    assert resolved["detect_phi"] == Quota(tps=500)
    assert "infer_snomedct" not in resolved
    assert resolved["detect_entities_v2"] == DEFAULT_QUOTAS["detect_entities_v2"]


def test_bad_quotas_name_the_entry() -> None:
    with pytest.raises(errors.ParamValidationError) as caught:
        resolve_quotas({"detect_entites_v2": Quota(tps=1), "detect_phi": 5},  # type: ignore[dict-item]
                       owner="ComprehendMedical")
    assert [p for p, _ in caught.value.problems] == ["quotas['detect_entites_v2']",
                                                     "quotas['detect_phi']"]
    with pytest.raises(errors.ParamValidationError, match="quotas"):
        resolve_quotas([("detect_phi", Quota(tps=1))])  # type: ignore[arg-type]


def test_the_meter_counts_text_operations_in_characters_and_units() -> None:
    admission = Admission(None)
    assert admission.admit("DetectPHI", "x" * 250, 0.0) == 0
    admission.admit("DetectPHI", "y", 0.0)
    admission.admit("DescribePHIDetectionJob", None, 0.0)
    assert admission.usage() == {
        "describe_phi_detection_job": Usage(1, 0, 0),
        "detect_phi": Usage(2, 251, 4),
    }


# --- through a client ---------------------------------------------------------------------


def test_the_client_quotas_option(make_client: Any) -> None:
    assert make_client(quotas=None).quotas is None
    client = make_client(quotas={"detect_phi": Quota(tps=1000)})
    assert client.quotas["detect_phi"] == Quota(tps=1000)
    assert client.quotas["detect_entities_v2"] == Quota(tps=40, chars_per_second=40_000)
    with pytest.raises(errors.ParamValidationError, match="quotas"):
        make_client(quotas={"detect": Quota(tps=1)})


def test_the_default_quota_applies(make_client: Any) -> None:
    client = make_client(quotas={})
    started = time.perf_counter()
    for _ in range(5):
        client.infer_snomedct(text="Chest pain.")  # 2 TPS by default
    assert time.perf_counter() - started >= 2.0


def test_usage_counts_each_call_once_across_threads(
    make_client: Any, mock: ComprehendMedicalMock
) -> None:
    client = make_client(retry_backoff_base=0.01)
    mock.fail_next(5, "ServiceUnavailableException", operation="DetectPHI")

    def work() -> None:
        for _ in range(25):
            client.detect_phi(text="Call John at 206-555-0142.")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.usage == {"detect_phi": Usage(200, 200 * 26, 200)}
    assert len(mock.calls) == 205


def test_usage_is_a_snapshot(make_client: Any) -> None:
    client = make_client()
    before = client.usage
    client.detect_phi(text="Fever.")
    assert before == {}
    assert client.usage["detect_phi"] == Usage(1, 6, 1)


def test_a_call_that_fails_validation_is_not_counted(make_client: Any) -> None:
    client = make_client()
    with pytest.raises(errors.ParamValidationError):
        client.analyze_document("")
    assert client.usage == {}


def test_the_limiter_is_shared_by_threads(make_client: Any) -> None:
    client = make_client(quotas={"detect_phi": Quota(tps=50)})

    def work() -> None:
        for _ in range(10):
            client.detect_phi(text="Fever.")

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.perf_counter() - started >= 39 / 50


def test_async_usage_and_limiter_are_shared_by_tasks(mock: ComprehendMedicalMock) -> None:
    async def run() -> tuple[float, dict[str, Usage]]:
        async with async_client(mock, quotas={"detect_phi": Quota(tps=50)}) as client:
            started = time.perf_counter()
            await asyncio.gather(*(client.detect_phi(text="Fever.") for _ in range(40)))
            return time.perf_counter() - started, client.usage

    elapsed, usage = asyncio.run(run())
    assert elapsed >= 39 / 50
    assert usage == {"detect_phi": Usage(40, 240, 40)}
