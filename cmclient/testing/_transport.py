"""In-process ways in: an httpx transport (sync and async) and a respx helper."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from cmclient.testing._service import ComprehendMedicalMock, MockResponse


def _target(request: httpx.Request) -> str:
    return request.url.raw_path.decode("ascii")


def _response(answer: MockResponse, request: httpx.Request) -> httpx.Response:
    return httpx.Response(answer.status, headers=answer.headers, content=answer.body,
                          request=request)


def answer(mock: ComprehendMedicalMock, request: httpx.Request) -> httpx.Response:
    """Answer one httpx request synchronously (sleeping for any configured latency)."""
    body = request.read()
    result = mock.handle(request.method, _target(request), request.headers.multi_items(), body)
    if result.delay:
        time.sleep(result.delay)
    return _response(result, request)


class MockTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Serves ``httpx.Client(transport=t)`` and ``httpx.AsyncClient(transport=t)``
    from the mock, with no sockets. The async side sleeps with asyncio."""

    def __init__(self, mock: ComprehendMedicalMock) -> None:
        self.mock = mock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return answer(self.mock, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        result = self.mock.handle(request.method, _target(request),
                                  request.headers.multi_items(), body)
        if result.delay:
            await asyncio.sleep(result.delay)
        return _response(result, request)


def install_respx(mock: ComprehendMedicalMock, router: Any, url: str | None = None) -> Any:
    """Add a route to a ``respx.MockRouter`` sending the service's traffic to ``mock``."""
    base = url or f"https://comprehendmedical.{mock.region}.amazonaws.com"
    host = httpx.URL(base).host
    return router.route(host=host).mock(side_effect=lambda request: answer(mock, request))
