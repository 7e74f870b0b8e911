"""The sans-I/O retry rules: configuration, classification, backoff, quota, free
attempts and the adaptive limiter, driven with a fake clock and random source."""

from __future__ import annotations

import threading
from email.utils import formatdate

import pytest

from cmclient import errors
from cmclient._protocol.retry import (
    ADAPTIVE,
    STANDARD,
    THROTTLING_CODES,
    Action,
    AdaptiveRateLimiter,
    Kind,
    RetryConfig,
    RetryPolicy,
    RetryQuota,
    backoff_delay,
    classify,
    resolve_retry_config,
)


def service_error(code: str, status: int = 400, message: str = "", headers: dict[str, str] | None = None) -> errors.ServiceError:
    return errors.error_class_for(code)(
        code=code, message=message, status_code=status, request_id="r",
        operation_name="Op", headers=headers or {},
    )


THROTTLE = service_error("ThrottlingException")
TIMEOUT = errors.ReadTimeoutError("read timed out", operation_name="Op")


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- configuration -----------------------------------------------------------------

def test_defaults_are_standard_mode_three_attempts_base_1_cap_20() -> None:
    assert resolve_retry_config(environ={}) == RetryConfig(STANDARD, 3, 1.0, 20.0)


def test_argument_beats_environment_beats_profile() -> None:
    env = {"AWS_RETRY_MODE": "adaptive", "AWS_MAX_ATTEMPTS": "7"}
    profile = {"retry_mode": "standard", "max_attempts": "9"}
    assert resolve_retry_config(retry_mode="standard", max_attempts=2, environ=env,
                                profile=profile) == RetryConfig(STANDARD, 2)
    assert resolve_retry_config(environ=env, profile=profile) == RetryConfig(ADAPTIVE, 7)
    assert resolve_retry_config(environ={}, profile=profile) == RetryConfig(STANDARD, 9)


def test_legacy_mode_reads_as_standard() -> None:
    assert resolve_retry_config(environ={"AWS_RETRY_MODE": "legacy"}).mode == STANDARD


@pytest.mark.parametrize(("kwargs", "env", "named"), [
    ({"retry_mode": "fast"}, {}, "retry_mode argument"),
    ({}, {"AWS_RETRY_MODE": "nope"}, "AWS_RETRY_MODE"),
    ({"max_attempts": 0}, {}, "max_attempts argument"),
    ({}, {"AWS_MAX_ATTEMPTS": "three"}, "AWS_MAX_ATTEMPTS"),
])
def test_bad_settings_raise_configuration_error_naming_the_source(
    kwargs: dict[str, object], env: dict[str, str], named: str
) -> None:
    with pytest.raises(errors.ConfigurationError, match=named):
        resolve_retry_config(environ=env, **kwargs)  # type: ignore[arg-type]


# --- classification ----------------------------------------------------------------

@pytest.mark.parametrize("code", sorted(THROTTLING_CODES))
def test_every_throttling_code_is_throttling(code: str) -> None:
    assert classify(service_error(code)) is Kind.THROTTLING


@pytest.mark.parametrize(("code", "status"), [
    ("RequestTimeout", 408), ("RequestTimeoutException", 408),
    ("InternalServerException", 500), ("ServiceUnavailableException", 503),
    ("500", 500), ("502", 502), ("503", 503), ("504", 504), ("SomethingNew", 503),
])
def test_transient_codes_and_statuses_are_transient(code: str, status: int) -> None:
    assert classify(service_error(code, status)) is Kind.TRANSIENT


@pytest.mark.parametrize(("code", "status"), [
    ("ValidationException", 400), ("InvalidRequestException", 400),
    ("TextSizeLimitExceededException", 400), ("AccessDeniedException", 403),
    ("UnrecognizedClientException", 403), ("ResourceNotFoundException", 404),
    ("InvalidSignatureException", 403), ("400", 400),
])
def test_validation_and_authorization_errors_are_not_retried(code: str, status: int) -> None:
    assert classify(service_error(code, status, "The signature does not match")) is Kind.FATAL


