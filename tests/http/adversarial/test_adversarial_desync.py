"""Desynchronisation: bytes on a connection that no request asked for must never become
another request's response (issue 12, defects 1-3).

Each case answers one request badly (bytes after a complete response, a large answer
plus a stray one in one TLS record, 1xx responses before the final one) and two more
well; through both pools over TCP and TLS, and through aiohttp as the reference. A
request arriving on a connection after unread bytes were written to it is a failure
by itself (``RawServer.violations``), whatever answer it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.rawserver import RawServer, Request, ServerConnection, ok, response
from tests.http.adversarial._harness import (
    POOLS,
    Outcome,
    RawCase,
    Tls,
    aiohttp_session,
    async_client,
    call_aiohttp,
    call_async,
    call_sync,
    case_params,
    check_case,
    marker,
    record,
    sync_client,
    tls_for,
)

RIGHT = frozenset({"right"})


def answer_twice(request: Request, conn: ServerConnection) -> bool:
    """The answer, then a second complete answer nobody asked for, in one write."""
    conn.taint()
    conn.send(ok(request.text) + ok(marker("stray")))
    return True


def answer_then_garbage(request: Request, conn: ServerConnection) -> bool:
    conn.taint()
    conn.send(ok(request.text) + b"\x00garbage that is not HTTP\r\n\r\n")
    return True


def large_answer_twice(request: Request, conn: ServerConnection) -> bool:
    """A 300 KB answer whose last 100 bytes go out with a stray answer in one write
    (under TLS: in one record, so the stray bytes are inside the SSL object, not the
    socket, when the response has been read)."""
    data = ok(request.text, padding=300_000)
    conn.send(data[:-100])
    conn.taint()
    conn.send(data[-100:] + ok(marker("stray")))
    return True


def interim(*statuses: int, same_write: bool = True) -> Any:
    def respond(request: Request, conn: ServerConnection) -> bool:
        interims = [response(s, headers=[("Link", "</style.css>; rel=preload")] if s == 103
                             else [], content_length=False) for s in statuses]
        if same_write:
            return conn.send(b"".join(interims) + ok(request.text))
        for part in interims:
            conn.send(part)
        return conn.send(ok(request.text))

    return respond


CASES = [
    RawCase("answer twice in one write", answer_twice, RIGHT, defect="1"),
    RawCase("answer then garbage in one write", answer_then_garbage,
            frozenset({"right", "error"}), defect="1",
            lenient_ok="the answer was complete before the garbage began, and the garbage "
                       "belongs to no request; aiohttp fails the call only because its parser "
                       "reads on past the end of the response"),
    RawCase("300 KB answer + stray answer in one record", large_answer_twice, RIGHT,
            defect="1, 2"),
    RawCase("100 Continue before the answer", interim(100), RIGHT),
    RawCase("102 Processing + answer in one write", interim(102), RIGHT, defect="3"),
    RawCase("103 Early Hints, then the answer", interim(103, same_write=False), RIGHT,
            defect="3"),
    RawCase("100, 102, 103, 103 + answer in one write", interim(100, 102, 103, 103), RIGHT,
            defect="3"),
]


@pytest.mark.parametrize(("case", "pool", "transport"), case_params(CASES))
def test_desync_case(case: RawCase, pool: str, transport: str, tls_material: Tls) -> None:
    check_case(case, pool, transport, tls_for(transport, tls_material))


# -- a response nobody asked for, arriving on an idle connection -------------------


class StrayWhileIdle:
    """Answers the first request well; then, when the test says so, writes a stray
    answer on that now idle connection (``stray_sent`` is set after the write)."""

    def __init__(self) -> None:
        self.send_stray = threading.Event()
        self.stray_sent = threading.Event()
        self.stray = marker("stray")

    def __call__(self, request: Request, conn: ServerConnection) -> bool:
        if not conn.send(ok(request.text)):
            return False
        if request.text.startswith("first-"):
            self.send_stray.wait(10)
            conn.taint()
            conn.send(ok(self.stray))
            self.stray_sent.set()
        return True


@contextlib.contextmanager
def _released(script: StrayWhileIdle) -> Iterator[None]:
    """Never leave the server's thread waiting for the go-ahead (a failed test)."""
    try:
        yield
    finally:
        script.send_stray.set()


def _stray_outcomes(pool: str, transport: str, tls: Tls | None) -> list[Outcome]:
    script = StrayWhileIdle()
    context = tls.server_context() if tls is not None else None
    first, second, third = marker("first"), marker("second"), marker("third")
    with RawServer(script, tls=context) as server, _released(script):
        if pool == "sync":
            with sync_client(server.url, tls) as client:
                outcomes = [call_sync(client, first)]
                script.send_stray.set()
                script.stray_sent.wait(10)
                outcomes += [call_sync(client, second), call_sync(client, third)]
        else:

            async def scenario() -> list[Outcome]:
                async def call(session_or_client: Any, text: str) -> Outcome:
                    if pool == "aiohttp":
                        return await call_aiohttp(session_or_client, server.url, text, tls)
                    return await call_async(session_or_client, text)

                async def stray_arrives() -> None:
                    script.send_stray.set()
                    await asyncio.to_thread(script.stray_sent.wait, 10)
                    for _ in range(3):  # let the loop run the socket's read callbacks
                        await asyncio.sleep(0)

                if pool == "aiohttp":
                    async with aiohttp_session() as session:
                        got = [await call(session, first)]
                        await stray_arrives()
                        return [*got, await call(session, second), await call(session, third)]
                async with async_client(server.url, tls) as client:
                    got = [await call(client, first)]
                    await stray_arrives()
                    return [*got, await call(client, second), await call(client, third)]

            outcomes = asyncio.run(scenario())
        if server.violations:
            outcomes.append(Outcome("wrong", "; ".join(server.violations)))
    return outcomes


def _summary(outcomes: list[Outcome]) -> Outcome:
    for outcome in outcomes:
        if outcome.kind != "right":
            return outcome
    return Outcome("right")


_STRAY_REFERENCE: dict[str, Outcome] = {}


@pytest.mark.parametrize("transport", ["tcp", "tls"])
@pytest.mark.parametrize("pool", POOLS)
def test_unsolicited_response_on_an_idle_connection_is_never_read_as_an_answer(
    pool: str, transport: str, tls_material: Tls
) -> None:
    name = "stray answer on an idle connection"
    tls = tls_for(transport, tls_material)
    if transport not in _STRAY_REFERENCE:
        _STRAY_REFERENCE[transport] = _summary(_stray_outcomes("aiohttp", transport, tls))
    record(name, transport, "aiohttp", _STRAY_REFERENCE[transport])
    outcomes = _stray_outcomes(pool, transport, tls)
    record(name, transport, pool, _summary(outcomes))
    assert [o.kind for o in outcomes] == ["right", "right", "right"], outcomes
