"""The async shell for credential flows: imported only from ``aload``, so the sync
client never loads asyncio. The loop that drives a flow is ``_flow.drive``, shared with
the blocking shell."""

from __future__ import annotations

import asyncio

import httpx

from cmclient.credentials._flow import Flow, ProcessResult, T, drive, http_options


class _AsyncShell:
    """``httpx.AsyncClient`` (one per proxy setting), asyncio's subprocesses and sleep."""

    def __init__(self) -> None:
        self._clients: dict[bool, httpx.AsyncClient] = {}

    async def http(self, request: httpx.Request, trust_env: bool) -> httpx.Response:
        client = self._clients.get(trust_env)
        if client is None:
            client = self._clients[trust_env] = httpx.AsyncClient(**http_options(trust_env))
        response = await client.send(request)
        await response.aread()
        return response

    async def run(self, argv: tuple[str, ...]) -> ProcessResult:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
        return ProcessResult(proc.returncode or 0, out, err)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()


async def run_async(flow: Flow[T]) -> T:
    """Drive a flow to its result without blocking the event loop."""
    return await drive(flow, _AsyncShell())
