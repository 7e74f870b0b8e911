"""``AsyncComprehendMedical``: the asynchronous driver. It does the I/O; ``ClientCore``
decides. ``_async_client.py`` is the source: ``tools/unasync.py`` writes ``_client.py``
from it, so the two drivers cannot drift apart.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

import httpx

from cmclient._async_api import AsyncOperations
from cmclient._core import ClientCore
from cmclient._http import as_timeout, transport_error
from cmclient._operation import Operation, OutputT
from cmclient.credentials import CredentialProvider, Credentials


class AsyncComprehendMedical(AsyncOperations):
    """An asynchronous Comprehend Medical client.

    Every operation is a method named as in boto3 (``describe_entities_detection_v2_job``)
    taking keyword-only snake_case parameters and returning a typed model from
    ``cmclient.models``. Parameters are validated before anything is sent; AWS errors
    raise the classes in ``cmclient.errors``.

    Use it as a context manager, or await ``aclose()``. A caller-supplied ``http_client``
    is used as is and left open: its owner closes it.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        credentials: Credentials | CredentialProvider | None = None,
        timeout: float | httpx.Timeout = 10.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._core = ClientCore(region=region, endpoint_url=endpoint_url, credentials=credentials)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=as_timeout(timeout))
        self._timeout = as_timeout(timeout)

    @property
    def region(self) -> str:
        return self._core.region

    @property
    def endpoint_url(self) -> str:
        return self._core.endpoint_url

    async def get_credentials(self) -> Credentials:
        """The credentials the next request will be signed with."""
        return await self._core.credentials.aload()

    async def _invoke(
        self, operation: Operation[Any, OutputT], params: dict[str, Any]
    ) -> OutputT:
        call = self._core.prepare(operation, params)
        credentials = await self._core.credentials.aload()
        headers = self._core.sign(call, credentials, datetime.now(timezone.utc))
        started = time.monotonic()
        try:
            response = await self._http.post(
                call.url, content=call.body, headers=headers, timeout=self._timeout
            )
        except httpx.TransportError as exc:
            raise transport_error(exc, operation.name) from exc
        latency = time.monotonic() - started
        return self._core.finish(call, response, attempt=1, latency=latency)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncComprehendMedical:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
