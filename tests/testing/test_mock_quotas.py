"""The mock keeps up with real clinical text (issue 13, point 8): text size limits per
operation, rate limits per operation in transactions and characters per second, and a
latency that delays each answer without holding up any other."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from cmclient import AsyncComprehendMedical, ComprehendMedical, Credentials, errors
from cmclient.sigv4 import sign_request
from cmclient.testing import ComprehendMedicalMock, RateLimit

ENDPOINT = "https://comprehendmedical.us-east-1.amazonaws.com/"
CREDS = Credentials("AKIDQUOTA", "quota-secret")
DETECT = ["DetectEntities", "DetectEntitiesV2", "DetectPHI"]
INFER = ["InferICD10CM", "InferRxNorm", "InferSNOMEDCT"]


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


def raw(mock: ComprehendMedicalMock, operation: str, body: dict[str, Any]) -> httpx.Response:
    """A signed awsJson1_1 request, bypassing the client's own validation."""
    content = json.dumps(body).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1",
               "X-Amz-Target": f"ComprehendMedical_20181030.{operation}"}
    headers.update(sign_request("POST", ENDPOINT, headers, content, credentials=CREDS,
                                region="us-east-1", service="comprehendmedical",
                                timestamp=datetime.now(timezone.utc)))
    with httpx.Client(transport=mock.transport()) as http:
        return http.post(ENDPOINT, content=content, headers=headers)


def outcome(response: httpx.Response) -> str | int:
    if response.status_code == 200:
        return 200
    assert response.status_code == 400, response.status_code
    code: str = response.json()["__type"].rsplit("#", 1)[1]
    return code


def text(mock: ComprehendMedicalMock, operation: str, value: str) -> str | int:
    return outcome(raw(mock, operation, {"Text": value}))


# --- text size ----------------------------------------------------------------------

@pytest.mark.parametrize("operation", DETECT)
def test_detect_operations_count_20000_bytes_of_utf8(operation: str) -> None:
    mock = ComprehendMedicalMock()
    assert text(mock, operation, "a" * 20_000) == 200
    assert text(mock, operation, "é" * 10_000) == 200  # 10,000 characters, 20,000 bytes
    assert text(mock, operation, "😀" * 5_000) == 200  # 4 bytes each
    for over in ("a" * 20_001, "é" * 10_000 + "a", "😀" * 5_000 + "a", "é" * 15_000):
        assert text(mock, operation, over) == "TextSizeLimitExceededException"
    response = raw(mock, operation, {"Text": "é" * 10_001})
    assert response.json()["__type"] == (
        "com.amazonaws.comprehendmedical#TextSizeLimitExceededException")
    assert "20000 bytes" in response.json()["message"]


@pytest.mark.parametrize("operation", INFER)
def test_infer_operations_count_10000_characters(operation: str) -> None:
    mock = ComprehendMedicalMock()
    assert text(mock, operation, "a" * 10_000) == 200
    assert text(mock, operation, "é" * 10_000) == 200  # 20,000 bytes, still 10,000 characters
    assert text(mock, operation, "😀" * 10_000) == 200
    assert text(mock, operation, "a" * 10_001) == "TextSizeLimitExceededException"
    assert text(mock, operation, "é" * 10_001) == "TextSizeLimitExceededException"
    assert "10000 characters" in raw(mock, operation, {"Text": "a" * 10_001}).json()["message"]


def test_text_limits_can_be_overridden_in_each_operations_unit() -> None:
    mock = ComprehendMedicalMock(text_limits={"InferSNOMEDCT": 5_000, "DetectPHI": 100})
    assert text(mock, "InferSNOMEDCT", "é" * 5_000) == 200
    assert text(mock, "InferSNOMEDCT", "a" * 5_001) == "TextSizeLimitExceededException"
    assert text(mock, "DetectPHI", "é" * 50) == 200
    assert text(mock, "DetectPHI", "é" * 51) == "TextSizeLimitExceededException"
    assert text(mock, "InferRxNorm", "a" * 10_000) == 200  # the others keep theirs
    with pytest.raises(ValueError, match="takes no text"):
        ComprehendMedicalMock(text_limits={"ListPHIDetectionJobs": 5})


