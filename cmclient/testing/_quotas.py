"""The service's limits: text size per request, and request rates per operation.

Pure state and arithmetic: the caller passes the time in, so the same code is exact
under a test's fake clock and under ``time.monotonic``.

Text size follows the API reference: DetectEntities, DetectEntitiesV2 and DetectPHI
take up to 20,000 bytes of UTF-8, the three Infer operations up to 10,000 characters.
(The quotas pages say "20 KB (UTF-8 characters)", and one localised page gives 5 KB for
InferSNOMEDCT; the API reference is the more precise source, and a client that splits
text should use the smallest figure anyway.)

Rates are token buckets, one per operation and axis (transactions, characters), with
one second of burst, as AWS describes its quotas ("per second"). A request must fit
both of its operation's buckets or it is refused without taking from either. A request
larger than a whole second of characters passes when its bucket is full and leaves it
in debt, so a large document is slowed to the rate, never refused for ever.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cmclient.testing._jobs import BY_OPERATION

__all__ = [
    "SERVICE_CHARACTER_QUOTAS",
    "SERVICE_QUOTAS",
    "TEXT_LIMITS",
    "TEXT_OPERATIONS",
    "RateLimit",
    "RateLimiter",
    "TextLimit",
    "text_size_problem",
]

TEXT_OPERATIONS = ("DetectEntities", "DetectEntitiesV2", "DetectPHI", "InferICD10CM",
                   "InferRxNorm", "InferSNOMEDCT")

#: Comprehend Medical's default request quotas (transactions per second, per account
#: and region), from the service's "Guidelines and quotas" page. Pass
#: ``rate_limits=SERVICE_QUOTAS`` (or ``"aws"``) to throttle as the service does.
SERVICE_QUOTAS: dict[str, float] = {
    **{name: 100.0 for name in TEXT_OPERATIONS},
    "InferSNOMEDCT": 2.0,
    **{kind.start: 5.0 for _, kind in BY_OPERATION.values()},
    **{kind.stop: 5.0 for _, kind in BY_OPERATION.values()},
    **{kind.describe: 10.0 for _, kind in BY_OPERATION.values()},
    **{kind.list: 10.0 for _, kind in BY_OPERATION.values()},
}

#: The default characters-per-second quotas of the synchronous text operations, which
#: ``rate_limits="aws"`` applies alongside ``SERVICE_QUOTAS``.
SERVICE_CHARACTER_QUOTAS: dict[str, float] = {
    **{name: 40_000.0 for name in TEXT_OPERATIONS},
    "InferSNOMEDCT": 5_000.0,
}


@dataclass(frozen=True)
class TextLimit:
    """The most text one request may carry, counted as the service counts it."""

    amount: int
    unit: Literal["bytes", "characters"]

    def measure(self, text: str) -> int:
        return len(text.encode("utf-8", "surrogatepass")) if self.unit == "bytes" else len(text)


TEXT_LIMITS: dict[str, TextLimit] = {
    "DetectEntities": TextLimit(20_000, "bytes"),
    "DetectEntitiesV2": TextLimit(20_000, "bytes"),
    "DetectPHI": TextLimit(20_000, "bytes"),
    "InferICD10CM": TextLimit(10_000, "characters"),
    "InferRxNorm": TextLimit(10_000, "characters"),
    "InferSNOMEDCT": TextLimit(10_000, "characters"),
}


def text_size_problem(text: str, limit: TextLimit) -> str | None:
    """The service's message when ``text`` is over ``limit``, else None."""
    if limit.measure(text) <= limit.amount:
        return None
    unit = "bytes of UTF-8" if limit.unit == "bytes" else "characters"
    return (f"The size of the text you submitted exceeds the size limit of {limit.amount} "
            f"{unit}. Reduce the size of the text or use a smaller document and then retry "
            f"your request.")


@dataclass(frozen=True)
class RateLimit:
    """One operation's quota. None on an axis means no limit on it."""

    tps: float | None = None
    chars_per_second: float | None = None

    def __post_init__(self) -> None:
        for name in ("tps", "chars_per_second"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be a positive number or None, not {value!r}")

    @property
    def unlimited(self) -> bool:
        return self.tps is None and self.chars_per_second is None


class _Bucket:
    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate, self.capacity, self.tokens, self.stamp = rate, capacity, capacity, now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)

    def fits(self, amount: float) -> bool:
        # A hair of tolerance: elapsed times are differences of large floats, and a
        # request due exactly now must not be refused for a rounding error.
        return self.tokens + 1e-9 >= min(amount, self.capacity)


class RateLimiter:
    """Token buckets per operation. Not locked: the mock's core calls it under its lock."""

    def __init__(self, limits: Mapping[str, RateLimit] | None = None) -> None:
        self._limits: dict[str, RateLimit] = {}
        self._buckets: dict[str, tuple[_Bucket | None, _Bucket | None]] = {}
        for operation, limit in (limits or {}).items():
            self.set(operation, limit)

    @property
    def limits(self) -> dict[str, RateLimit]:
        return dict(self._limits)

    def set(self, operation: str, limit: RateLimit | None) -> None:
        """Replace an operation's quota (None or an unlimited one removes it); its
        buckets start full."""
        self._buckets.pop(operation, None)
        if limit is None or limit.unlimited:
            self._limits.pop(operation, None)
        else:
            self._limits[operation] = limit

    def reset(self) -> None:
        """Refill every bucket; the limits stay."""
        self._buckets.clear()

    def admit(self, operation: str, characters: int, now: float) -> bool:
        """Take one request of ``characters`` from ``operation``'s buckets at time
        ``now`` (seconds on a monotonic clock); False, taking nothing, when it does
        not fit."""
        limit = self._limits.get(operation)
        if limit is None:
            return True
        buckets = self._buckets.get(operation)
        if buckets is None:
            buckets = self._buckets[operation] = (
                _Bucket(limit.tps, max(1.0, limit.tps), now) if limit.tps else None,
                _Bucket(limit.chars_per_second, limit.chars_per_second, now)
                if limit.chars_per_second else None,
            )
        requests, chars = buckets
        wanted = ((requests, 1.0), (chars, float(characters)))
        for bucket, amount in wanted:
            if bucket is not None:
                bucket.refill(now)
                if not bucket.fits(amount):
                    return False
        for bucket, amount in wanted:
            if bucket is not None:
                bucket.tokens -= amount
        return True
