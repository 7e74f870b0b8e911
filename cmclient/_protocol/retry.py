"""Retries, sans I/O: which failures are worth another attempt, how long to wait, the
per-client retry quota, the adaptive client-side rate limiter, and clock skew.

Nothing here sends, sleeps or reads the environment by itself: the drivers hand in the
time and the environment, and do the waiting this module asks for. The clock and the
random source are injectable, so tests drive the quota and the limiter without sleeping.

The rules follow the AWS SDKs' ``standard`` and ``adaptive`` retry modes:

* **Retried:** throttling codes (``THROTTLING_CODES``, HTTP 429), transient codes
  (``TRANSIENT_CODES``) and HTTP 500/502/503/504, connection failures and
  connect/read timeouts. Never a validation or authorization error, never a
  success whose body could not be parsed, never a whole-call timeout.
* **Backoff:** full jitter, ``random() * min(base * 2 ** (attempt - 1), cap)``.
* **Quota:** ``QUOTA_CAPACITY`` tokens per client; a retry costs ``RETRY_COST``
  (``TIMEOUT_RETRY_COST`` after a timeout); a success refunds the cost of its last
  retry, or adds ``NO_RETRY_INCREMENT`` when it needed none. When a retry cannot be
  paid for, the call fails with the error it has.
* **Free attempts:** a clock-skew rejection (re-signed with the server's time) and an
  expired session token (credentials reloaded) are each retried once per call, even
  with ``max_attempts=1``, and cost no quota.
* **Adaptive:** before every attempt a token bucket may ask the caller to wait; its
  rate follows CUBIC, cut on each throttling response and grown on successes. It is
  enabled by the first throttling response.
"""

from __future__ import annotations

import enum
import logging
import math
import random as _random
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import NamedTuple

from cmclient import errors

__all__ = [
    "ADAPTIVE",
    "STANDARD",
    "Action",
    "AdaptiveRateLimiter",
    "CallState",
    "Decision",
    "Kind",
    "RetryConfig",
    "RetryPolicy",
    "RetryQuota",
    "backoff_delay",
    "classify",
    "resolve_retry_config",
]

STANDARD = "standard"
ADAPTIVE = "adaptive"
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF_BASE = 1.0
DEFAULT_BACKOFF_CAP = 20.0

QUOTA_CAPACITY = 500
RETRY_COST = 5
TIMEOUT_RETRY_COST = 10
NO_RETRY_INCREMENT = 1

THROTTLING_CODES = frozenset({
    "TooManyRequestsException", "ThrottlingException", "Throttling", "ThrottledException",
    "RequestThrottledException", "RequestLimitExceeded", "SlowDown",
    "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "BandwidthLimitExceeded", "EC2ThrottledException", "PriorRequestNotComplete",
    "RequestThrottled",
})
TRANSIENT_CODES = frozenset({
    "RequestTimeout", "RequestTimeoutException", "InternalServerException",
    "ServiceUnavailableException",
})
THROTTLING_STATUS = frozenset({429})
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
CLOCK_SKEW_CODES = frozenset({"RequestTimeTooSkewed", "RequestExpired"})
#: Signature errors that mean clock skew only when their message says so.
SIGNATURE_CODES = frozenset({"InvalidSignatureException", "SignatureDoesNotMatch"})
_SKEW_PHRASES = ("signature expired", "signature not yet current")
EXPIRED_TOKEN_CODES = frozenset({"ExpiredTokenException", "ExpiredToken"})


# --- configuration ---------------------------------------------------------------

# The records below are NamedTuples and plain classes with __slots__, not dataclasses:
# a dataclass generates and execs its methods when its class is made, on every cold
# start (the cost is in bench/README.md).

class RetryConfig(NamedTuple):
    """The retry settings of one client, resolved into plain values."""

    mode: str = STANDARD
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_base: float = DEFAULT_BACKOFF_BASE
    backoff_cap: float = DEFAULT_BACKOFF_CAP


