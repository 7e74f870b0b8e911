# The source of cmclient/_waiters.py: tools/unasync.py writes that file from this one.
"""The drivers of the ``wait_for_*`` and ``iter_*`` methods: they call and sleep;
``_jobs`` decides.

They take the client as an ``Invoker``, anything that can invoke an operation, rather
than as the class that has these methods: that class imports this module (on first
use), so importing it back would make a cycle.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from time import monotonic
from typing import TYPE_CHECKING, Any, Protocol

from cmclient._protocol.jobs import JobWait, PageCursor, is_transient
from cmclient._protocol.operation import Operation, OutputT
from cmclient.errors import ServiceError

if TYPE_CHECKING:
    from cmclient.models import ComprehendMedicalAsyncJobFilter, ComprehendMedicalAsyncJobProperties


class Invoker(Protocol):
    """Something that can invoke an operation: validate ``params``, call, parse."""

    async def _invoke(
        self, operation: Operation[Any, OutputT], params: dict[str, Any]
    ) -> OutputT: ...


async def wait_for_job(
    client: Invoker,
    operation: Operation[Any, Any],
    job_id: str,
    *,
    timeout: float,
    poll_interval: float,
    on_progress: Callable[[ComprehendMedicalAsyncJobProperties], Any] | None,
    allow_partial: bool,
) -> ComprehendMedicalAsyncJobProperties:
    """Poll ``operation`` (a Describe*Job) until the job ends; ``JobWait`` decides how
    long to sleep between polls and what each status means."""
    wait = JobWait(job_id, operation.name, timeout, poll_interval, allow_partial, on_progress,
                   started=monotonic())
    while True:
        try:
            response = await client._invoke(operation, {"job_id": job_id})
        except ServiceError as error:
            if not is_transient(error):
                raise
            wait.throttled()
        else:
            done = wait.observe(response.comprehend_medical_async_job_properties)
            if done is not None:
                return done
        await asyncio.sleep(wait.next_delay(monotonic()))


async def iter_jobs(
    client: Invoker,
    operation: Operation[Any, Any],
    *,
    filter: ComprehendMedicalAsyncJobFilter | dict[str, Any] | None,
    page_size: int | None,
) -> AsyncIterator[ComprehendMedicalAsyncJobProperties]:
    """Every job ``operation`` (a List*Jobs) lists, page after page; ``PageCursor``
    follows NextToken and refuses one that repeats."""
    cursor = PageCursor(operation.name)
    token: str | None = None
    while True:
        page = await client._invoke(
            operation, {"filter": filter, "max_results": page_size, "next_token": token}
        )
        for props in page.comprehend_medical_async_job_properties_list or ():
            yield props
        token = cursor.next_token(page.next_token)
        if token is None:
            return