@pytest.mark.parametrize(("code", "message"), [
    ("InvalidSignatureException", "Signature expired: 20240101T000000Z is now earlier than ..."),
    ("SignatureDoesNotMatch", "Signature not yet current: 20240101T020000Z is still later"),
    ("RequestTimeTooSkewed", ""), ("RequestExpired", ""),
])
def test_clock_skew_rejections_are_recognised(code: str, message: str) -> None:
    assert classify(service_error(code, 403, message)) is Kind.CLOCK_SKEW


@pytest.mark.parametrize("code", ["ExpiredTokenException", "ExpiredToken"])
def test_expired_token_is_recognised(code: str) -> None:
    assert classify(service_error(code)) is Kind.EXPIRED_TOKEN


def test_transport_failures_are_retried_and_timeouts_cost_more() -> None:
    assert classify(errors.ConnectionClosedError("x")) is Kind.CONNECTION
    assert classify(errors.EndpointConnectionError("x")) is Kind.CONNECTION
    assert classify(errors.ConnectTimeoutError("x")) is Kind.TIMEOUT
    assert classify(TIMEOUT) is Kind.TIMEOUT
    assert classify(errors.CallTimeoutError("x")) is Kind.FATAL
    assert classify(errors.ResponseParseError("cut", operation_name="Op", status_code=200,
                                              request_id=None)) is Kind.FATAL


# --- backoff -----------------------------------------------------------------------

@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 20.0), (500, 20.0)])
def test_backoff_is_full_jitter_under_the_capped_exponential(attempt: int, ceiling: float) -> None:
    assert backoff_delay(attempt, 1.0, 20.0, lambda: 1.0) == ceiling
    assert backoff_delay(attempt, 1.0, 20.0, lambda: 0.0) == 0.0
    assert backoff_delay(attempt, 1.0, 20.0, lambda: 0.25) == ceiling * 0.25


def test_retry_delays_use_the_policy_random_source_and_base() -> None:
    policy = RetryPolicy(RetryConfig(max_attempts=5, backoff_base=0.1, backoff_cap=0.3),
                         random=lambda: 0.5)
    state = policy.begin()
    delays = [policy.on_error(state, THROTTLE, 0).delay for _ in range(4)]
    assert delays == pytest.approx([0.05, 0.1, 0.15, 0.15])


# --- attempts and quota ------------------------------------------------------------

def test_max_attempts_bounds_the_retries() -> None:
    policy = RetryPolicy(RetryConfig(max_attempts=3))
    state = policy.begin()
    actions = [policy.on_error(state, THROTTLE, 0) for _ in range(3)]
    assert [d.action for d in actions] == [Action.RETRY, Action.RETRY, Action.RAISE]
    assert actions[-1].max_attempts_reached
    assert state.attempt == 3


def test_max_attempts_1_never_retries() -> None:
    policy = RetryPolicy(RetryConfig(max_attempts=1))
    decision = policy.on_error(policy.begin(), THROTTLE, 0)
    assert decision.action is Action.RAISE
    assert policy.quota.available == 500


def test_retry_costs_5_and_10_after_a_timeout() -> None:
    policy = RetryPolicy(RetryConfig(max_attempts=10))
    state = policy.begin()
    policy.on_error(state, THROTTLE, 0)
    assert policy.quota.available == 495
    policy.on_error(state, TIMEOUT, 0)
    assert policy.quota.available == 485


def test_success_after_a_retry_refunds_that_retry_and_first_try_success_adds_one() -> None:
    policy = RetryPolicy(RetryConfig(max_attempts=10))
    state = policy.begin()
    policy.on_error(state, THROTTLE, 0)
    policy.on_error(state, TIMEOUT, 0)
    policy.on_success(state)  # refunds the last retry's cost, 10
    assert policy.quota.available == 495
    policy.on_success(policy.begin())
    assert policy.quota.available == 496
    for _ in range(10):
        policy.on_success(policy.begin())
    assert policy.quota.available == 500  # never above the maximum


def test_empty_quota_fails_calls_on_their_first_error() -> None:
    policy = RetryPolicy(RetryConfig(max_attempts=3))
    retries = 0
    while policy.on_error(policy.begin(), THROTTLE, 0).action is Action.RETRY:
        retries += 1
    assert retries == 100  # 500 tokens / 5
    decision = policy.on_error(policy.begin(), THROTTLE, 0)
    assert decision.action is Action.RAISE
    assert decision.quota_reached
    assert not decision.max_attempts_reached