def resolve_retry_config(
    *,
    retry_mode: str | None = None,
    max_attempts: int | None = None,
    backoff_base: float | None = None,
    backoff_cap: float | None = None,
    environ: Mapping[str, str] | None = None,
    profile: Mapping[str, str] | None = None,
) -> RetryConfig:
    """Client arguments first, then ``AWS_RETRY_MODE`` / ``AWS_MAX_ATTEMPTS`` in
    ``environ``, then the profile's ``retry_mode`` / ``max_attempts``, then the defaults.

    ``legacy`` (botocore's old mode, often set for boto3) is read as ``standard``.
    Raises ``ConfigurationError`` for an unknown mode or a max_attempts below 1.
    """
    environ = environ or {}
    profile = profile or {}
    mode_source, mode = _first(
        ("retry_mode argument", retry_mode),
        ("AWS_RETRY_MODE", environ.get("AWS_RETRY_MODE")),
        ("profile retry_mode", profile.get("retry_mode")),
    )
    mode = (mode or STANDARD).strip().lower()
    if mode == "legacy":
        mode = STANDARD
    if mode not in (STANDARD, ADAPTIVE):
        raise errors.ConfigurationError(
            f"{mode_source} must be 'standard' or 'adaptive', not {mode!r}"
        )
    attempts_source, raw_attempts = _first(
        ("max_attempts argument", max_attempts),
        ("AWS_MAX_ATTEMPTS", environ.get("AWS_MAX_ATTEMPTS")),
        ("profile max_attempts", profile.get("max_attempts")),
    )
    attempts = DEFAULT_MAX_ATTEMPTS
    if raw_attempts is not None:
        try:
            attempts = int(raw_attempts)
        except ValueError:
            attempts = 0
        if attempts < 1 or isinstance(raw_attempts, bool):
            raise errors.ConfigurationError(
                f"{attempts_source} must be a whole number of at least 1, not {raw_attempts!r}"
            )
    base = DEFAULT_BACKOFF_BASE if backoff_base is None else float(backoff_base)
    cap = DEFAULT_BACKOFF_CAP if backoff_cap is None else float(backoff_cap)
    if base < 0 or cap < 0:
        raise errors.ConfigurationError("retry_backoff_base and retry_backoff_cap must be >= 0")
    return RetryConfig(mode=mode, max_attempts=attempts, backoff_base=base, backoff_cap=cap)


def _first(*candidates: tuple[str, object]) -> tuple[str, str | None]:
    for source, value in candidates:
        if value is not None and value != "":
            return source, value if isinstance(value, str) else str(value)
    return "", None


# --- what a failure is -----------------------------------------------------------

class Kind(enum.Enum):
    """What a failed attempt means for retrying."""

    THROTTLING = "throttling"
    TRANSIENT = "transient"
    TIMEOUT = "timeout"          # connect or read timeout of one attempt
    CONNECTION = "connection"    # no complete response: refused, reset, cut short
    CLOCK_SKEW = "clock_skew"
    EXPIRED_TOKEN = "expired_token"
    FATAL = "fatal"


def classify(error: BaseException) -> Kind:
    """The retry kind of an exception raised by one attempt."""
    if isinstance(error, errors.ServiceError):
        code = error.code
        if code in EXPIRED_TOKEN_CODES:
            return Kind.EXPIRED_TOKEN
        if code in CLOCK_SKEW_CODES or (
            code in SIGNATURE_CODES
            and any(phrase in error.message.lower() for phrase in _SKEW_PHRASES)
        ):
            return Kind.CLOCK_SKEW
        if code in THROTTLING_CODES or error.throttling or error.status_code in THROTTLING_STATUS:
            return Kind.THROTTLING
        if code in TRANSIENT_CODES or error.retryable or error.status_code in TRANSIENT_STATUS:
            return Kind.TRANSIENT
        return Kind.FATAL
    if isinstance(error, errors.HTTPClientError) and error.retryable:
        if isinstance(error, errors.ClientTimeoutError):
            return Kind.TIMEOUT
        return Kind.CONNECTION
    return Kind.FATAL


_RETRYABLE = frozenset({Kind.THROTTLING, Kind.TRANSIENT, Kind.TIMEOUT, Kind.CONNECTION})


def backoff_delay(attempt: int, base: float, cap: float, random: Callable[[], float]) -> float:
    """Full jitter: how long to wait after failed attempt number ``attempt`` (from 1)."""
    # min() before the power would overflow for huge attempt numbers: clamp the exponent.
    ceiling = cap if attempt > 64 else min(base * 2 ** (attempt - 1), cap)
    return random() * ceiling


def server_clock_offset(headers: Mapping[str, str], wall_now: float) -> float | None:
    """Seconds to add to the local clock to match the server's ``Date`` header, or
    ``None`` when the response has no usable Date."""
    raw = headers.get("date")
    if not raw:
        return None
    try:
        server = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if server.tzinfo is None:
        return None
    return server.timestamp() - wall_now


# --- the retry quota ---------------------------------------------------------------

