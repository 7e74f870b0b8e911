"""Both clients against a loopback server that misbehaves on purpose (tests/faultserver.py):
for each fault, the number of attempts, the backoff, the outcome or error class, that
the call ends within its configured time, and that a Start*Job call keeps one token."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cmclient import AsyncComprehendMedical, ComprehendMedical, Credentials, errors
from tests.conftest import CREDENTIALS
from tests.helpers.faultserver import (
    CloseWithoutReply,
    CutBody,
    FaultServer,
    Recorded,
    Reply,
    ResetBeforeResponse,
    ResetMidResponse,
    SkewedClock,
    Stall,
    Trickle,
    aws_error,
    html_page,
    throttled,
    truncated_json,
)

JOB_ID = "5c9d7a1e0f3b4a2c8e6d1f7a9b3c5e2d"
DESCRIBE = ("describe_entities_detection_v2_job", {"job_id": JOB_ID})
START = ("start_entities_detection_v2_job", {
    "input_data_config": {"S3Bucket": "in-bucket"},
    "output_data_config": {"S3Bucket": "out-bucket"},
    "data_access_role_arn": "arn:aws:iam::123456789012:role/x",
    "language_code": "en",
})
FAST = {"retry_backoff_base": 0.01, "retry_backoff_cap": 0.02, "timeout": 2.0}
KINDS = ["sync", "async"]


@pytest.fixture(autouse=True)
def _no_retry_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


@dataclass
class Outcome:
    result: Any
    error: BaseException | None
    elapsed: float


Setup = Callable[[Any], None]


def run(kind: str, server: FaultServer, calls: list[tuple[str, dict[str, Any]]],
        setup: Setup | None = None, **kwargs: Any) -> list[Outcome]:
    """Make ``calls`` in order on one client of ``kind``; each call's outcome and time."""
    options = {"region": "us-east-1", "endpoint_url": server.url, "credentials": CREDENTIALS,
               **FAST, **kwargs}
    outcomes: list[Outcome] = []
    if kind == "sync":
        with ComprehendMedical(**options) as client:
            if setup:
                setup(client)
            for method, params in calls:
                started = time.monotonic()
                try:
                    result, error = getattr(client, method)(**params), None
                except errors.ComprehendMedicalError as exc:
                    result, error = None, exc
                outcomes.append(Outcome(result, error, time.monotonic() - started))
        return outcomes

    async def main() -> None:
        async with AsyncComprehendMedical(**options) as client:
            if setup:
                setup(client)
            for method, params in calls:
                started = time.monotonic()
                try:
                    result, error = await getattr(client, method)(**params), None
                except errors.ComprehendMedicalError as exc:
                    result, error = None, exc
                outcomes.append(Outcome(result, error, time.monotonic() - started))

    asyncio.run(main())
    return outcomes


def one(kind: str, server: FaultServer, call: tuple[str, dict[str, Any]] = DESCRIBE,
        setup: Setup | None = None, **kwargs: Any) -> Outcome:
    return run(kind, server, [call], setup, **kwargs)[0]


def attempt_headers(requests: list[Recorded]) -> list[str]:
    return [r.headers["amz-sdk-request"] for r in requests]


def always_max_jitter(client: Any) -> None:
    client._retry.random = lambda: 1.0


# --- throttling and transient errors --------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_throttling_burst_is_retried_with_backoff_and_headers(kind: str, server: FaultServer) -> None:
    server.script(throttled(), throttled("ThrottlingException"))
    outcome = one(kind, server, setup=always_max_jitter,
                  retry_backoff_base=0.05, retry_backoff_cap=0.08)
    assert outcome.error is None
    reqs = server.requests
    assert attempt_headers(reqs) == ["attempt=1; max=3", "attempt=2; max=3", "attempt=3; max=3"]
    assert len({r.headers["amz-sdk-invocation-id"] for r in reqs}) == 1
    assert len({r.body for r in reqs}) == 1
    for r in reqs:
        assert "SignedHeaders=content-type;host;x-amz-date;x-amz-target," in r.headers["authorization"]
    # random() = 1: the waits are exactly min(base * 2**(n-1), cap), plus transit
    gaps = [b.at - a.at for a, b in itertools.pairwise(reqs)]
    assert 0.05 <= gaps[0] < 0.05 + 0.5
    assert 0.08 <= gaps[1] < 0.08 + 0.5


