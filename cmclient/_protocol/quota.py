"""The client-side quota limiter and the usage meter, sans I/O.

Comprehend Medical limits each account, per operation, in transactions per second and
(for the text operations) characters per second, and answers a request over either
with ``TooManyRequestsException``. A batch that sends as fast as it can runs into
that wall and then spends its time in retries; one that paces itself to the quota
runs at the quota. This module decides the pacing; the drivers do the waiting.

* ``Quota``: one operation's two limits (either may be None: no limit on that axis).
* ``DEFAULT_QUOTAS``: the documented defaults, by method name.
* ``QuotaState``: given the time and a request's character count, how long that
  request must wait. It *reserves* the request's slot as it answers, so callers can
  sleep without holding a lock and each concurrent caller gets its own later slot.
* ``Admission``: a client's limiter and usage meter together, what the drivers call
  once per call. Not thread-safe by itself: the drivers hold a lock around it (the
  work inside is arithmetic, so one ``threading.Lock`` serves threads and tasks alike,
  and a client shared by several event loops too).

The pacing is smooth, with no burst: on each axis a request may go ``cost / rate``
seconds after the previous one's slot (the generic cell rate algorithm with zero
tolerance; the cost is 1 on the TPS axis and the request's characters on the other).
The service's own burst allowance is not documented; sending at an even rate never
needs it, leaves whatever burst the service allows free to absorb jitter in when
requests arrive, and still averages the full quota. A late caller does not move the
schedule: the next slot follows the previous slot, not the time a request was sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from cmclient.errors import ParamValidationError

__all__ = ["DEFAULT_QUOTAS", "Admission", "Quota", "QuotaState", "Usage", "method_name",
           "resolve_quotas"]

# Plain classes, not dataclasses: this module is imported with the clients, and a
# dataclass execs generated methods on every cold start.


class Quota:
    """One operation's request quota: ``tps`` (requests per second) and
    ``chars_per_second`` (characters of text per second). None on either axis means
    no limit there. Pass them to a client as ``quotas={"detect_phi": Quota(...)}``.
    """

    __slots__ = ("chars_per_second", "tps")

    def __init__(self, tps: float | None = None, chars_per_second: float | None = None) -> None:
        problems = [
            (name, "must be a positive, finite number or None")
            for name, value in (("tps", tps), ("chars_per_second", chars_per_second))
            if value is not None and not _positive(value)
        ]
        if problems:
            raise ParamValidationError("Quota", problems)
        self.tps = tps
        self.chars_per_second = chars_per_second

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quota):
            return NotImplemented
        return (self.tps, self.chars_per_second) == (other.tps, other.chars_per_second)

    def __hash__(self) -> int:
        return hash((self.tps, self.chars_per_second))

    def __repr__(self) -> str:
        return f"Quota(tps={self.tps!r}, chars_per_second={self.chars_per_second!r})"


class Usage(NamedTuple):
    """What a client has sent for one operation: ``requests`` (a call and its retries
    count once), ``characters`` (code points of text) and billing ``units`` (one per
    100 characters of a request, rounded up, at least one)."""

    requests: int = 0
    characters: int = 0
    units: int = 0


def _positive(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


_TEXT = Quota(tps=40, chars_per_second=40_000)
_JOB_KINDS = ("entities_detection_v2", "icd10_cm_inference", "phi_detection",
              "rx_norm_inference", "snomedct_inference")

#: The service's documented default quotas, by method name. The synchronous text
#: operations: 40 TPS (the documentation has said 100 and, more recently, 40; the
#: lower, newer figure is the one an account can count on) and 40,000 characters per
#: second; InferSNOMEDCT 2 TPS and 5,000 characters per second; starting and stopping
#: jobs 5 TPS; describing and listing them 10 TPS. Accounts can have them raised:
#: pass ``quotas=`` to the client.
DEFAULT_QUOTAS: Mapping[str, Quota | None] = MappingProxyType({
    "detect_entities_v2": _TEXT,
    "detect_entities": _TEXT,
    "detect_phi": _TEXT,
    "infer_icd10_cm": _TEXT,
    "infer_rx_norm": _TEXT,
    "infer_snomedct": Quota(tps=2, chars_per_second=5_000),
    **{f"start_{kind}_job": Quota(tps=5) for kind in _JOB_KINDS},
    **{f"stop_{kind}_job": Quota(tps=5) for kind in _JOB_KINDS},
    **{f"describe_{kind}_job": Quota(tps=10) for kind in _JOB_KINDS},
    **{f"list_{kind}_jobs": Quota(tps=10) for kind in _JOB_KINDS},
})


_METHOD_NAMES: dict[str, str] = {}


def method_name(operation_name: str) -> str:
    """The client's method name of a wire operation name (``DetectPHI`` → ``detect_phi``)."""
    name = _METHOD_NAMES.get(operation_name)
    if name is None:
        from cmclient._protocol.names import xform_name

        name = _METHOD_NAMES[operation_name] = xform_name(operation_name)
    return name


