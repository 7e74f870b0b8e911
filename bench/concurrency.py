"""Section 3: async throughput. Requests per second with 1, 64 and 256 concurrent tasks,
each contender with a pool of as many connections as tasks, taking turns round by round.

Contenders: cmclient's AsyncComprehendMedical as shipped (its own pool,
``cmclient._http.async_pool.AsyncPoolTransport``); the same signed request and ``json.loads``
over a plain ``httpx.AsyncClient`` (the baseline of the goal) and over the same client
with cmclient's pool (``httpx_aio``, what the pool alone is worth); and
``exp_cmclient_direct_h11``, a prototype in ``bench/experiments/h11_transport.py`` that
drives cmclient's core over h11 without httpx (no goal: it sizes what dropping httpx
from the async path would gain).

A sample ends after ``requests`` responses or ``seconds``, whichever comes first, so a
collapsing contender cannot stall the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench import contenders
from bench.common import ACCESS_KEY, JOB_ID, REGION, SECRET_KEY, rotations, summary
from bench.experiments.h11_transport import DirectAsyncClient

Call = Callable[[], Awaitable[Any]]


Closer = Callable[[], Awaitable[None]]


async def _build(url: str, pool: int) -> tuple[dict[str, Call], list[Closer]]:
    import cmclient

    closers: list[Closer] = []
    calls: dict[str, Call] = {}

    cm = contenders.async_cmclient(url, pool)
    closers.append(cm.aclose)
    calls["cmclient"] = lambda: cm.describe_entities_detection_v2_job(job_id=JOB_ID)

    plain = httpx.AsyncClient(limits=contenders.limits(pool))
    closers.append(plain.aclose)
    floor = contenders.async_floor(url, plain)
    calls["httpx"] = lambda: floor.describe_entities_detection_v2_job(JOB_ID)

    from cmclient._http.async_pool import AsyncPoolTransport

    aio_plain = httpx.AsyncClient(transport=AsyncPoolTransport(max_connections=pool))
    closers.append(aio_plain.aclose)
    aio_floor = contenders.async_floor(url, aio_plain)
    calls["httpx_aio"] = lambda: aio_floor.describe_entities_detection_v2_job(JOB_ID)

    direct = DirectAsyncClient(url, cmclient.Credentials(ACCESS_KEY, SECRET_KEY), REGION, pool)
    closers.append(direct.aclose)
    calls["exp_cmclient_direct_h11"] = lambda: direct.describe_entities_detection_v2_job(
        job_id=JOB_ID
    )
    return calls, closers


async def _sample(call: Call, tasks: int, requests: int, seconds: float) -> float:
    """Requests per second of ``tasks`` workers sharing a budget of ``requests``."""
    remaining = requests
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker() -> None:
        nonlocal remaining, done
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return done / (time.perf_counter() - started)


async def _level(
    url: str, tasks: int, rounds: int, requests: int, seconds: float
) -> dict[str, Any]:
    calls, closers = await _build(url, tasks)
    try:
        for call in calls.values():  # open every connection, build the validators
            await _sample(call, tasks, max(tasks, 50), seconds)
        samples: dict[str, list[float]] = {name: [] for name in calls}
        for order in rotations(list(calls), rounds):
            for name in order:
                samples[name].append(await _sample(calls[name], tasks, requests, seconds))
    finally:
        for close in closers:
            await close()
    return {name: summary(values) for name, values in samples.items()}


def run(
    url: str, levels: tuple[int, ...], rounds: int, requests: int, seconds: float
) -> dict[str, Any]:
    return {
        str(tasks): asyncio.run(_level(url, tasks, rounds, requests, seconds))
        for tasks in levels
    }
