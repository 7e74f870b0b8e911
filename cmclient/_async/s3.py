"""The asynchronous S3 driver. It sends, reads and sleeps; every decision (what to
send, how to sign it, what the answer means, whether to try again) is made by
``cmclient._protocol.s3`` and ``cmclient._protocol.retry``. async_client.py is the source and
sync_client.py its twin, written from it by tools/unasync.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import httpx

from cmclient import errors
from cmclient._http.client import asend, asleep, transport_error
from cmclient._protocol import s3 as protocol
from cmclient._protocol.retry import Action, RetryConfig, RetryPolicy
from cmclient._protocol.s3 import ListPage, ObjectHead, PutObjectResult, S3Object
from cmclient._protocol.s3_endpoint import S3Endpoint
from cmclient.credentials import CredentialProvider, Credentials, StaticProvider

__all__ = ["AsyncS3"]

T = TypeVar("T")
logger = logging.getLogger("cmclient.s3")


class AsyncS3:
    """An asynchronous client for the S3 object operations the batch path needs.

    It borrows everything from its owner: the ``httpx.AsyncClient`` (and, when the
    owner has one, its own pool transport, to send through directly), the credential
    provider, the retry policy (the SDKs' standard or adaptive rules: ``SlowDown``
    and 503 are retried with backoff, an expired token reloads the credentials, a
    clock-skew rejection re-signs with the server's time). It closes nothing: the
    owner closes the HTTP client.

    Log lines name the operation, the status and the error code, never a key, a body
    or a header value.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        endpoint: S3Endpoint,
        credentials: Credentials | CredentialProvider,
        retry: RetryPolicy | None = None,
        timeout: float | httpx.Timeout | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``retry`` defaults to a policy of its own with the standard settings;
        ``timeout`` (per attempt) defaults to the HTTP client's; ``transport`` is the
        HTTP client's own pool, when the caller built the client around one."""
        self._http = http
        self._transport = transport
        self.endpoint = endpoint
        self._credentials: CredentialProvider = (
            StaticProvider(credentials) if isinstance(credentials, Credentials) else credentials
        )
        self._retry = retry if retry is not None else RetryPolicy(RetryConfig())
        self._timeout: httpx.Timeout | None = (
            None if timeout is None
            else timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        )
        #: Seconds added to the local clock when signing, learnt from a clock-skew
        #: rejection's Date header and kept for later calls.
        self.clock_offset = 0.0

    @property
    def region(self) -> str:
        return self.endpoint.region

    # --- the operations ---------------------------------------------------------

    async def put_object(
        self, bucket: str, key: str, body: bytes, *, content_type: str | None = None
    ) -> PutObjectResult:
        return await self._call(
            protocol.put_object(self.endpoint, bucket, key, body, content_type=content_type))

    async def get_object(self, bucket: str, key: str) -> S3Object:
        """The whole object. ``NoSuchKey`` when it does not exist."""
        return await self._call(protocol.get_object(self.endpoint, bucket, key))

    async def head_object(self, bucket: str, key: str) -> ObjectHead:
        """The object's metadata. ``NoSuchKey`` when it does not exist."""
        return await self._call(protocol.head_object(self.endpoint, bucket, key))

    async def delete_object(self, bucket: str, key: str) -> None:
        await self._call(protocol.delete_object(self.endpoint, bucket, key))

    async def list_objects_v2(
        self,
        bucket: str,
        *,
        prefix: str | None = None,
        continuation_token: str | None = None,
        start_after: str | None = None,
        max_keys: int | None = None,
        delimiter: str | None = None,
    ) -> ListPage:
        """One page of a listing (see ``list_pages`` for all of them)."""
        return await self._call(protocol.list_objects_v2(
            self.endpoint, bucket, prefix=prefix, continuation_token=continuation_token,
            start_after=start_after, max_keys=max_keys, delimiter=delimiter,
        ))

    async def list_pages(
        self,
        bucket: str,
        *,
        prefix: str | None = None,
        start_after: str | None = None,
        delimiter: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[ListPage]:
        """Every page of a listing, fetched one after the other as they are consumed
        (a listing of millions of keys is never held whole). Each page's ``objects``
        are in key order; with a ``delimiter``, ``common_prefixes`` are the folders."""
        cursor = protocol.ListCursor(
            self.endpoint, bucket, prefix=prefix, start_after=start_after,
            delimiter=delimiter, page_size=page_size,
        )
        while True:
            call = cursor.next_call()
            if call is None:
                return
            page = await self._call(call)
            cursor.feed(page)
            yield page

    # --- one call, with retries -------------------------------------------------

    async def _call(self, call: protocol.S3Call[T]) -> T:
        retry = self._retry
        state = retry.begin()
        credentials = await self._credentials.aload()
        while True:
            delay = retry.before_attempt()
            if delay:
                await asleep(delay)
            now = datetime.now(timezone.utc)
            if self.clock_offset:
                now += timedelta(seconds=self.clock_offset)
            headers = protocol.sign(call, credentials, region=self.endpoint.region, timestamp=now)
            headers["amz-sdk-request"] = f"attempt={state.attempt}; max={retry.max_attempts}"
            try:
                status, response_headers, body = await self._send(call, headers)
                result = call.parse(status, response_headers, body,
                                    retry_attempts=state.attempt - 1)
            except (errors.ServiceError, errors.HTTPClientError, errors.ResponseParseError) as exc:
                decision = retry.after_error(state, exc, time.time(), call.operation, logger)
                if decision.action is Action.REFRESH:
                    self._credentials.invalidate()
                    credentials = await self._credentials.aload()
                elif decision.action is Action.RESIGN:
                    self.clock_offset = decision.clock_offset
                if decision.delay > 0:
                    await asleep(decision.delay)
                continue
            retry.on_success(state)
            return result

    async def _send(
        self, call: protocol.S3Call[Any], headers: dict[str, str]
    ) -> tuple[int, httpx.Headers, bytes]:
        """One exchange: status, headers and the whole body."""
        extra: dict[str, Any] = {} if self._timeout is None else {"timeout": self._timeout}
        request = self._http.build_request(
            call.method, call.url, headers=headers,
            content=call.body if call.method == "PUT" else None, **extra,
        )
        started = time.monotonic()
        try:
            response = await asend(self._http, self._transport, request)
            try:
                body = await response.aread()
            finally:
                await response.aclose()
        except httpx.RequestError as exc:
            raise transport_error(exc, call.operation) from exc
        logger.debug(
            "%s status=%s request_id=%s latency_ms=%.1f", call.operation, response.status_code,
            response.headers.get("x-amz-request-id"), (time.monotonic() - started) * 1000,
        )
        return response.status_code, response.headers, body