@pytest.mark.parametrize("kind", KINDS)
def test_throttling_past_max_attempts_raises_with_the_attempt_count(kind: str, server: FaultServer) -> None:
    server.script(*[throttled()] * 5)
    outcome = one(kind, server)
    err = outcome.error
    assert isinstance(err, errors.TooManyRequestsException)
    assert len(server.requests) == 3
    assert err.attempts == 3
    assert "(reached max retries: 2; 3 attempts)" in str(err)
    meta = err.response["ResponseMetadata"]
    assert meta["RetryAttempts"] == 2
    assert meta["MaxAttemptsReached"] is True
    assert "RetryQuotaReached" not in meta


@pytest.mark.parametrize("reply", [
    throttled("RequestLimitExceeded"), throttled("SlowDown"), throttled("PriorRequestNotComplete"),
    Reply(500, aws_error("InternalServerException")), Reply(503, aws_error("ServiceUnavailableException")),
    Reply(408, aws_error("RequestTimeoutException")), html_page(500), html_page(502),
    html_page(503), html_page(504), Reply(429, b""),
], ids=lambda r: f"{r.status}-{r.body[:40]!r}")
def test_retryable_answers_are_retried_once_then_succeed(reply: Reply, server: FaultServer) -> None:
    server.script(reply)
    assert one("sync", server).error is None
    assert len(server.requests) == 2


@pytest.mark.parametrize(("reply", "kind_of_error"), [
    (Reply(400, aws_error("ValidationException")), errors.ValidationException),
    (Reply(400, aws_error("InvalidRequestException")), errors.InvalidRequestException),
    (Reply(403, aws_error("AccessDeniedException")), errors.AccessDeniedException),
    (Reply(403, aws_error("UnrecognizedClientException")), errors.UnrecognizedClientException),
    (Reply(403, aws_error("InvalidSignatureException", "The request signature we calculated does not match")),
     errors.InvalidSignatureException),
    (html_page(403), errors.ServiceError),
])
def test_validation_and_authorization_errors_are_never_retried(
    reply: Reply, kind_of_error: type[Exception], server: FaultServer
) -> None:
    server.script(reply)
    outcome = one("sync", server)
    assert type(outcome.error) is kind_of_error
    assert len(server.requests) == 1
    assert outcome.error.attempts == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", KINDS)
def test_html_error_pages_are_retried_and_end_as_a_service_error(kind: str, server: FaultServer) -> None:
    server.script(*[html_page(502)] * 3)
    err = one(kind, server).error
    assert isinstance(err, errors.ServiceError)
    assert (err.code, err.status_code, err.attempts) == ("502", 502, 3)


def test_max_attempts_1_means_no_retries(server: FaultServer) -> None:
    server.script(throttled())
    err = one("sync", server, max_attempts=1).error
    assert isinstance(err, errors.TooManyRequestsException)
    assert len(server.requests) == 1
    assert attempt_headers(server.requests) == ["attempt=1; max=1"]


def test_environment_sets_max_attempts_and_an_argument_overrides_it(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    server.script(*[throttled()] * 10)
    assert one("sync", server).error.attempts == 2  # type: ignore[union-attr]
    assert one("sync", server, max_attempts=4).error.attempts == 4  # type: ignore[union-attr]
    assert len(server.requests) == 6


def test_an_empty_retry_quota_fails_on_the_first_error(server: FaultServer) -> None:
    def drain(client: Any) -> None:
        client._retry.quota.available = 4

    server.script(throttled())
    err = one("sync", server, setup=drain).error
    assert isinstance(err, errors.TooManyRequestsException)
    assert len(server.requests) == 1
    assert err.response["ResponseMetadata"]["RetryQuotaReached"] is True


# --- broken connections --------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault", [ResetBeforeResponse(), ResetMidResponse(), CutBody()],
                         ids=["reset-before", "reset-mid-response", "cut-body"])
def test_broken_connections_are_retried_on_a_new_connection(kind: str, fault: Any, server: FaultServer) -> None:
    server.script(fault)
    outcome = one(kind, server)
    assert outcome.error is None
    assert len(server.requests) == 2
    assert server.requests[0].connection != server.requests[1].connection


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_cut_on_every_attempt_ends_as_connection_closed(kind: str, server: FaultServer) -> None:
    server.script(CutBody(), CutBody(), CutBody())
    err = one(kind, server).error
    assert isinstance(err, errors.ConnectionClosedError)
    assert err.attempts == 3
    assert "3 attempts" in str(err)


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_json_in_a_complete_200_is_a_parse_error_not_retried(kind: str, server: FaultServer) -> None:
    server.script(truncated_json())
    err = one(kind, server).error
    assert isinstance(err, errors.ResponseParseError)
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_dropped_keep_alive_connection_is_retried_on_a_new_one(kind: str, server: FaultServer) -> None:
    server.script(Reply(), CloseWithoutReply())
    first, second = run(kind, server, [DESCRIBE, DESCRIBE], max_attempts=2)
    assert first.error is None and second.error is None
    conns = [r.connection for r in server.requests]
    assert conns[0] == conns[1] != conns[2]


