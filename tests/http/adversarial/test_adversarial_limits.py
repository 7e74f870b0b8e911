"""Limits: the size of a response, the time a call may take, the connections a client
opens, and the descriptors it keeps (issue 12, defect 6, and the cases that already
held).

* A 100 MB body (Content-Length or chunked) and 100 KB of gzip inflating to 100 MB end
  in ``ResponseTooLargeError`` with memory growth far below 100 MB (tracemalloc);
  ``max_response_bytes=`` moves the cap, and the error is not retried.
* A stalled or trickling body ends at ``call_timeout``.
* ``max_connections`` holds under 12 threads and 36 tasks.
* 40 failures of each kind leave no descriptor open, and no ResourceWarning.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
import tracemalloc
import warnings
from typing import Any

import httpx
import pytest

from cmclient import errors
from tests.helpers.rawserver import (
    MIB,
    RawServer,
    Request,
    Responder,
    ServerConnection,
    gzip_padded,
    ok,
    ok_body,
    response,
    send_padded,
)
from tests.http.adversarial._harness import (
    POOLS,
    Outcome,
    RawCase,
    Tls,
    async_client,
    call_async,
    call_sync,
    marker,
    needs_proc_fd,
    open_fds,
    record,
    reference,
    run_case,
    sync_client,
    tls_for,
    too_large_error,
)

JSON = ("Content-Type", "application/x-amz-json-1.1")
CLOSE = ("Connection", "close")
#: Memory a capped 100 MB response may add, at most: the 16 MiB cap, a copy of it, and
#: slack for the client's own objects.
MEMORY_BOUND = 48 * MIB

def _prefix(text: str) -> bytes:
    return ok_body(text)[:-1]  # without the closing brace: the padding goes before it

def hundred_mb(*, chunked: bool) -> Responder:
    def respond(request: Request, conn: ServerConnection) -> bool:
        prefix, suffix = _prefix(request.text), b"}"
        if chunked:
            head = response(200, b"", [JSON, CLOSE, ("Transfer-Encoding", "chunked")],
                            content_length=False)
        else:
            length = len(prefix) + 100 * MIB + len(suffix)
            head = response(200, b"", [JSON, CLOSE, ("Content-Length", str(length))],
                            content_length=False)
        if conn.send(head):
            send_padded(conn, prefix, 100, suffix, chunked=chunked)
        return False  # whatever the client read, this connection is done

    return respond

def gzip_bomb(request: Request, conn: ServerConnection) -> bool:
    body = gzip_padded(_prefix(request.text), 100, b"}")
    conn.send(response(200, body, [JSON, CLOSE, ("Content-Encoding", "gzip")]))
    return False

SIZE_CASES = [
    RawCase("100 MB body, Content-Length", hundred_mb(chunked=False),
            frozenset({"error"}), defect="6"),
    RawCase("100 MB body, chunked", hundred_mb(chunked=True), frozenset({"error"}),
            defect="6"),
    RawCase("100 KB gzip inflating to 100 MB", gzip_bomb, frozenset({"error"}), defect="6"),
]

@pytest.mark.parametrize("transport", ["tcp", "tls"])
@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("case", SIZE_CASES, ids=str)
def test_a_response_over_the_cap_ends_in_a_typed_error_with_bounded_memory(
    case: RawCase, pool: str, transport: str, tls_material: Tls
) -> None:
    tls = tls_for(transport, tls_material)
    reference(case, transport, tls)
    tracemalloc.start()
    try:
        run = run_case(case, pool, tls)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    record(case.name, transport, pool, run.overall, case.defect)
    assert run.first.kind == "error", run.first
    assert isinstance(run.first.exc, too_large_error()), run.first
    assert [o.kind for o in run.follow_ups] == ["right", "right"], run.follow_ups
    assert not run.violations
    assert peak < MEMORY_BOUND, f"memory grew by {peak / MIB:.0f} MiB"

def sized(size: int, *, gzip: bool = False) -> Responder:
    """An answer whose body (decoded) is ``size`` bytes."""

    def respond(request: Request, conn: ServerConnection) -> bool:
        if not request.text.startswith("bad-"):
            return conn.send(ok(request.text))
        prefix = _prefix(request.text)
        padding = size - len(prefix) - 1
        if gzip:
            body = gzip_padded(prefix + b" " * padding, 0, b"}")
            return conn.send(response(200, body, [JSON, ("Content-Encoding", "gzip")]))
        return conn.send(response(200, prefix + b" " * padding + b"}", [JSON]))

    return respond

@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("pool", POOLS)
def test_max_response_bytes_sets_the_cap_and_the_error_is_not_retried(
    pool: str, gzip: bool
) -> None:
    cap = 4096
    for size, expected in ((cap, "right"), (cap + 1, "error")):
        with RawServer(sized(size, gzip=gzip)) as server:
            text = marker("bad")
            outcome = _one_call(pool, server.url, text, max_response_bytes=cap, max_attempts=3,
                                retry_backoff_base=0.001)
            tries = [r for r in server.requests if r.text == text]
        assert outcome.kind == expected, (size, outcome)
        if expected == "error":
            assert isinstance(outcome.exc, too_large_error()), outcome
            assert len(tries) == 1, f"sent {len(tries)} times: a too large response was retried"

def _one_call(pool: str, url: str, text: str, tls: Tls | None = None,
              **options: Any) -> Outcome:
    if pool == "sync":
        with sync_client(url, tls, **options) as client:
            return call_sync(client, text)

    async def call() -> Outcome:
        async with async_client(url, tls, **options) as client:
            return await call_async(client, text)

    result: Outcome = asyncio.run(call())
    return result

# -- time ----------------------------------------------------------------------------

def stall(*, trickle: bool) -> Responder:
    """The head and half the body, then nothing more (or one byte every 50 ms)."""

    def respond(request: Request, conn: ServerConnection) -> bool:
        data = ok(request.text)
        if not request.text.startswith("bad-"):
            return conn.send(data)
        half = len(data) - 20
        conn.send(data[:half])
        if not trickle:
            conn.hold()
            return False
        stop = threading.Event()
        for byte in data[half:-1]:
            if stop.wait(0.05) or not conn.send(bytes([byte])):
                return False
        conn.hold()
        return False

    return respond

@pytest.mark.parametrize("trickle", [False, True], ids=["stalled", "trickling"])
@pytest.mark.parametrize("transport", ["tcp", "tls"])
@pytest.mark.parametrize("pool", POOLS)
def test_a_stalled_body_ends_at_call_timeout(
    pool: str, transport: str, trickle: bool, tls_material: Tls
) -> None:
    tls = tls_for(transport, tls_material)
    call_timeout = 0.6
    context = tls.server_context() if tls is not None else None
    with RawServer(stall(trickle=trickle), tls=context) as server:
        texts = [marker("bad"), marker("good")]
        options = {"call_timeout": call_timeout, "timeout": 5.0}
        if pool == "sync":
            with sync_client(server.url, tls, **options) as client:
                started = time.monotonic()
                first = call_sync(client, texts[0])
                elapsed = time.monotonic() - started
                second = call_sync(client, texts[1])
        else:

            async def calls() -> tuple[Outcome, float, Outcome]:
                async with async_client(server.url, tls, **options) as client:
                    started = time.monotonic()
                    first = await call_async(client, texts[0])
                    elapsed = time.monotonic() - started
                    return first, elapsed, await call_async(client, texts[1])

            first, elapsed, second = asyncio.run(calls())
    assert isinstance(first.exc, errors.ClientTimeoutError), first  # CallTimeoutError, or a
    # read timeout cut to the time the call had left
    assert elapsed < call_timeout + 1.0, f"the call took {elapsed:.2f} s"
    assert second.kind == "right", second

# -- connections ------------------------------------------------------------------------

def slow_answers(request: Request, conn: ServerConnection) -> bool:
    time.sleep(0.005)  # a server that takes a moment: lets the callers pile up
    return conn.send(ok(request.text))

@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_max_connections_holds_under_12_threads(transport: str, tls_material: Tls) -> None:
    tls = tls_for(transport, tls_material)
    context = tls.server_context() if tls is not None else None
    limit, threads, calls_each = 4, 12, 4
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    with RawServer(slow_answers, tls=context) as server:
        with sync_client(server.url, tls, max_connections=limit) as client:
            start = threading.Barrier(threads)

            def worker() -> None:
                start.wait(10)
                for _ in range(calls_each):
                    outcome = call_sync(client, marker("thread"))
                    with lock:
                        outcomes.append(outcome)

            workers = [threading.Thread(target=worker) for _ in range(threads)]
            for thread in workers:
                thread.start()
            for thread in workers:
                thread.join(60)
        accepted, most = server.accepted, server.max_open
    assert [o.kind for o in outcomes] == ["right"] * threads * calls_each, outcomes
    assert accepted <= limit and most <= limit, (accepted, most)

@pytest.mark.parametrize("transport", ["tcp", "tls"])
def test_max_connections_holds_under_36_tasks(transport: str, tls_material: Tls) -> None:
    tls = tls_for(transport, tls_material)
    context = tls.server_context() if tls is not None else None
    limit, tasks, calls_each = 4, 36, 3
    with RawServer(slow_answers, tls=context) as server:

        async def scenario() -> list[Outcome]:
            async with async_client(server.url, tls, max_connections=limit) as client:

                async def worker() -> list[Outcome]:
                    return [await call_async(client, marker("task")) for _ in range(calls_each)]

                results = await asyncio.gather(*(worker() for _ in range(tasks)))
            return [outcome for per_task in results for outcome in per_task]

        outcomes = asyncio.run(scenario())
        accepted, most = server.accepted, server.max_open
    assert [o.kind for o in outcomes] == ["right"] * tasks * calls_each, outcomes
    assert accepted <= limit and most <= limit, (accepted, most)

# -- descriptors ------------------------------------------------------------------------

def _refused_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port

def _answer_twice(request: Request, conn: ServerConnection) -> bool:
    conn.send(ok(request.text) + ok(marker("stray")))
    return True

def _reset(request: Request, conn: ServerConnection) -> bool:
    conn.reset()
    return False

def _close(request: Request, conn: ServerConnection) -> bool:
    return False

def _cut_body(request: Request, conn: ServerConnection) -> bool:
    conn.send(ok(request.text)[:-10])
    return False

def _garbage(request: Request, conn: ServerConnection) -> bool:
    conn.send(b"NONSENSE\r\n\r\n")
    return True

def _silent(request: Request, conn: ServerConnection) -> bool:
    conn.hold()
    return False

def _too_large(request: Request, conn: ServerConnection) -> bool:
    return conn.send(ok(request.text, padding=5000))

def _bad_length(request: Request, conn: ServerConnection) -> bool:
    conn.send(response(200, ok_body(request.text), [JSON, ("Content-Length", "abc")],
                       content_length=False))
    conn.hold()
    return False

FAILURES: dict[str, tuple[Responder | None, dict[str, Any], str]] = {
    # kind: (responder, or None for a refused connection; client options; outcome)
    "connection refused": (None, {}, "error"),
    "reset before an answer": (_reset, {}, "error"),
    "closed before an answer": (_close, {}, "error"),
    "body cut short": (_cut_body, {}, "error"),
    "garbage status line": (_garbage, {}, "error"),
    "invalid Content-Length": (_bad_length, {}, "error"),
    "read timeout": (_silent, {"timeout": httpx.Timeout(2.0, read=0.03)}, "error"),
    "response too large": (_too_large, {"max_response_bytes": 1000}, "error"),
    "answer twice (connection dropped)": (_answer_twice, {}, "right"),
}

@needs_proc_fd
@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("kind", list(FAILURES))
def test_no_descriptor_is_leaked_after_40_failures(kind: str, pool: str) -> None:
    responder, options, expected = FAILURES[kind]
    gc.collect()
    before = open_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        if responder is None:
            outcomes = _forty(pool, f"http://127.0.0.1:{_refused_port()}", options)
        else:
            with RawServer(responder) as server:
                outcomes = _forty(pool, server.url, options)
        after = open_fds()
        gc.collect()
    assert {o.kind for o in outcomes} == {expected}, outcomes[:3]
    assert after <= before, f"{after - before} descriptors left open after 40 x {kind}"
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not unclosed, unclosed[:3]

def _forty(pool: str, url: str, options: dict[str, Any]) -> list[Outcome]:
    """40 calls on one client, which is then closed; the outcomes."""
    texts = [marker("bad") for _ in range(40)]
    if pool == "sync":
        with sync_client(url, **options) as client:
            return [call_sync(client, text) for text in texts]

    async def calls() -> list[Outcome]:
        async with async_client(url, **options) as client:
            got = [await call_async(client, text) for text in texts]
        for _ in range(3):  # transports close on the next loop iterations
            await asyncio.sleep(0)
        return got

    result: list[Outcome] = asyncio.run(calls())
    return result
