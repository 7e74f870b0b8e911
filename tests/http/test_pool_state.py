"""``PoolState``, the pool decisions both pools share, as a pure state machine:
checked by example and by random sequences of acquire / release / give-up against
its invariants."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmclient._http.pool import OPEN, WAIT, PoolState
from cmclient._http.rules import Origin

A: Origin = ("http", "a", 80)
B: Origin = ("http", "b", 80)


@dataclass(eq=False)
class Conn:
    origin: Origin
    idle_since: float = 0.0
    alive: bool = True


def usable(conn: Conn) -> bool:
    return conn.alive


def test_slots_then_waiting_then_first_come_first_served() -> None:
    state: PoolState[Conn, str] = PoolState(2)
    assert state.acquire(A, usable) == (OPEN, None)
    assert state.acquire(A, usable) == (OPEN, None)
    assert state.acquire(A, usable) == (WAIT, None)
    state.wait(A, "first")
    state.wait(A, "second")
    conn = Conn(A)
    assert state.release(conn, 1.0) == ("first", conn, None)
    assert state.release(None, 2.0) == ("second", OPEN, None)  # a closed one's slot
    assert state.slots == 2


def test_idle_connections_are_reused_newest_first_and_stale_ones_closed() -> None:
    state: PoolState[Conn, str] = PoolState(3)
    old, new = Conn(A), Conn(A)
    for _ in (old, new):
        state.acquire(A, usable)
    state.release(old, 1.0)
    state.release(new, 2.0)
    assert new.idle_since == 2.0
    assert state.acquire(A, usable) == (new, None)
    old.alive = False
    assert state.acquire(A, usable) == (OPEN, old)  # closed by the shell; its slot is ours
    assert state.slots == 2 and state.idle_count == 0


def test_at_the_limit_another_origins_idle_connection_is_evicted() -> None:
    state: PoolState[Conn, str] = PoolState(1)
    state.acquire(A, usable)
    spare = Conn(A)
    state.release(spare, 1.0)
    assert state.acquire(B, usable) == (OPEN, spare)
    assert state.slots == 1


def test_a_waiter_for_another_origin_gets_the_slot_not_the_connection() -> None:
    state: PoolState[Conn, str] = PoolState(1)
    state.acquire(A, usable)
    state.wait(B, "b")
    conn = Conn(A)
    assert state.release(conn, 1.0) == ("b", OPEN, conn)


def test_a_waiter_that_gave_up_is_forgotten_and_gets_nothing() -> None:
    state: PoolState[Conn, str] = PoolState(1)
    state.acquire(A, usable)
    state.wait(A, "gone")
    assert state.forget("gone") is True
    assert state.forget("gone") is False
    assert state.release(None, 1.0) == (None, None, None)
    assert state.slots == 0


def test_closing_returns_the_idle_connections_and_the_waiters() -> None:
    state: PoolState[Conn, str] = PoolState(2)
    state.acquire(A, usable)
    state.acquire(A, usable)
    idle = Conn(A)
    state.release(idle, 1.0)
    state.wait(A, "w")  # (a shell would not queue while one is idle; the state allows it)
    assert state.close() == ([idle], ["w"])
    busy = Conn(A)
    assert state.release(busy, 2.0) == (None, None, busy)
    assert state.slots == 0
    with pytest.raises(RuntimeError, match="closed"):
        state.acquire(A, usable)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["acquire", "release", "drop", "give_up"]),
                          st.sampled_from([A, B])), max_size=60),
       st.integers(1, 4))
def test_random_sequences_keep_the_invariants(ops: list[tuple[str, Origin]], limit: int) -> None:
    state: PoolState[Conn, int] = PoolState(limit)
    held: list[Conn] = []  # connections in use, one slot each
    waiting: list[int] = []
    next_waiter = 0

    def give(waiter: int | None, got: Conn | object | None, origin_of_waiter: Origin) -> None:
        if waiter is None:
            return
        waiting.remove(waiter)
        held.append(got if isinstance(got, Conn) else Conn(origin_of_waiter))

    origins: dict[int, Origin] = {}
    for op, origin in ops:
        if op == "acquire":
            got, _ = state.acquire(origin, usable)
            if got is WAIT:
                origins[next_waiter] = origin
                state.wait(origin, next_waiter)
                waiting.append(next_waiter)
                next_waiter += 1
            else:
                held.append(got if isinstance(got, Conn) else Conn(origin))
        elif op in ("release", "drop") and held:
            conn = held.pop(0)
            waiter, got, _ = state.release(conn if op == "release" else None, 0.0)
            if waiter is not None:
                assert (isinstance(got, Conn) and got.origin == origins[waiter]) or got is OPEN
                give(waiter, got, origins[waiter])
        elif op == "give_up" and waiting:
            assert state.forget(waiting.pop(0))
        # Invariants: every slot is a held or idle connection; never over the limit;
        # idle connections only while nobody waits; FIFO queue is what the shells hold.
        assert state.slots == len(held) + state.idle_count <= limit
        assert not (state.idle_count and state.waiters)
        assert [w for _, w in state.waiters] == waiting
