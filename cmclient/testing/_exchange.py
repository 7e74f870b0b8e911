"""What every part of the mock agrees on: a request, a response, and a handler.

This module sits at the bottom of ``cmclient.testing`` and imports nothing from it.
The ways in (the loopback server, the httpx transport, the respx helper) depend only on
``RequestHandler``, not on the service that implements it, so the service can import
them without a cycle, and any other handler (a fallback for requests that are not
Comprehend Medical's, such as S3's) plugs into the same ways in unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = ["MockRequest", "MockResponse", "RequestHandler"]


@dataclass(frozen=True)
class MockRequest:
    """One HTTP request as it arrived: the ways in build it, handlers read it.

    ``path`` is the request target in origin form and includes any query string;
    ``headers`` keeps the names' case and order, and repeated names, as sent.
    """

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        headers: Iterable[tuple[str, str]] | Mapping[str, str],
        body: bytes,
    ) -> MockRequest:
        """A request from any header collection (a mapping or pairs)."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        return cls(method, path, tuple((str(k), str(v)) for k, v in pairs), body)

    def lowered_headers(self) -> dict[str, str]:
        """Lower-case names to values; repeated names joined with commas, as HTTP
        allows for list-valued fields."""
        lowered: dict[str, str] = {}
        for name, value in self.headers:
            key = name.lower()
            lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
        return lowered


@dataclass(frozen=True)
class MockResponse:
    """What the mock answers: status, headers, body, and the latency the I/O layer
    adds before sending it.

    ``delay`` is applied by the way in (an ``await asyncio.sleep`` in the server and
    the async transport, ``time.sleep`` in the sync transport) rather than by the
    core, so the core never blocks and a slow answer never holds up another
    connection. ``operation`` names the Comprehend Medical operation, when there is one.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    delay: float = 0.0
    operation: str | None = None


class RequestHandler(Protocol):
    """Something that answers a request: the whole contract between the mock's
    ways in and what sits behind them. It must not do I/O or sleep (see
    ``MockResponse.delay``); it may be called from several threads at once."""

    def handle_request(self, request: MockRequest) -> MockResponse: ...