def test_quota_is_consistent_under_threads() -> None:
    quota = RetryQuota(capacity=100_000)

    def work() -> None:
        for _ in range(1000):
            quota.acquire(timeout=False)
            quota.release(1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert quota.available == 100_000 - 8 * 1000 * 4


# --- free attempts -----------------------------------------------------------------

def test_clock_skew_resigns_once_with_the_server_offset_even_with_max_attempts_1() -> None:
    policy = RetryPolicy(RetryConfig(max_attempts=1))
    state = policy.begin()
    wall = 1_700_000_000.0
    skewed = service_error("InvalidSignatureException", 403, "Signature expired: ...",
                           {"Date": formatdate(wall + 3600, usegmt=True)})
    first = policy.on_error(state, skewed, wall)
    assert first.action is Action.RESIGN
    assert first.clock_offset == pytest.approx(3600, abs=1)
    assert state.attempt == 2
    assert policy.on_error(state, skewed, wall).action is Action.RAISE
    assert policy.quota.available == 500


def test_clock_skew_without_a_date_header_is_not_retried() -> None:
    policy = RetryPolicy(RetryConfig())
    decision = policy.on_error(policy.begin(), service_error("RequestTimeTooSkewed", 403), 0)
    assert decision.action is Action.RAISE


def test_expired_token_refreshes_once_for_free() -> None:
    policy = RetryPolicy(RetryConfig(max_attempts=1))
    state = policy.begin()
    expired = service_error("ExpiredTokenException")
    assert policy.on_error(state, expired, 0).action is Action.REFRESH
    assert policy.on_error(state, expired, 0).action is Action.RAISE
    assert policy.quota.available == 500


# --- adaptive limiter --------------------------------------------------------------

def test_limiter_is_off_until_the_first_throttle() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(clock)
    for _ in range(50):
        assert limiter.acquire() == 0.0
        limiter.record(throttled=False)
        clock.now += 0.01
    assert not limiter.enabled
    limiter.record(throttled=True)
    assert limiter.enabled


def test_throttle_cuts_the_rate_to_beta_times_measured_and_waiters_queue() -> None:
    clock = FakeClock(0.0)
    limiter = AdaptiveRateLimiter(clock)
    for _ in range(200):  # 20 requests per second for 10 seconds
        limiter.record(throttled=False)
        clock.now += 0.05
    assert limiter.measured_rate == pytest.approx(20, rel=0.1)
    limiter.record(throttled=True)  # the throttled request is counted in the measured rate too
    assert limiter.fill_rate == pytest.approx(limiter.measured_rate * 0.7, rel=0.01)
    waits = [limiter.acquire() for _ in range(5)]  # same instant: each waiter gets a later slot
    assert waits == sorted(waits)
    assert waits[-1] == pytest.approx(waits[0] + 4 / limiter.fill_rate)


def test_rate_grows_back_along_the_cubic_after_throttling() -> None:
    clock = FakeClock(0.0)
    limiter = AdaptiveRateLimiter(clock)
    for _ in range(100):
        limiter.record(throttled=False)
        clock.now += 0.05
    limiter.record(throttled=True)
    low = limiter.fill_rate
    rates = []
    for _ in range(40):  # successes at the allowed pace
        clock.now += limiter.acquire() + 0.01
        limiter.record(throttled=False)
        rates.append(limiter.fill_rate)
    assert rates[-1] > low
    assert rates == sorted(rates)


def test_adaptive_fan_out_settles_under_the_service_quota() -> None:
    """A simulated service allowing 10 requests per second; the client starts sending
    as fast as it can. With the limiter the throttling stops being the common case and
    the sending rate settles under the quota."""
    clock = FakeClock(0.0)
    limiter = AdaptiveRateLimiter(clock)
    window: list[float] = []
    outcomes: list[tuple[float, bool]] = []
    while clock.now < 120:
        clock.now += limiter.acquire() + 0.005  # 200 requests/s when unthrottled
        window = [t for t in window if t > clock.now - 1.0]
        throttled = len(window) >= 10
        if not throttled:
            window.append(clock.now)
        limiter.record(throttled=throttled)
        outcomes.append((clock.now, throttled))
    late = [throttled for t, throttled in outcomes if t > 60]
    sent_per_second = len(late) / 60
    assert sum(late) / len(late) < 0.2
    assert 5 <= sent_per_second <= 12