def test_refused_connections_end_as_endpoint_connection_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with ComprehendMedical(region="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                           credentials=CREDENTIALS, **FAST) as client, \
            pytest.raises(errors.EndpointConnectionError) as caught:  # type: ignore[arg-type]
        client.describe_entities_detection_v2_job(job_id=JOB_ID)
    assert caught.value.attempts == 3


# --- timeouts ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_a_stall_past_the_read_timeout_is_retried(kind: str, server: FaultServer) -> None:
    server.script(Stall(5))
    outcome = one(kind, server, timeout=0.3)
    assert outcome.error is None
    assert len(server.requests) == 2
    assert outcome.elapsed < 0.3 + 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_stalls_on_every_attempt_end_as_read_timeout_within_bounds(kind: str, server: FaultServer) -> None:
    server.script(Stall(5), Stall(5), Stall(5))
    outcome = one(kind, server, timeout=0.2)
    assert isinstance(outcome.error, errors.ReadTimeoutError)
    assert isinstance(outcome.error, errors.ClientTimeoutError)
    assert outcome.error.attempts == 3
    assert outcome.elapsed < 3 * 0.2 + 2 * 0.02 + 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_a_slow_trickle_cannot_outlast_the_call_timeout(kind: str, server: FaultServer) -> None:
    server.script(Trickle(0.05))  # 200 bytes at 20 per second: 10 seconds
    outcome = one(kind, server, timeout=0.5, call_timeout=1.0)
    assert isinstance(outcome.error, errors.CallTimeoutError)
    assert isinstance(outcome.error, errors.ClientTimeoutError)
    assert 0.9 <= outcome.elapsed < 1.0 + 0.6
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_trickled_response_head_cannot_outlast_the_call_timeout(
    kind: str, server: FaultServer
) -> None:
    # Every byte of the head arrives well within the read timeout, so only the call's
    # deadline can end this: the sync pool cuts each receive to it.
    server.script(Trickle(0.05, head=True))  # a head of ~150 bytes: 7 seconds and more
    outcome = one(kind, server, timeout=5.0, call_timeout=1.0)
    assert isinstance(outcome.error, errors.ClientTimeoutError)
    assert 0.9 <= outcome.elapsed < 1.0 + 0.6
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_call_timeout_covers_backoff_and_every_attempt(kind: str, server: FaultServer) -> None:
    server.script(*[throttled()] * 10)
    outcome = one(kind, server, setup=always_max_jitter, max_attempts=10,
                  retry_backoff_base=0.2, retry_backoff_cap=5, call_timeout=1.0)
    assert isinstance(outcome.error, errors.CallTimeoutError)
    assert isinstance(outcome.error.__cause__, errors.TooManyRequestsException)
    assert outcome.elapsed < 1.0 + 0.5
    assert len(server.requests) < 10


@pytest.mark.parametrize("kind", KINDS)
def test_a_stall_is_cut_to_the_time_left_in_the_call(kind: str, server: FaultServer) -> None:
    server.script(Stall(5))
    outcome = one(kind, server, timeout=5.0, call_timeout=0.5)
    assert isinstance(outcome.error, errors.ClientTimeoutError)
    assert outcome.elapsed < 0.5 + 0.6


# --- clock skew and expired credentials ------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_clock_skew_is_corrected_from_the_date_header_and_kept(kind: str, server: FaultServer) -> None:
    server.default = SkewedClock(ahead=3600)
    first, second = run(kind, server, [DESCRIBE, DESCRIBE], max_attempts=1)
    assert first.error is None and second.error is None
    reqs = server.requests
    assert len(reqs) == 3  # the first call re-signed once, the second was right at once
    assert attempt_headers(reqs) == ["attempt=1; max=1", "attempt=2; max=1", "attempt=1; max=1"]
    assert reqs[0].headers["amz-sdk-invocation-id"] == reqs[1].headers["amz-sdk-invocation-id"]
    assert reqs[0].headers["x-amz-date"] < reqs[1].headers["x-amz-date"]
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-target," in reqs[1].headers["authorization"]


def test_clock_skew_is_retried_only_once(server: FaultServer) -> None:
    body = aws_error("InvalidSignatureException", "Signature expired: 20240101T000000Z is now earlier")
    server.default = Reply(403, body)
    err = one("sync", server).error
    assert isinstance(err, errors.InvalidSignatureException)
    assert len(server.requests) == 2


class RotatingProvider:
    """Hands out new keys after each invalidate."""

    def __init__(self) -> None:
        self.generation = 0
        self.invalidated = 0

    def _current(self) -> Credentials:
        return Credentials(f"AKIDGEN{self.generation}", "secret", session_token="tok")

    def load(self) -> Credentials:
        return self._current()

    async def aload(self) -> Credentials:
        return self._current()

    def invalidate(self) -> None:
        self.invalidated += 1
        self.generation += 1


@pytest.mark.parametrize("kind", KINDS)
def test_expired_token_reloads_credentials_and_retries_once_for_free(kind: str, server: FaultServer) -> None:
    provider = RotatingProvider()
    server.script(Reply(400, aws_error("ExpiredTokenException", "The security token included in the request is expired")))
    outcome = one(kind, server, credentials=provider, max_attempts=1)
    assert outcome.error is None
    assert provider.invalidated == 1
    auth = [r.headers["authorization"] for r in server.requests]
    assert "Credential=AKIDGEN0/" in auth[0] and "Credential=AKIDGEN1/" in auth[1]
    assert attempt_headers(server.requests) == ["attempt=1; max=1", "attempt=2; max=1"]


def test_expired_token_twice_raises_the_error(server: FaultServer) -> None:
    server.default = Reply(400, aws_error("ExpiredToken", "expired"))
    err = one("sync", server, credentials=RotatingProvider()).error
    assert isinstance(err, errors.ServiceError)
    assert err.code == "ExpiredToken"
    assert len(server.requests) == 2


# --- Start*Job tokens -------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_start_job_retries_never_use_a_second_client_request_token(kind: str, server: FaultServer) -> None:
    server.script(throttled(), ResetBeforeResponse(), CutBody(),
                  Reply(body=b'{"JobId": "job-1"}'))
    outcome = one(kind, server, START, max_attempts=4)
    assert outcome.error is None
    assert outcome.result.job_id == "job-1"
    tokens = {r.json()["ClientRequestToken"] for r in server.requests}
    assert len(server.requests) == 4
    assert len(tokens) == 1
    assert len({r.body for r in server.requests}) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_start_job_that_fails_every_attempt_used_one_token(kind: str, server: FaultServer) -> None:
    server.script(*[throttled()] * 3, SkewedClock())
    server.default = SkewedClock()
    outcome = one(kind, server, START)
    assert isinstance(outcome.error, errors.TooManyRequestsException)
    tokens = {r.json()["ClientRequestToken"] for r in server.requests}
    assert len(tokens) == 1


# --- the async client shares the loop ---------------------------------------------------

def run_with_ticker(server: FaultServer, setup: Setup, **kwargs: Any) -> tuple[int, float]:
    """One async call with a task ticking every 10 ms beside it: (ticks, call seconds)."""
    ticks = 0

    async def ticker(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    async def main() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop))
        async with AsyncComprehendMedical(region="us-east-1", endpoint_url=server.url,
                                          credentials=CREDENTIALS, **kwargs) as client:
            setup(client)
            started = time.monotonic()
            await client.describe_entities_detection_v2_job(job_id=JOB_ID)
            elapsed = time.monotonic() - started
        stop.set()
        await task
        return elapsed

    elapsed = asyncio.run(main())
    return ticks, elapsed


def test_async_backoff_does_not_block_the_event_loop(server: FaultServer) -> None:
    server.script(throttled(), throttled())
    ticks, elapsed = run_with_ticker(server, always_max_jitter,
                                     retry_backoff_base=0.3, retry_backoff_cap=0.3)
    assert len(server.requests) == 3
    assert elapsed >= 0.6
    assert ticks >= 30  # 0.6 s of backoff, and the ticker kept running


def test_async_adaptive_limiter_wait_does_not_block_the_event_loop(server: FaultServer) -> None:
    def limit_to_two_per_second(client: Any) -> None:
        limiter = client._retry.limiter
        limiter.enabled = True
        limiter._set_rate(2.0, time.monotonic())
        limiter._capacity = 0.0  # the next send waits half a second

    ticks, elapsed = run_with_ticker(server, limit_to_two_per_second, retry_mode="adaptive")
    assert len(server.requests) == 1
    assert elapsed >= 0.45
    assert ticks >= 25


def test_max_connections_sizes_the_pool() -> None:
    with ComprehendMedical(region="us-east-1", credentials=CREDENTIALS, max_connections=7) as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool.state.max_connections == 7