def resolve_quotas(
    quotas: Mapping[str, Quota | None] | None, *, owner: str = "client"
) -> dict[str, Quota] | None:
    """The quotas a client enforces: ``DEFAULT_QUOTAS`` with ``quotas`` laid over them
    (an entry of None lifts that operation's limit), or None when ``quotas`` is None
    (no limiter at all). ``owner`` names the caller in the error for a bad entry."""
    if quotas is None:
        return None
    if not isinstance(quotas, Mapping):
        raise ParamValidationError(owner, [("quotas", "must be a mapping of method name to "
                                            "Quota (or None), or None")])
    problems = []
    for name, quota in quotas.items():
        if name not in DEFAULT_QUOTAS:
            problems.append((f"quotas[{name!r}]", "is not an operation's method name "
                                                  "(such as 'detect_entities_v2')"))
        elif quota is not None and not isinstance(quota, Quota):
            problems.append((f"quotas[{name!r}]", "must be a cmclient.Quota or None"))
    if problems:
        raise ParamValidationError(owner, problems)
    merged = {**DEFAULT_QUOTAS, **quotas}
    return {name: quota for name, quota in merged.items() if quota is not None}


class QuotaState:
    """The schedule of one operation under one ``Quota``: the earliest time the next
    request may go on each axis."""

    __slots__ = ("_next_chars", "_next_request", "quota")

    def __init__(self, quota: Quota) -> None:
        self.quota = quota
        self._next_request = -math.inf
        self._next_chars = -math.inf

    def reserve(self, now: float, characters: int = 0) -> float:
        """Book the next slot for a request of ``characters`` made at ``now``
        (monotonic seconds) and return how long the caller must wait for it (0: go)."""
        slot = max(now, self._next_request, self._next_chars)
        if self.quota.tps is not None:
            self._next_request = slot + 1.0 / self.quota.tps
        if self.quota.chars_per_second is not None:
            self._next_chars = slot + characters / self.quota.chars_per_second
        return slot - now


class Admission:
    """A client's usage meter and (unless quotas are off) its limiter: ``admit`` is
    called once per call, before its first attempt, so a call's retries count once."""

    __slots__ = ("_counts", "_quotas", "_states")

    def __init__(self, quotas: Mapping[str, Quota] | None) -> None:
        self._quotas = None if quotas is None else dict(quotas)
        self._states: dict[str, QuotaState] = {}
        self._counts: dict[str, Usage] = {}

    @property
    def quotas(self) -> dict[str, Quota] | None:
        return None if self._quotas is None else dict(self._quotas)

    def admit(self, operation_name: str, text: object, now: float) -> float:
        """Count one call of ``operation_name`` (the wire name) sending ``text`` (a str
        for the text operations, else anything) and return the seconds it must wait
        for its quota slot."""
        name = method_name(operation_name)
        characters = len(text) if isinstance(text, str) else 0
        units = max(1, -(-characters // 100)) if isinstance(text, str) else 0
        seen = self._counts.get(name)
        if seen is None:
            self._counts[name] = Usage(1, characters, units)
        else:
            self._counts[name] = Usage(seen.requests + 1, seen.characters + characters,
                                       seen.units + units)
        if self._quotas is None:
            return 0.0
        quota = self._quotas.get(name)
        if quota is None:
            return 0.0
        state = self._states.get(name)
        if state is None:
            state = self._states[name] = QuotaState(quota)
        return state.reserve(now, characters)

    def usage(self) -> dict[str, Usage]:
        """What has been sent so far, by method name (a copy)."""
        return {name: self._counts[name] for name in sorted(self._counts)}
