"""Run a function over many items, a bounded number at a time, results in input order:
the one place where the async and the sync drivers must differ in more than keywords.

``aimap`` (asyncio tasks) and ``imap`` (a thread pool) have the same shape, so
``_async_documents.py`` calls ``aimap`` and its generated twin calls ``imap``. Both
read ``items`` lazily, keep at most ``window`` items between reading and yielding
(a generator of a million notes is never held in memory), run at most ``limit`` at
once, and on the way out, normal or not, cancel what has not started and wait for what
has, so nothing outlives the loop that asked for it. An item whose call raised raises
when its turn to be yielded comes.

asyncio and concurrent.futures are imported inside the functions that use them: the
sync driver never loads asyncio.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Future

__all__ = ["aimap", "imap"]

T = TypeVar("T")
R = TypeVar("R")


def _window(limit: int, window: int | None) -> int:
    return max(limit, window if window is not None else 2 * limit)


async def aimap(
    fn: Callable[[T], Awaitable[R]], items: Iterable[T], limit: int, window: int | None = None
) -> AsyncGenerator[R, None]:
    """``fn`` over ``items`` as asyncio tasks, at most ``limit`` running."""
    if limit <= 1:
        for item in items:
            yield await fn(item)
        return
    import asyncio

    semaphore = asyncio.Semaphore(limit)

    async def run(item: T) -> R:
        async with semaphore:
            return await fn(item)

    ahead = _window(limit, window)
    pending: deque[asyncio.Task[R]] = deque()
    source = iter(items)
    try:
        exhausted = False
        while True:
            while not exhausted and len(pending) < ahead:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                pending.append(asyncio.ensure_future(run(item)))
            if not pending:
                return
            yield await pending.popleft()
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def imap(
    fn: Callable[[T], R], items: Iterable[T], limit: int, window: int | None = None
) -> Generator[R, None, None]:
    """``fn`` over ``items`` in a pool of at most ``limit`` threads."""
    if limit <= 1:
        for item in items:
            yield fn(item)
        return
    from concurrent.futures import ThreadPoolExecutor

    ahead = _window(limit, window)
    pending: deque[Future[R]] = deque()
    source = iter(items)
    pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="cmclient")
    try:
        exhausted = False
        while True:
            while not exhausted and len(pending) < ahead:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                pending.append(pool.submit(fn, item))
            if not pending:
                return
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