def test_the_client_surfaces_text_size_limit_exceeded() -> None:
    mock = ComprehendMedicalMock()
    with mock.client(credentials=CREDS, max_attempts=1) as client, pytest.raises(
        errors.TextSizeLimitExceededException
    ) as caught:
        client.detect_phi(text="ü" * 15_000)  # within the model's 20,000 characters
    assert caught.value.status_code == 400
    assert [c.error_code for c in mock.calls] == ["TextSizeLimitExceededException"]


# --- rate limits --------------------------------------------------------------------

def test_transactions_per_second_on_an_injected_clock() -> None:
    clock = FakeClock()
    mock = ComprehendMedicalMock(monotonic=clock)
    mock.set_rate_limit("DetectPHI", tps=2)
    assert [text(mock, "DetectPHI", "x") for _ in range(3)] == [
        200, 200, "TooManyRequestsException"]
    assert text(mock, "DetectEntitiesV2", "x") == 200  # per operation
    clock.tick(0.49)
    assert text(mock, "DetectPHI", "x") == "TooManyRequestsException"
    clock.tick(0.01)  # half a second at 2 per second: one token
    assert [text(mock, "DetectPHI", "x") for _ in range(2)] == [200, "TooManyRequestsException"]
    clock.tick(60)  # a long pause refills one second's burst, no more
    assert [text(mock, "DetectPHI", "x") for _ in range(3)] == [
        200, 200, "TooManyRequestsException"]
    mock.set_rate_limit("DetectPHI")  # both axes None: no limit
    assert [text(mock, "DetectPHI", "x") for _ in range(5)] == [200] * 5
    assert mock.rate_limits == {}


def test_characters_per_second_on_an_injected_clock() -> None:
    clock = FakeClock()
    mock = ComprehendMedicalMock(monotonic=clock)
    mock.set_rate_limit("InferRxNorm", chars_per_second=100)
    assert text(mock, "InferRxNorm", "a" * 60) == 200
    assert text(mock, "InferRxNorm", "a" * 60) == "TooManyRequestsException"  # 40 left
    assert text(mock, "InferRxNorm", "a" * 40) == 200
    clock.tick(0.3)
    assert text(mock, "InferRxNorm", "a" * 31) == "TooManyRequestsException"
    assert text(mock, "InferRxNorm", "a" * 30) == 200
    # A document larger than a second's worth passes on a full bucket and leaves a
    # debt, so it is slowed to the rate rather than refused for ever.
    clock.tick(5)
    assert text(mock, "InferRxNorm", "a" * 250) == 200  # 150 in debt
    clock.tick(1.5)
    assert text(mock, "InferRxNorm", "a") == "TooManyRequestsException"
    clock.tick(0.01)
    assert text(mock, "InferRxNorm", "a") == 200


def test_a_request_refused_on_one_axis_takes_nothing_from_the_other() -> None:
    clock = FakeClock()
    mock = ComprehendMedicalMock(monotonic=clock)
    mock.set_rate_limit("DetectEntitiesV2", tps=2, chars_per_second=100)
    assert text(mock, "DetectEntitiesV2", "a" * 100) == 200  # 1 request, 0 characters left
    assert text(mock, "DetectEntitiesV2", "a") == "TooManyRequestsException"  # characters
    clock.tick(0.01)
    assert text(mock, "DetectEntitiesV2", "a") == 200  # the refused one took no request
    assert text(mock, "DetectEntitiesV2", "a") == "TooManyRequestsException"  # requests now
    assert mock.rate_limits == {"DetectEntitiesV2": RateLimit(2, 100)}


def test_advance_refills_the_buckets_too() -> None:
    mock = ComprehendMedicalMock(monotonic=FakeClock(), rate_limits={"DetectPHI": 1})
    assert [text(mock, "DetectPHI", "x") for _ in range(2)] == [200, "TooManyRequestsException"]
    mock.advance(1)
    assert text(mock, "DetectPHI", "x") == 200
    mock.reset()  # a fresh start refills too
    assert text(mock, "DetectPHI", "x") == 200


def test_the_aws_preset_throttles_snomedct_at_2_tps_and_5000_characters() -> None:
    clock = FakeClock()
    mock = ComprehendMedicalMock(monotonic=clock, rate_limits="aws")
    assert [text(mock, "InferSNOMEDCT", "x") for _ in range(3)] == [
        200, 200, "TooManyRequestsException"]
    clock.tick(1)
    assert text(mock, "InferSNOMEDCT", "a" * 5_000) == 200
    assert text(mock, "InferSNOMEDCT", "a") == "TooManyRequestsException"


