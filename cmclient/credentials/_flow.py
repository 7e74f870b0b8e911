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


class _HttpClients:
    """One sync httpx.Client per proxy setting, made on first use, closed at the end."""

    def __init__(self) -> None:
        self._clients: dict[bool, httpx.Client] = {}

    def get(self, trust_env: bool) -> httpx.Client:
        client = self._clients.get(trust_env)
        if client is None:
            client = self._clients[trust_env] = httpx.Client(trust_env=trust_env)
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def run_sync(flow: Flow[T]) -> T:
    """Drive a flow to its result with blocking I/O."""
    clients = _HttpClients()
    try:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                result: T = stop.value
                return result
            value, error = None, None
            if isinstance(effect, HttpCall):
                try:
                    effect.request.extensions["timeout"] = httpx.Timeout(effect.timeout).as_dict()
                    value = clients.get(effect.trust_env).send(effect.request)
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
        clients.close()
