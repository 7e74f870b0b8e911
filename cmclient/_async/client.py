"""``AsyncComprehendMedical``: the asynchronous driver. It does the I/O; ``ClientCore``
decides. ``_async_client.py`` is the source: ``tools/unasync.py`` writes ``_client.py``
from it, so the two drivers cannot drift apart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

import httpx

from cmclient import errors
from cmclient._async.batch import AsyncBatch
from cmclient._async.documents import AsyncDocuments
from cmclient._generated.async_api import AsyncOperations
from cmclient._http.body import DEFAULT_MAX_RESPONSE_BYTES, BoundedBody
from cmclient._http.client import (
    DEFAULT_CALL_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
    abounded,
    as_timeout,
    asend,
    asleep,
    async_http_client,
    call_timeout_error,
    longest,
    transport_error,
    within,
)
from cmclient._http.rules import DEADLINE
from cmclient._http.tls import Verify, ca_bundle, tls_context
from cmclient._protocol.call import ClientCore, PreparedCall, logger
from cmclient._protocol.operation import Operation, OutputT
from cmclient._protocol.quota import DEFAULT_QUOTAS, Quota
from cmclient._protocol.retry import Action, CallState, RetryPolicy, resolve_retry_config
from cmclient.credentials import CredentialProvider, Credentials


class AsyncComprehendMedical(AsyncBatch, AsyncDocuments, AsyncOperations):
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
        profile: str | None = None,
        use_fips: bool | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        call_timeout: float | None = DEFAULT_CALL_TIMEOUT,
        retry_mode: str | None = None,
        max_attempts: int | None = None,
        retry_backoff_base: float | None = None,
        retry_backoff_cap: float | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        verify: Verify | None = None,
        http_client: httpx.AsyncClient | None = None,
        quotas: Mapping[str, Quota | None] | None = DEFAULT_QUOTAS,
        s3_endpoint_url: str | None = None,
    ) -> None:
        """``region``, ``endpoint_url`` and ``credentials`` default to what the AWS SDKs
        find: AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_COMPREHENDMEDICAL /
        AWS_ENDPOINT_URL, then the ``profile`` (else AWS_PROFILE, else ``default``) in
        ~/.aws/config; credentials from the environment, web identity, the profile
        (keys, credential_process, assumed roles), container or EC2 instance metadata,
        looked up at the first call and refreshed before they expire. ``use_fips``
        selects the FIPS endpoint.

        ``timeout`` (seconds, or an ``httpx.Timeout``) limits connecting, each read,
        each write and the wait for a pooled connection, per attempt. ``call_timeout``
        limits the whole call, every attempt and backoff included (``None``: no limit).
        ``retry_mode`` (``standard`` or ``adaptive``) and ``max_attempts`` (1 = no
        retries) default to AWS_RETRY_MODE and AWS_MAX_ATTEMPTS, then to ``standard``
        and 3. Backoff before retry ``n`` is ``random() * min(retry_backoff_base *
        2 ** (n - 1), retry_backoff_cap)`` seconds (base 1, cap 20). ``max_connections``
        sizes the connection pool (ignored with a caller's ``http_client``).

        ``max_response_bytes`` caps a response body once decoded (default 16 MiB):
        past it the call raises ``ResponseTooLargeError`` and drops the connection.
        ``verify`` is ``True`` (verify against AWS_CA_BUNDLE, else the profile's
        ``ca_bundle``, else the default CA bundle), ``False`` (do not verify), a CA
        bundle's path, or an ``ssl.SSLContext`` (ignored with a caller's
        ``http_client``, which brings its own).

        ``quotas`` maps method names to ``cmclient.Quota`` (transactions and characters
        per second; ``None`` lifts one operation's limit): every call waits for its
        slot, so a client stays under the account's quota rather than running into
        it. Operations not named keep the documented defaults; ``quotas=None``
        switches the limiter off.

        ``s3_endpoint_url`` is where the batch methods (``upload_documents``,
        ``job_results``, ``run_batch``) send S3 requests, path-style; by default S3's
        endpoint is found as the SDKs find it (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
        the profile's ``services`` section, else ``https://s3.{region}.amazonaws.com``).
        """
        self._init_documents(quotas)  # first: a bad quotas= fails before any set-up
        self._core = ClientCore(
            region=region, endpoint_url=endpoint_url, credentials=credentials,
            profile=profile, use_fips=use_fips,
        )
        self._retry = RetryPolicy(resolve_retry_config(
            retry_mode=retry_mode, max_attempts=max_attempts, backoff_base=retry_backoff_base,
            backoff_cap=retry_backoff_cap, environ=os.environ, profile=self._core.config.settings,
        ))
        self._timeout = as_timeout(timeout)
        self._longest_timeout = longest(self._timeout)
        if call_timeout is not None and call_timeout <= 0:
            raise errors.ConfigurationError("call_timeout must be a positive number of seconds")
        self._call_timeout = call_timeout
        if max_response_bytes < 1:
            raise errors.ConfigurationError("max_response_bytes must be at least 1")
        self._max_response_bytes = max_response_bytes
        self._owns_http = http_client is None
        self._own_transport: httpx.AsyncBaseTransport | None = None
        if http_client is None:
            http_client, self._own_transport = async_http_client(
                self._timeout, max_connections, tls_context(
                    self._core.url, verify,
                    ca_bundle(os.environ, self._core.config.settings),
                )
            )
        self._http = http_client
        self._init_batch(s3_endpoint_url, verify=verify, max_connections=max_connections)

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
        await self._admit(operation, params)  # counted once per call; paced to the quota
        state = self._retry.begin()
        if self._call_timeout is None:
            return await self._attempts(call, state, None)
        with abounded(self._call_timeout, operation.name, state):  # unasync: unwrap
            return await self._attempts(call, state, time.monotonic() + self._call_timeout)

    async def _attempts(
        self, call: PreparedCall[OutputT], state: CallState, deadline: float | None
    ) -> OutputT:
        """Attempt the call until it succeeds or the retry policy says stop. Every
        attempt is signed afresh over the same prepared body."""
        retry = self._retry
        core = self._core
        credentials = await core.credentials.aload()
        while True:
            delay = retry.before_attempt()
            if delay:
                await self._pause(delay, call, state, deadline, None)
            timeout = self._timeout
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining < self._longest_timeout:
                    if remaining <= 0:
                        raise call_timeout_error(
                            call.operation.name, self._call_timeout, state.attempt - 1
                        )
                    timeout = within(timeout, remaining)
            headers = core.sign(
                call, credentials, datetime.now(timezone.utc),
                attempt=state.attempt, max_attempts=retry.max_attempts,
            )
            started = time.monotonic()
            try:
                response, body = await self._send(call, headers, timeout, deadline, state)
                result = core.finish(
                    call, response, attempt=state.attempt,
                    latency=time.monotonic() - started, body=body,
                )
            except (errors.ServiceError, errors.HTTPClientError, errors.ResponseParseError) as exc:
                decision = retry.after_error(state, exc, time.time(), call.operation.name, logger)
                if decision.action is Action.REFRESH:
                    core.credentials.invalidate()
                    credentials = await core.credentials.aload()
                elif decision.action is Action.RESIGN:
                    core.clock_offset = decision.clock_offset
                await self._pause(decision.delay, call, state, deadline, exc)
                continue
            retry.on_success(state)
            return result

    async def _pause(
        self,
        delay: float,
        call: PreparedCall[Any],
        state: CallState,
        deadline: float | None,
        cause: BaseException | None,
    ) -> None:
        """Wait ``delay`` seconds before the next attempt, unless that would end past
        the call's deadline: then fail now, with the call timeout."""
        if deadline is not None and time.monotonic() + delay >= deadline:
            raise call_timeout_error(
                call.operation.name, self._call_timeout, state.attempt - 1
            ) from cause
        if delay > 0:
            await asleep(delay)

    async def _send(
        self,
        call: PreparedCall[Any],
        headers: dict[str, str],
        timeout: httpx.Timeout,
        deadline: float | None,
        state: CallState,
    ) -> tuple[httpx.Response, bytes]:
        """One exchange: the response and its whole body, decoded within
        ``max_response_bytes`` (``BoundedBody``: httpx's own decoders inflate without
        limit). A deadline goes with the request (``DEADLINE``), for a transport that
        can stop every wait at it (the sync client's own pool), and it is checked after
        each piece of the body, so a slow trickle of bytes cannot outlast the call
        timeout through any transport."""
        request = self._http.build_request(
            "POST", call.url, content=call.body, headers=headers, timeout=timeout,
            extensions=None if deadline is None else {DEADLINE: deadline},
        )
        name = call.operation.name
        try:
            response = await asend(self._http, self._own_transport, request)
            try:
                body = BoundedBody(
                    self._max_response_bytes, response.headers.get("content-encoding", ""),
                    response.headers.get("content-length"), name,
                )
                if response.is_stream_consumed:  # read (and decoded) by a mock already
                    body.add_decoded(response.content)
                else:
                    async for piece in response.aiter_raw():
                        body.feed(piece)
                        if deadline is not None and time.monotonic() >= deadline:
                            raise call_timeout_error(name, self._call_timeout, state.attempt)
            finally:
                await response.aclose()
        except httpx.RequestError as exc:
            raise transport_error(exc, name, self._core.region_hint) from exc
        return response, body.result()

    async def aclose(self) -> None:
        await self._close_batch()
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

