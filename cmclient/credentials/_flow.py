"""Credential fetching as sans-I/O generators, and the sync shell that runs them.

A source's fetch is a generator (a *flow*) that yields the I/O it needs, an
``HttpCall`` or a ``RunProcess``, and is sent the result: an ``httpx.Response`` or a
``ProcessResult``. A failed HTTP exchange is thrown into the generator as the
``httpx.TransportError`` it raised, so the retry and fallback rules (IMDSv2 then v1,
container retries) live once, in the flow. This is the shape of
``httpx.Auth.auth_flow``.

How a flow is driven is written once too, in ``drive``, over a *shell* that performs
each effect: ``run_sync`` drives a flow with a blocking shell (``httpx.Client``,
``subprocess``, ``time.sleep``), ``cmclient.credentials._aio.run_async`` with an
asyncio one (``httpx.AsyncClient``, ``asyncio.create_subprocess_exec``).

Reading small local files (token files, config) happens inside flows directly.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx

T = TypeVar("T")


@dataclass(frozen=True)
class HttpCall:
    """Send ``request`` with a total time limit of ``timeout`` seconds.

    ``trust_env`` False keeps proxies out (the link-local metadata services);
    True lets HTTP(S)_PROXY / NO_PROXY apply (STS).
    """

    request: httpx.Request
    timeout: float
    trust_env: bool = False


@dataclass(frozen=True)
class RunProcess:
    """Run ``argv`` (no shell) and collect its exit status and output."""

    argv: tuple[str, ...]


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    stdout: bytes = field(repr=False)
    stderr: bytes = field(repr=False)


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` before the next step (between retries)."""

    seconds: float


Effect = HttpCall | RunProcess | Sleep
Flow = Generator[Effect, Any, T]


class Done:
    """The value a flow finished with (see ``step``)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def step(flow: Flow[T], value: Any, error: BaseException | None) -> Effect | Done:
    """Resume ``flow`` with the last effect's result (or throw its error into it): the
    next effect to perform, or ``Done`` with the flow's result. Both shells loop on this,
    so how a flow is driven is written once."""
    try:
        return flow.throw(error) if error is not None else flow.send(value)
    except StopIteration as stop:
        return Done(stop.value)


def http_options(trust_env: bool) -> dict[str, Any]:
    """Options of the HTTP client a shell makes per proxy setting. Every shell shares one
    verifying TLS context per process: loading the CA bundle is slow and takes memory
    (figures in bench/README.md)."""
    from cmclient._http.tls import verifying_tls

    return {"trust_env": trust_env, "verify": verifying_tls()}


class Shell(Protocol):
    """What performs a flow's effects for ``drive``. Its methods are coroutines so that
    one loop serves both kinds of shell; a blocking shell's never suspend."""

    async def http(self, request: httpx.Request, trust_env: bool) -> httpx.Response:
        """Send ``request`` and read its body; raises ``httpx.TransportError``."""
        ...

    async def run(self, argv: tuple[str, ...]) -> ProcessResult: ...

    async def sleep(self, seconds: float) -> None: ...

    async def close(self) -> None: ...


async def drive(flow: Flow[T], shell: Shell) -> T:
    """Drive ``flow`` to its result, ``shell`` performing each effect it yields."""
    try:
        value: Any = None
        error: BaseException | None = None
        while True:
            effect = step(flow, value, error)
            if isinstance(effect, Done):
                result: T = effect.value
                return result
            value, error = None, None
            if isinstance(effect, HttpCall):
                effect.request.extensions["timeout"] = httpx.Timeout(effect.timeout).as_dict()
                try:
                    value = await shell.http(effect.request, effect.trust_env)
                except httpx.TransportError as exc:
                    error = exc
            elif isinstance(effect, RunProcess):
                value = await shell.run(effect.argv)
            else:
                await shell.sleep(effect.seconds)
    finally:
        flow.close()
        await shell.close()


class _BlockingShell:
    """Blocking I/O: one ``httpx.Client`` per proxy setting, ``subprocess``,
    ``time.sleep``. Nothing here awaits, so ``drive`` over it never suspends."""

    def __init__(self) -> None:
        self._clients: dict[bool, httpx.Client] = {}

    async def http(self, request: httpx.Request, trust_env: bool) -> httpx.Response:
        client = self._clients.get(trust_env)
        if client is None:
            client = self._clients[trust_env] = httpx.Client(**http_options(trust_env))
        response = client.send(request)
        response.read()
        return response

    async def run(self, argv: tuple[str, ...]) -> ProcessResult:
        done = subprocess.run(list(argv), capture_output=True, check=False)
        return ProcessResult(done.returncode, done.stdout, done.stderr)

    async def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def close(self) -> None:
        for client in self._clients.values():
            client.close()


def run_sync(flow: Flow[T]) -> T:
    """Drive a flow to its result with blocking I/O, and no event loop: ``drive`` over a
    shell that never suspends finishes at its first step."""
    return _finish(drive(flow, _BlockingShell()))


def _finish(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        coroutine.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    coroutine.close()
    raise RuntimeError("a blocking credential shell suspended")
