"""Waiters and paginators, sans I/O: what to do after each poll or page.

The drivers (``_async_waiters.py`` and its generated sync twin ``_waiters.py``) make the
calls and sleep; everything they decide comes from here, so the sync and async
versions cannot disagree.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cmclient._protocol.retry import Kind, classify
from cmclient.errors import (
    JobFailedError,
    JobStoppedError,
    PaginationError,
    ResponseParseError,
    ServiceError,
    WaiterTimeoutError,
)
from cmclient.models._job_properties import ComprehendMedicalAsyncJobProperties, JobStatus

#: Batch jobs take minutes: polls start every ``poll_interval`` seconds (5 by default,
#: see ``_async_api``) and grow to half a minute, well inside the Describe quota.
MAX_POLL_INTERVAL = 30.0



@dataclass
class JobWait:
    """The state of one ``wait_for_*`` call between polls."""

    job_id: str
    operation_name: str
    timeout: float
    poll_interval: float
    allow_partial: bool
    on_progress: Callable[[ComprehendMedicalAsyncJobProperties], Any] | None
    started: float
    jitter: Callable[[], float] = random.random
    polls: int = 0
    last_status: str | None = None

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.poll_interval <= 0:
            raise ValueError("timeout and poll_interval must be positive")

    def observe(
        self, props: ComprehendMedicalAsyncJobProperties | None
    ) -> ComprehendMedicalAsyncJobProperties | None:
        """Take one Describe result. Returns the properties when the wait is over, None
        to keep polling; raises when the job ended badly."""
        if props is None:
            raise ResponseParseError(
                "the response has no ComprehendMedicalAsyncJobProperties",
                operation_name=self.operation_name, status_code=200, request_id=None,
            )
        self.polls += 1
        status = props.job_status
        if self.on_progress is not None and (self.polls == 1 or status != self.last_status):
            self.on_progress(props)
        self.last_status = None if status is None else str(getattr(status, "value", status))
        if status == JobStatus.COMPLETED:
            return props
        if status == JobStatus.PARTIAL_SUCCESS:
            if self.allow_partial:
                return props
            raise JobFailedError(self.job_id, self.last_status or "", props.message)
        if status == JobStatus.FAILED:
            raise JobFailedError(self.job_id, "FAILED", props.message)
        if status == JobStatus.STOPPED:
            raise JobStoppedError(self.job_id, "STOPPED", props.message)
        # Running, or a status this client does not know yet: keep waiting.
        return None

    def throttled(self) -> None:
        """A poll was throttled: it counts as a poll, and the wait goes on."""
        self.polls += 1

    def next_delay(self, now: float) -> float:
        """Seconds to sleep before the next poll: capped exponential backoff with
        jitter, never past the deadline. Raises WaiterTimeoutError when time is up."""
        remaining = self.started + self.timeout - now
        if remaining <= 0:
            raise WaiterTimeoutError(self.job_id, self.last_status, self.timeout)
        ceiling = min(self.poll_interval * 2.0 ** max(self.polls - 1, 0), MAX_POLL_INTERVAL)
        ceiling = max(ceiling, self.poll_interval)
        # Jitter in [poll_interval, ceiling]: never faster than asked, never in lockstep.
        delay = self.poll_interval + self.jitter() * (ceiling - self.poll_interval)
        return min(delay, remaining)


def is_transient(error: ServiceError) -> bool:
    """Errors a waiter polls through: throttling and transient faults, by the same rule
    the retry logic uses (so a 503 page or a ``Throttling`` code count too)."""
    return classify(error) in (Kind.THROTTLING, Kind.TRANSIENT)


@dataclass
class PageCursor:
    """Follows NextToken across pages and refuses to loop on a token it has seen."""

    operation_name: str
    seen: set[str] = field(default_factory=set)

    def next_token(self, token: str | None) -> str | None:
        """The token for the next page, or None when the listing is complete."""
        if not token:
            return None
        if token in self.seen:
            raise PaginationError(self.operation_name, len(self.seen) + 1)
        self.seen.add(token)
        return token