class RetryQuota:
    """The standard mode's per-client token bucket for retries (thread-safe)."""

    def __init__(self, capacity: int = QUOTA_CAPACITY) -> None:
        self.max_capacity = capacity
        self.available = capacity
        self._lock = threading.Lock()

    def acquire(self, timeout: bool) -> int | None:
        """Pay for one retry; the cost paid, or ``None`` when the quota cannot cover it."""
        cost = TIMEOUT_RETRY_COST if timeout else RETRY_COST
        with self._lock:
            if cost > self.available:
                return None
            self.available -= cost
            return cost

    def release(self, amount: int) -> None:
        with self._lock:
            self.available = min(self.max_capacity, self.available + amount)


# --- the adaptive rate limiter -----------------------------------------------------

class AdaptiveRateLimiter:
    """A client-side send-rate limit that settles under the service's quota.

    A token bucket, off until the first throttling response, whose fill rate follows
    CUBIC (RFC 8312): cut to ``BETA`` times the measured send rate on each throttling
    response, then grown back along a cubic curve on successes, and never more than
    twice the measured rate. ``acquire`` never blocks: it reserves a token and
    returns how long the caller must wait before sending, so the sync driver can
    ``time.sleep`` and the async one ``await`` a sleep without holding the loop.
    Reservations queue fairly: each waiter gets a later slot. Thread-safe.
    """

    MIN_RATE = 0.5            # requests per second, the floor of the fill rate
    BETA = 0.7                # multiplicative decrease on throttling
    SCALE = 0.4               # CUBIC's C
    SMOOTHING = 0.8           # weight of the newest measured-rate sample
    BUCKET_SECONDS = 0.5      # the measured rate is sampled per half second
    MAX_RATE_SCALE = 2.0      # the fill rate never exceeds twice the measured rate

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.enabled = False
        now = clock()
        # token bucket
        self.fill_rate = 0.0
        self._max_capacity = 1.0
        self._capacity = 0.0
        self._last_refill: float | None = None
        # CUBIC
        self._w_max = 0.0
        self._k = 0.0
        self._last_throttle = now
        # measured send rate
        self.measured_rate = 0.0
        self._count = 0
        self._last_bucket = math.floor(now / self.BUCKET_SECONDS) * self.BUCKET_SECONDS

    def acquire(self) -> float:
        """Reserve a send slot; seconds to wait before sending (0.0 when disabled)."""
        if not self.enabled:
            return 0.0
        with self._lock:
            self._refill(self._clock())
            self._capacity -= 1.0
            if self._capacity >= 0.0:
                return 0.0
            return -self._capacity / self.fill_rate

    def record(self, throttled: bool) -> None:
        """Feed back the outcome of one attempt (a response or a transport failure)."""
        with self._lock:
            now = self._clock()
            measured = self._measure(now)
            if throttled:
                rate = measured if not self.enabled else min(measured, self.fill_rate)
                self._w_max = rate
                self._k = (rate * (1 - self.BETA) / self.SCALE) ** (1 / 3)
                self._last_throttle = now
                new_rate = rate * self.BETA
                self.enabled = True
            else:
                new_rate = self.SCALE * (now - self._last_throttle - self._k) ** 3 + self._w_max
            if self.enabled:
                self._set_rate(min(new_rate, self.MAX_RATE_SCALE * measured), now)

    def _measure(self, now: float) -> float:
        self._count += 1
        bucket = math.floor(now / self.BUCKET_SECONDS) * self.BUCKET_SECONDS
        if bucket > self._last_bucket:
            sample = self._count / (bucket - self._last_bucket)
            self.measured_rate = sample * self.SMOOTHING + self.measured_rate * (1 - self.SMOOTHING)
            self._count = 0
            self._last_bucket = bucket
        return self.measured_rate

    def _refill(self, now: float) -> None:
        if self._last_refill is not None:
            gained = (now - self._last_refill) * self.fill_rate
            self._capacity = min(self._max_capacity, self._capacity + gained)
        self._last_refill = now

    def _set_rate(self, rate: float, now: float) -> None:
        self._refill(now)  # tokens earned so far accrue at the old rate
        self.fill_rate = max(rate, self.MIN_RATE)
        self._max_capacity = max(rate, 1.0)
        self._capacity = min(self._capacity, self._max_capacity)


# --- decisions --------------------------------------------------------------------

class Action(enum.Enum):
    RETRY = "retry"
    RESIGN = "resign"          # clock skew: store ``Decision.clock_offset``, sign again
    REFRESH = "refresh"        # expired token: invalidate and reload the credentials
    RAISE = "raise"


