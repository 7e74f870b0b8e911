"""EXPERIMENT: cmclient's sans-I/O core over a bare HTTP/1.1 pool, without httpx.

``H11Pool.request`` is a bare keep-alive pool on asyncio streams and h11: method, URL
parts, header pairs and body in; status, headers and body out. ``DirectAsyncClient``
drives cmclient's core with it, skipping httpx altogether, to size what dropping httpx
from the async path could gain. (The httpx transport this prototype started as is now
``cmclient._http.async_pool.AsyncPoolTransport``.)

Limits of the prototype: http only (no TLS; an ``ssl.SSLContext`` passed to
``asyncio.open_connection`` would add it), whole bodies in memory (Comprehend Medical
answers are small JSON documents), one timeout for the whole exchange, no proxies.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from datetime import datetime, timezone
from typing import Any

import h11
import httpx

_timeout = getattr(asyncio, "timeout", None)


class _Connection:
    __slots__ = ("h11", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)

    def reusable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class H11Pool:
    """At most ``max_connections`` connections to one origin (host, port)."""

    def __init__(self, host: str, port: int, max_connections: int = 100) -> None:
        self.host, self.port = host, port
        self._idle: collections.deque[_Connection] = collections.deque()
        self._slots = asyncio.Semaphore(max_connections)

    async def request(
        self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes,
        timeout: float | None = None,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        async with self._slots:
            conn = None
            while self._idle:
                candidate = self._idle.pop()
                if candidate.reusable():
                    conn = candidate
                    break
                candidate.close()
            if conn is None:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                conn = _Connection(reader, writer)
            try:
                if timeout is None:
                    result = await self._exchange(conn, method, target, headers, body)
                elif _timeout is not None:  # Python 3.11+: no extra task per request
                    async with _timeout(timeout):
                        result = await self._exchange(conn, method, target, headers, body)
                else:
                    result = await asyncio.wait_for(
                        self._exchange(conn, method, target, headers, body), timeout
                    )
            except BaseException:
                conn.close()
                raise
            if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
                conn.h11.start_next_cycle()
                self._idle.append(conn)
            else:
                conn.close()
            return result

    @staticmethod
    async def _exchange(
        conn: _Connection, method: bytes, target: bytes,
        headers: list[tuple[bytes, bytes]], body: bytes,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        h = conn.h11
        conn.writer.write(
            h.send(h11.Request(method=method, target=target, headers=headers))  # type: ignore[operator]
            + h.send(h11.Data(data=body))  # type: ignore[operator]
            + h.send(h11.EndOfMessage())  # type: ignore[operator]
        )
        status = 0
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                data = await conn.reader.read(65536)
                h.receive_data(data)
            elif isinstance(event, h11.Response):
                status, response_headers = event.status_code, list(event.headers)
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return status, response_headers, b"".join(chunks)
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("connection closed mid-response")

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()


class DirectAsyncClient:
    """cmclient's sans-I/O core driven over ``H11Pool``, without httpx: what an own
    transport inside ``AsyncComprehendMedical`` could reach. Describe calls only."""

    def __init__(self, endpoint_url: str, credentials: Any, region: str, pool: int) -> None:
        from cmclient._generated import operations as _operations
        from cmclient._protocol.call import ClientCore

        self._core = ClientCore(region=region, endpoint_url=endpoint_url, credentials=credentials)
        self._op = _operations.DESCRIBE_ENTITIES_DETECTION_V2_JOB
        url = httpx.URL(self._core.url)
        self._pool = H11Pool(url.host, url.port or 80, pool)
        self._host = url.netloc
        self._target = url.raw_path

    async def describe_entities_detection_v2_job(self, *, job_id: str) -> Any:
        from cmclient._protocol import awsjson as _protocol

        call = self._core.prepare(self._op, {"job_id": job_id})
        credentials = await self._core.credentials.aload()
        signed = self._core.sign(call, credentials, datetime.now(timezone.utc))
        headers = [(b"Host", self._host), (b"Content-Length", str(len(call.body)).encode())]
        headers += [(k.encode(), v.encode()) for k, v in signed.items()]
        status, raw_headers, body = await self._pool.request(
            b"POST", self._target, headers, call.body
        )
        return _protocol.parse_response(self._op, status, httpx.Headers(raw_headers), body)

    async def aclose(self) -> None:
        await self._pool.aclose()
