"""The drivers of ``wait_for_*`` and ``iter_*`` for the async client.

They call and sleep; ``_jobs`` decides. ``tools/unasync.py`` writes the sync twin,
``_waiters.py``, from this file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from time import monotonic
from typing import TYPE_CHECKING, Any

from cmclient._jobs import JobWait, PageCursor, is_transient
from cmclient.errors import ServiceError

if TYPE_CHECKING:
    from cmclient._async_api import AsyncOperations
    from cmclient._operation import Operation
    from cmclient.models import ComprehendMedicalAsyncJobFilter, ComprehendMedicalAsyncJobProperties


async def wait_for_job(
    client: AsyncOperations,
    operation: Operation[Any, Any],
    job_id: str,
    *,
    timeout: float,
    poll_interval: float,
    on_progress: Callable[[ComprehendMedicalAsyncJobProperties], Any] | None,
    allow_partial: bool,
) -> ComprehendMedicalAsyncJobProperties:
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
    client: AsyncOperations,
    operation: Operation[Any, Any],
    *,
    filter: ComprehendMedicalAsyncJobFilter | dict[str, Any] | None,
    page_size: int | None,
) -> AsyncIterator[ComprehendMedicalAsyncJobProperties]:
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