class Decision(NamedTuple):
    """What the driver does after a failed attempt."""

    action: Action
    delay: float = 0.0
    clock_offset: float = 0.0
    max_attempts_reached: bool = False
    quota_reached: bool = False


class CallState:
    """The retry state of one call: the attempt being made and what it has used."""

    __slots__ = ("attempt", "quota_cost", "refreshed", "resigned")

    def __init__(self) -> None:
        self.attempt = 1
        self.quota_cost = 0      # the quota paid for the latest retry, refunded on success
        self.resigned = False
        self.refreshed = False


class RetryPolicy:
    """The retry behaviour of one client: configuration, quota and (adaptive) limiter.

    Per call, the driver asks ``begin`` for a ``CallState``, ``before_attempt`` for a
    delay before each send, and after a failed attempt ``on_error`` for a ``Decision``;
    after a successful one it calls ``on_success``.
    """

    def __init__(
        self,
        config: RetryConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.config = config
        self.max_attempts = config.max_attempts
        self.random = random
        self.quota = RetryQuota()
        self.limiter = AdaptiveRateLimiter(clock) if config.mode == ADAPTIVE else None

    def begin(self) -> CallState:
        return CallState()

    def before_attempt(self) -> float:
        limiter = self.limiter
        return limiter.acquire() if limiter is not None else 0.0

    def on_success(self, state: CallState) -> None:
        if self.limiter is not None:
            self.limiter.record(throttled=False)
        self.quota.release(state.quota_cost or NO_RETRY_INCREMENT)

    def on_error(self, state: CallState, error: BaseException, wall_now: float) -> Decision:
        """What to do after ``error`` ended attempt ``state.attempt``; advances the state
        to the next attempt unless the decision is RAISE. ``wall_now`` is the epoch
        time, for a clock-skew offset."""
        kind = classify(error)
        if self.limiter is not None:
            self.limiter.record(throttled=kind is Kind.THROTTLING)
        decision = self._decide(state, kind, error, wall_now)
        if decision.action is not Action.RAISE:
            state.attempt += 1
        return decision

    def after_error(
        self, state: CallState, error: errors.ComprehendMedicalError, wall_now: float,
        operation_name: str, logger: logging.Logger,
    ) -> Decision:
        """``on_error`` as every driver uses it: when the decision is to stop, ``error``
        is marked with the attempts made and why retrying stopped, and raised; otherwise
        the decision is logged to the driver's ``logger`` (operation, attempt, the
        error's code, what comes next; never a message, which may quote the request)
        and returned for the driver to carry out (refresh the credentials, re-sign,
        wait)."""
        attempt = state.attempt
        decision = self.on_error(state, error, wall_now)
        if decision.action is Action.RAISE:
            errors.note_attempts(
                error, attempt, max_attempts_reached=decision.max_attempts_reached,
                quota_reached=decision.quota_reached,
            )
            raise error
        logger.debug(
            "%s attempt=%d failed (%s): %s, next attempt in %.3f s",
            operation_name, attempt, getattr(error, "code", type(error).__name__),
            decision.action.name.lower(), decision.delay,
        )
        return decision

    def _decide(
        self, state: CallState, kind: Kind, error: BaseException, wall_now: float
    ) -> Decision:
        if kind is Kind.CLOCK_SKEW:
            # Once per call, and only when the response says what time the server has.
            headers = error.response["ResponseMetadata"]["HTTPHeaders"] if isinstance(
                error, errors.ServiceError) else {}
            offset = None if state.resigned else server_clock_offset(headers, wall_now)
            if offset is None:
                return Decision(Action.RAISE)
            state.resigned = True
            return Decision(Action.RESIGN, clock_offset=offset)
        if kind is Kind.EXPIRED_TOKEN and not state.refreshed:
            state.refreshed = True
            return Decision(Action.REFRESH)
        if kind not in _RETRYABLE:
            return Decision(Action.RAISE)
        if state.attempt >= self.max_attempts:
            return Decision(Action.RAISE, max_attempts_reached=True)
        cost = self.quota.acquire(timeout=kind is Kind.TIMEOUT)
        if cost is None:
            return Decision(Action.RAISE, quota_reached=True)
        state.quota_cost = cost
        config = self.config
        delay = backoff_delay(state.attempt, config.backoff_base, config.backoff_cap, self.random)
        return Decision(Action.RETRY, delay=delay)
