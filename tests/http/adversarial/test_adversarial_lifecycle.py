"""A client's life across processes, event loops and cancellations: fork() (defect 4),
an async client used from one ``asyncio.run`` after another (defect 10), and a call
cancelled at every await point (a case that already held).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import select
import signal
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from cmclient import AsyncComprehendMedical
from tests.helpers.rawserver import RawServer, Request, ServerConnection, ok
from tests.http.adversarial._harness import (
    Tls,
    async_client,
    call_async,
    call_sync,
    client_sockets,
    marker,
    needs_fork,
    needs_proc_fd,
    open_fds,
    sync_client,
    tls_for,
)

# -- fork() ------------------------------------------------------------------------


def _in_child(work: Callable[[], list[str]]) -> tuple[int, int]:
    """Fork; the child runs ``work`` and writes its result (JSON) to a pipe, then
    ``os._exit``s. Returns the child's pid and the pipe's reading end."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads running
        pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            os.close(read_end)
            payload = json.dumps(work()).encode()
            os.write(write_end, payload)
            code = 0
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                os.write(write_end, json.dumps([f"child failed: {exc!r}"]).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _child_result(pid: int, read_end: int, timeout: float = 30.0) -> list[str]:
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([read_end], [], [], timeout)
            if not ready:
                os.kill(pid, signal.SIGKILL)
                chunks.append(b'["child: no result in time"]')
                break
            data = os.read(read_end, 65536)
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    result: list[str] = json.loads(b"".join(chunks) or b'["child: nothing written"]')
    return result


def _shared_connections(requests: list[Request]) -> list[int]:
    """Connections that carried both a parent's and a child's request."""
    owners: dict[int, set[str]] = {}
    for request in requests:
        owners.setdefault(request.connection, set()).add(request.text.split("-")[0])
    return [conn for conn, who in owners.items() if {"parent", "child"} <= who]


@needs_fork
def test_after_fork_the_sync_client_never_shares_a_connection() -> None:
    with RawServer() as server, sync_client(server.url) as client:
        assert call_sync(client, marker("warm")).kind == "right"  # a kept-alive connection
        child_texts = [marker("child") for _ in range(5)]
        parent_texts = [marker("parent") for _ in range(5)]

        def child() -> list[str]:
            return [str(call_sync(client, text)) for text in child_texts]

        pid, read_end = _in_child(child)
        parent = [str(call_sync(client, text)) for text in parent_texts]
        children = _child_result(pid, read_end)
        after = call_sync(client, marker("parent"))  # the parent's pool still works
        shared = _shared_connections(server.requests)
    assert children == ["right"] * 5, children
    assert parent == ["right"] * 5, parent
    assert after.kind == "right", after
    assert not shared, f"connections {shared} carried requests of both processes"


@needs_fork
def test_after_fork_the_async_client_in_a_new_loop_gets_its_own_answers() -> None:
    with RawServer() as server:
        client = async_client(server.url)
        try:
            assert asyncio.run(call_async(client, marker("warm"))).kind == "right"
            child_texts = [marker("child") for _ in range(3)]
            parent_texts = [marker("parent") for _ in range(3)]

            async def calls(texts: list[str]) -> list[str]:
                return [str(outcome) for outcome in
                        await asyncio.gather(*(call_async(client, t) for t in texts))]

            pid, read_end = _in_child(lambda: asyncio.run(calls(child_texts)))
            parent = asyncio.run(calls(parent_texts))
            children = _child_result(pid, read_end)
        finally:
            asyncio.run(client.aclose())
        shared = _shared_connections(server.requests)
    assert children == ["right"] * 3, children
    assert parent == ["right"] * 3, parent
    assert not shared, f"connections {shared} carried requests of both processes"


# -- one event loop after another ----------------------------------------------------------


@needs_proc_fd
@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_an_async_client_across_20_event_loops_leaks_nothing(
    transport: str, tls_material: Tls
) -> None:
    tls = tls_for(transport, tls_material)
    context = tls.server_context() if tls is not None else None
    gc.collect()
    before = open_fds()
    with RawServer(tls=context) as server:
        client = async_client(server.url, tls)

        async def three_calls() -> list[str]:
            texts = [marker("loop") for _ in range(3)]
            return [o.kind for o in await asyncio.gather(*(call_async(client, t) for t in texts))]

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            held = []
            for _ in range(20):
                assert asyncio.run(three_calls()) == ["right"] * 3
                held.append(client_sockets(server.port))
            closing: BaseException | None = None
            try:
                asyncio.run(client.aclose())  # from yet another loop
            except BaseException as exc:
                closing = exc
            left = client_sockets(server.port)
    after = open_fds()  # the server stopped: only the client's descriptors can remain
    with warnings.catch_warnings(record=True) as collected:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    caught += collected
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert closing is None, f"aclose() from a new loop raised {closing!r}"
    assert max(held) <= 3, f"sockets held after each loop: {held}"
    assert left == 0, f"{left} sockets still open after aclose()"
    assert after <= before, f"{after - before} more descriptors open than before the client"
    assert not unclosed, unclosed[:3]


# -- cancellation -----------------------------------------------------------------------------


def in_pieces(request: Request, conn: ServerConnection) -> bool:
    """The answer in three writes (head, half the body, the rest): more await points."""
    data = ok(request.text)
    head_end = data.index(b"\r\n\r\n") + 4
    middle = head_end + (len(data) - head_end) // 2
    return all(conn.send(part) for part in (data[:head_end], data[head_end:middle],
                                            data[middle:]))


async def _sweep(client: AsyncComprehendMedical, port: int, concurrent: int) -> dict[str, Any]:
    """Start ``concurrent`` calls, let the loop run ``k`` times, cancel what has not
    finished; for k = 0, 1, 2 ... until every call finished before the cancel three
    times running. After each round one more call must get its own answer at once
    (with max_connections=1, a slot leaked by a cancelled call would leave it waiting
    for the pool), and no more than one socket may be open."""
    k, finished_in_a_row, cancelled, rounds = 0, 0, 0, 0
    problems: list[str] = []
    while finished_in_a_row < 3 and k < 3000:
        texts = [marker("cancel") for _ in range(concurrent)]
        tasks = [asyncio.ensure_future(client.detect_entities_v2(text=t)) for t in texts]
        for _ in range(k):
            await asyncio.sleep(0)
        all_done = True
        for text, task in zip(texts, tasks, strict=True):
            if task.cancel():
                all_done = False
                try:
                    await task
                except asyncio.CancelledError:
                    cancelled += 1
                    continue
                except Exception as exc:
                    problems.append(f"k={k}: cancelled call raised {exc!r}")
                    continue
            try:
                result = await task
            except asyncio.CancelledError:
                continue
            except Exception as exc:
                problems.append(f"k={k}: call failed: {exc!r}")
                continue
            if result.model_version != text:
                problems.append(f"k={k}: wrong answer {result.model_version!r}")
        finished_in_a_row = finished_in_a_row + 1 if all_done else 0
        after = await call_async(client, marker("after"))
        if after.kind != "right":
            problems.append(f"k={k}: the next call: {after}")
        sockets = client_sockets(port)
        if sockets > 1:
            problems.append(f"k={k}: {sockets} sockets open with max_connections=1")
        rounds += 1
        k += 1 if k < 50 else 7
    return {"problems": problems, "cancelled": cancelled, "rounds": rounds}


async def _sockets_once_closed(port: int, within: float = 3.0) -> int:
    """Client sockets to ``port`` once closing ones are closed. A TLS connection closed
    politely sends close_notify and waits for the server's answer or its FIN, and
    nothing signals when that is over: the count is looked at every 10 ms, for at most
    ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (count := client_sockets(port)) and loop.time() < deadline:
        await asyncio.sleep(0.01)
    return count


@needs_proc_fd
@pytest.mark.parametrize("concurrent", [1, 3], ids=["one-call", "three-calls-one-slot"])
@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_a_call_cancelled_at_any_await_point_leaks_no_slot_and_no_socket(
    transport: str, concurrent: int, tls_material: Tls
) -> None:
    tls = tls_for(transport, tls_material)
    context = tls.server_context() if tls is not None else None
    with RawServer(in_pieces, tls=context) as server:

        async def scenario() -> tuple[dict[str, Any], int]:
            client = async_client(server.url, tls, max_connections=1,
                                  timeout=2.0, call_timeout=None)
            async with client:
                report = await _sweep(client, server.port, concurrent)
            return report, await _sockets_once_closed(server.port)

        report, left = asyncio.run(scenario())
    assert not report["problems"], report["problems"][:5]
    assert report["cancelled"] > 0, "no call was ever cancelled"
    assert left == 0, f"{left} sockets open after aclose()"

