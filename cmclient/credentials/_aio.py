"""The async shell for credential flows: imported only from ``aload``, so the sync
client never loads asyncio."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from cmclient.credentials._flow import (
    Done,
    Flow,
    HttpCall,
    ProcessResult,
    RunProcess,
    T,
    http_options,
    step,
)


async def run_async(flow: Flow[T]) -> T:
    """Drive a flow to its result without blocking the event loop."""
    clients: dict[bool, httpx.AsyncClient] = {}
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
                    client = clients[effect.trust_env] = httpx.AsyncClient(
                        **http_options(effect.trust_env)
                    )
                effect.request.extensions["timeout"] = httpx.Timeout(effect.timeout).as_dict()
                try:
                    value = await client.send(effect.request)
                    await value.aread()
                except httpx.TransportError as exc:
                    error = exc
            elif isinstance(effect, RunProcess):
                proc = await asyncio.create_subprocess_exec(
                    *effect.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
                )
                out, err = await proc.communicate()
                value = ProcessResult(proc.returncode or 0, out, err)
            else:
                await asyncio.sleep(effect.seconds)
    finally:
        flow.close()
        for client in clients.values():
            await client.aclose()
