"""The connection pool's decisions, written once for both pools: which connection a
request gets, whether it must open one or wait, and who is handed a connection (or
its slot) when one comes back. Pure code: no sockets, no locks, no clock of its own.

The shells (``sync_pool`` with a lock and one event per waiting thread, ``async_pool``
with futures on one event loop) call it and do what it says: close the connections it
hands back to close, open a connection in a slot it grants, wake the waiter it names.

The rules:

* at most ``max_connections`` connections are open (or being opened) at once, over
  every origin; each one holds a *slot*;
* idle connections are kept per origin and reused newest first (the one least likely
  to have been closed by the server's idle timeout); an idle connection that is no
  longer usable is closed and its slot goes to the request that found it;
* at the limit, an idle connection of another origin is evicted for a new one;
* otherwise the request waits, in arrival order (FIFO), and a returned connection (or
  the slot of a closed one) goes straight to the first waiter: there are idle
  connections only while nobody waits, so nobody waits while one is idle.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from cmclient._http.rules import Origin


class Pooled(Protocol):
    """What the pool needs of a connection."""

    origin: Origin
    idle_since: float


C = TypeVar("C", bound=Pooled)
W = TypeVar("W")


class Open:
    """A slot is yours: open a connection in it."""

    def __repr__(self) -> str:
        return "OPEN"


class Wait:
    """Nothing now: wait (``PoolState.wait``) for a connection or a slot."""

    def __repr__(self) -> str:
        return "WAIT"


OPEN = Open()
WAIT = Wait()


def closed() -> RuntimeError:
    """What using a closed transport raises, as httpx's own transports do."""
    return RuntimeError("The transport was closed")


class PoolState(Generic[C, W]):
    """Idle connections per origin, the count of slots in use, and the FIFO queue of
    waiters (``W`` is whatever the shell wakes a waiter with)."""

    __slots__ = ("closed", "idle", "idle_count", "max_connections", "slots", "waiters")

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self.slots = 0
        self.idle: dict[Origin, collections.deque[C]] = {}
        self.idle_count = 0
        self.waiters: collections.deque[tuple[Origin, W]] = collections.deque()
        self.closed = False

    def acquire(
        self, origin: Origin, usable: Callable[[C], bool]
    ) -> tuple[C | Open | Wait, C | None]:
        """What a request to ``origin`` gets: an idle connection to reuse, ``OPEN`` or
        ``WAIT``; and a connection the shell must close (stale, or evicted)."""
        if self.closed:
            raise closed()
        idle = self.idle.get(origin)
        if idle:
            conn = idle.pop()
            self.idle_count -= 1
            if usable(conn):
                return conn, None
            return OPEN, conn  # stale: its slot is ours (older ones are checked when reached)
        if self.slots < self.max_connections and not self.waiters:
            self.slots += 1
            return OPEN, None
        if self.idle_count:  # at the limit, but another origin has a spare: evict it
            for spare in self.idle.values():
                if spare:
                    self.idle_count -= 1
                    return OPEN, spare.popleft()
        return WAIT, None

    def wait(self, origin: Origin, waiter: W) -> None:
        """Queue ``waiter`` (after ``acquire`` said ``WAIT``)."""
        self.waiters.append((origin, waiter))

    def forget(self, waiter: W) -> bool:
        """Take a waiter that gave up (timed out, cancelled) out of the queue; ``False``
        if it was no longer there (it has been handed something meanwhile)."""
        for index, (_, queued) in enumerate(self.waiters):
            if queued is waiter:
                del self.waiters[index]
                return True
        return False

    def release(
        self, conn: C | None, now: float
    ) -> tuple[W | None, C | Open | None, C | None]:
        """A request is done with its slot: ``conn`` is a connection fit for reuse, or
        ``None`` when the shell closed it (or never opened one). Returns the waiter to
        wake (or ``None``), what it gets (the connection, or ``OPEN`` for the slot),
        and a connection the shell must close."""
        if self.closed:
            self.slots -= 1
            return None, None, conn
        if self.waiters:
            origin, waiter = self.waiters.popleft()
            if conn is not None and origin == conn.origin:
                return waiter, conn, None
            return waiter, OPEN, conn  # the slot passes on; another origin's conn closes
        if conn is None:
            self.slots -= 1
            return None, None, None
        conn.idle_since = now
        idle = self.idle.get(conn.origin)
        if idle is None:
            idle = self.idle[conn.origin] = collections.deque()
        idle.append(conn)
        self.idle_count += 1
        return None, None, None

    def close(self) -> tuple[list[C], list[W]]:
        """Close the pool: the idle connections to close and the waiters to fail.
        Connections in use free their slots when they come back (``release``)."""
        self.closed = True
        idle = [conn for conns in self.idle.values() for conn in conns]
        self.slots -= len(idle)
        self.idle.clear()
        self.idle_count = 0
        waiters = [waiter for _, waiter in self.waiters]
        self.waiters.clear()
        return idle, waiters