def test_rate_limits_take_numbers_or_rate_limits_and_check_names() -> None:
    mock = ComprehendMedicalMock(rate_limits={"DetectPHI": 3,
                                              "InferICD10CM": RateLimit(chars_per_second=10)})
    assert mock.rate_limits == {"DetectPHI": RateLimit(3.0),
                                "InferICD10CM": RateLimit(None, 10)}
    with pytest.raises(ValueError, match="unknown operation"):
        mock.set_rate_limit("DetectEverything", 1)
    with pytest.raises(ValueError, match="unknown operation"):
        ComprehendMedicalMock(rate_limits={"Nope": 1})
    with pytest.raises(ValueError, match="tps"):
        mock.set_rate_limit("DetectPHI", tps=0)
    with pytest.raises(ValueError, match="chars_per_second"):
        mock.set_rate_limit("DetectPHI", chars_per_second=-5)


def test_throttling_reaches_clients_as_too_many_requests_with_http_400() -> None:
    mock = ComprehendMedicalMock(monotonic=FakeClock())
    mock.set_rate_limit("DetectEntitiesV2", tps=1)
    with mock.client(credentials=CREDS, max_attempts=1) as client:
        client.detect_entities_v2(text="aspirin")
        with pytest.raises(errors.TooManyRequestsException) as caught:
            client.detect_entities_v2(text="aspirin")
    assert caught.value.status_code == 400
    assert caught.value.code == "TooManyRequestsException"


def test_a_retrying_client_rides_out_throttling_on_the_real_clock() -> None:
    mock = ComprehendMedicalMock()
    mock.set_rate_limit("InferICD10CM", tps=20)
    with mock.client(credentials=CREDS, max_attempts=10) as client:
        for _ in range(30):
            assert client.infer_icd10_cm(text="Patient has asthma.").entities
    statuses = [(c.status, c.error_code) for c in mock.calls]
    assert statuses.count((200, None)) == 30
    assert set(statuses) <= {(200, None), (400, "TooManyRequestsException")}


# --- latency ------------------------------------------------------------------------

LATENCY = 0.4
PARALLEL = 8


def test_latency_over_the_server_does_not_block_other_connections() -> None:
    mock = ComprehendMedicalMock()
    mock.set_latency(LATENCY)
    durations: list[float] = []
    with mock.serve() as url:
        barrier = threading.Barrier(PARALLEL)

        def call() -> None:
            with ComprehendMedical(region="us-east-1", endpoint_url=url, credentials=CREDS,
                                   max_attempts=1) as client:
                barrier.wait()
                started = time.monotonic()
                client.detect_phi(text="Call 555-123-4567")
                durations.append(time.monotonic() - started)

        started = time.monotonic()
        threads = [threading.Thread(target=call) for _ in range(PARALLEL)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        elapsed = time.monotonic() - started
    assert len(durations) == PARALLEL
    assert min(durations) >= LATENCY * 0.95
    assert elapsed < LATENCY * PARALLEL / 2  # side by side, not one after another


def test_latency_in_the_async_transport_awaits() -> None:
    mock = ComprehendMedicalMock(latency=LATENCY)

    async def scenario() -> float:
        async with httpx.AsyncClient(transport=mock.transport()) as http:
            client = AsyncComprehendMedical(region="us-east-1", endpoint_url=ENDPOINT,
                                            credentials=CREDS, http_client=http)
            started = time.monotonic()
            await asyncio.gather(*(client.detect_phi(text="x") for _ in range(PARALLEL)))
            return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    assert LATENCY * 0.95 <= elapsed < LATENCY * PARALLEL / 2


def test_latency_in_the_sync_transport_sleeps_in_each_callers_thread() -> None:
    mock = ComprehendMedicalMock()
    mock.set_latency({"DetectPHI": LATENCY})  # by operation
    with mock.client(credentials=CREDS) as client:
        started = time.monotonic()
        client.detect_entities_v2(text="x")
        assert time.monotonic() - started < LATENCY  # not DetectPHI: no latency
        threads = [threading.Thread(target=client.detect_phi, kwargs={"text": "x"})
                   for _ in range(PARALLEL)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        elapsed = time.monotonic() - started
    assert LATENCY * 0.95 <= elapsed < LATENCY * PARALLEL / 2
    with pytest.raises(ValueError, match="latency"):
        mock.set_latency(-1)
