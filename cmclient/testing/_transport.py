"""In-process ways in: an httpx transport (sync and async) and a respx helper.

They depend on ``RequestHandler`` only, so they serve the mock service or any other
handler alike. Latency (``MockResponse.delay``) is slept here, in the caller's own
thread or task: ``time.sleep`` on the sync side, ``await asyncio.sleep`` on the async
side, so concurrent callers wait side by side rather than one after another.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from cmclient.testing._exchange import MockRequest, MockResponse, RequestHandler

__all__ = ["MockTransport", "answer", "install_respx"]


def _request(request: httpx.Request, body: bytes) -> MockRequest:
    return MockRequest(request.method, request.url.raw_path.decode("ascii"),
                       tuple(request.headers.multi_items()), body)


def _response(result: MockResponse, request: httpx.Request) -> httpx.Response:
    # An unread stream, as a network transport returns it: a client that streams the
    # body (``iter_raw``) works here as it does over sockets.
    headers = list(result.headers)
    if not any(name.lower() == "content-length" for name, _ in headers):
        headers.append(("Content-Length", str(len(result.body))))
    return httpx.Response(result.status, headers=headers,
                          stream=httpx.ByteStream(result.body), request=request)


def answer(handler: RequestHandler, request: httpx.Request) -> httpx.Response:
    """Answer one httpx request synchronously (sleeping for any configured latency)."""
    result = handler.handle_request(_request(request, request.read()))
    if result.delay:
        time.sleep(result.delay)
    return _response(result, request)


class MockTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Serves ``httpx.Client(transport=t)`` and ``httpx.AsyncClient(transport=t)``
    from a handler, with no sockets. The async side sleeps with asyncio."""

    def __init__(self, handler: RequestHandler) -> None:
        self.handler = handler

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return answer(self.handler, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        result = self.handler.handle_request(_request(request, body))
        if result.delay:
            await asyncio.sleep(result.delay)
        return _response(result, request)


def install_respx(handler: RequestHandler, router: Any, url: str) -> Any:
    """Add a route to a ``respx.MockRouter`` sending ``url``'s host's traffic to
    ``handler``; returns the route."""
    host = httpx.URL(url).host
    return router.route(host=host).mock(side_effect=lambda request: answer(handler, request))
