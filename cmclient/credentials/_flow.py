"""Credential fetching as sans-I/O generators, and the sync shell that runs them.

A source's fetch is a generator (a *flow*) that yields the I/O it needs, an
``HttpCall`` or a ``RunProcess``, and is sent the result: an ``httpx.Response`` or a
``ProcessResult``. A failed HTTP exchange is thrown into the generator as the
``httpx.TransportError`` it raised, so the retry and fallback rules (IMDSv2 then v1,
container retries) live once, in the flow. ``run_sync`` drives a flow with
``httpx.Client`` and ``subprocess``; ``cmclient.credentials._aio.run_async`` drives the
same flow with ``httpx.AsyncClient`` and ``asyncio.create_subprocess_exec``. This is
the shape of ``httpx.Auth.auth_flow``.

Reading small local files (token files, config) happens inside flows directly.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

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
    verifying TLS context per process (loading the CA bundle costs ~25 ms and ~1 MiB)."""
    from cmclient._http.client import verifying_tls

    return {"trust_env": trust_env, "verify": verifying_tls()}


def run_sync(flow: Flow[T]) -> T:
    """Drive a flow to its result with blocking I/O."""
    clients: dict[bool, httpx.Client] = {}
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
                client = clients.get(effect.trust_env)
                if client is None:
                    client = clients[effect.trust_env] = httpx.Client(
                        **http_options(effect.trust_env)
                    )
                effect.request.extensions["timeout"] = httpx.Timeout(effect.timeout).as_dict()
                try:
                    value = client.send(effect.request)
                    value.read()
                except httpx.TransportError as exc:
                    error = exc
            elif isinstance(effect, RunProcess):
                done = subprocess.run(list(effect.argv), capture_output=True, check=False)
                value = ProcessResult(done.returncode, done.stdout, done.stderr)
            else:
                time.sleep(effect.seconds)
    finally:
        flow.close()
        for client in clients.values():
            client.close()
