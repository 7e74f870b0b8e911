"""The S3 drivers' I/O shell on httpx's MockTransport: retries on the project's policy
(SlowDown, 503, InternalError), credentials reloaded after ExpiredToken, re-signing
after clock skew, transport failures, and the same behaviour sync and async. The
mock's handler answers in-process here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from cmclient import errors
from cmclient._async.s3 import AsyncS3
from cmclient._protocol.retry import RetryConfig, RetryPolicy
from cmclient._protocol.s3_endpoint import S3Endpoint
from cmclient._sync.s3 import S3
from cmclient.credentials import Credentials
from cmclient.testing._s3 import S3Store, handle_s3

ENDPOINT = S3Endpoint("http://s3.mock.test", "us-east-1", configured=True)
CREDS = Credentials("AKIDDRIVER", "driver-secret")


def no_wait_policy(max_attempts: int = 3) -> RetryPolicy:
    return RetryPolicy(RetryConfig(max_attempts=max_attempts, backoff_base=0.0,
                                   backoff_cap=0.0))


def handler_for(store: S3Store, now: Callable[[], datetime] | None = None,
                secret: str = "driver-secret") -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        status, headers, body = handle_s3(
            store, request.method, request.url.raw_path.decode().split("?")[0],
            request.url.query.decode(), {k.lower(): v for k, v in request.headers.items()},
            request.content, verify=True, credentials={"AKIDDRIVER": secret},
            now=None if now is None else now())
        return httpx.Response(status, headers=headers, content=body)
    return answer


def scripted(*answers: tuple[int, bytes], then: Callable[[httpx.Request], httpx.Response]
             ) -> tuple[Callable[[httpx.Request], httpx.Response], list[str]]:
    queue = list(answers)
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["amz-sdk-request"])
        if queue:
            status, body = queue.pop(0)
            return httpx.Response(status, headers={"x-amz-request-id": "R"}, content=body)
        return then(request)
    return answer, seen


def xml_error(code: str) -> bytes:
    return f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()


@pytest.mark.parametrize("code,status", [("SlowDown", 503), ("InternalError", 500),
                                         ("ServiceUnavailable", 503), ("RequestTimeout", 400)])
def test_transient_and_throttling_errors_are_retried(code: str, status: int) -> None:
    store = S3Store()
    store.put("b", "k", b"v")
    answer, seen = scripted((status, xml_error(code)), (status, xml_error(code)),
                            then=handler_for(store))
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        s3 = S3(http, endpoint=ENDPOINT, credentials=CREDS, retry=no_wait_policy())
        assert s3.get_object("b", "k").body == b"v"
    assert seen == ["attempt=1; max=3", "attempt=2; max=3", "attempt=3; max=3"]


def test_retries_stop_at_max_attempts_and_say_so() -> None:
    answer, seen = scripted(*[(503, xml_error("SlowDown"))] * 5, then=handler_for(S3Store()))
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        s3 = S3(http, endpoint=ENDPOINT, credentials=CREDS, retry=no_wait_policy(2))
        with pytest.raises(errors.SlowDown) as caught:
            s3.put_object("b", "k", b"v")
    assert len(seen) == 2 and caught.value.attempts == 2
    assert caught.value.response["ResponseMetadata"]["MaxAttemptsReached"] is True
    assert "reached max retries: 1" in str(caught.value)


def test_fatal_errors_are_not_retried() -> None:
    answer, seen = scripted((403, xml_error("AccessDenied")), then=handler_for(S3Store()))
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        s3 = S3(http, endpoint=ENDPOINT, credentials=CREDS, retry=no_wait_policy())
        with pytest.raises(errors.AccessDenied):
            s3.get_object("b", "k")
    assert len(seen) == 1


class CountingProvider:
    def __init__(self) -> None:
        self.loads = 0
        self.invalidated = 0

    def load(self) -> Credentials:
        self.loads += 1
        return Credentials("AKIDDRIVER", "stale" if self.loads == 1 else "driver-secret",
                           session_token=f"token-{self.loads}")

    async def aload(self) -> Credentials:
        return self.load()

    def invalidate(self) -> None:
        self.invalidated += 1


def test_an_expired_token_reloads_the_credentials_once() -> None:
    store = S3Store()
    store.put("b", "k", b"v")
    answer, _seen = scripted((400, xml_error("ExpiredToken")), then=handler_for(store))
    provider = CountingProvider()
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        s3 = S3(http, endpoint=ENDPOINT, credentials=provider, retry=no_wait_policy(1))
        assert s3.get_object("b", "k").body == b"v"
    assert (provider.loads, provider.invalidated) == (2, 1)


def test_clock_skew_is_corrected_from_the_date_header() -> None:
    store = S3Store()
    store.put("b", "k", b"v")

    def server_now() -> datetime:
        return datetime.now(timezone.utc) + timedelta(hours=2)

    with httpx.Client(transport=httpx.MockTransport(handler_for(store, server_now))) as http:
        s3 = S3(http, endpoint=ENDPOINT, credentials=CREDS, retry=no_wait_policy(1))
        assert s3.get_object("b", "k").body == b"v"
        assert abs(s3.clock_offset - 7200) < 5
        assert s3.get_object("b", "k").body == b"v"  # later calls keep the offset


def test_transport_failures_are_cmclient_errors_and_retried() -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        s3 = S3(http, endpoint=ENDPOINT, credentials=CREDS, retry=no_wait_policy(2))
        with pytest.raises(errors.EndpointConnectionError) as caught:
            s3.head_object("b", "k")
    assert calls == 2 and "HeadObject" in str(caught.value)


def test_the_async_driver_does_the_same() -> None:
    store = S3Store()
    answer, seen = scripted((503, xml_error("SlowDown")), then=handler_for(store))

    async def run() -> list[str]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            s3 = AsyncS3(http, endpoint=ENDPOINT, credentials=CREDS, retry=no_wait_policy())
            await s3.put_object("b", "dir/k", b"async")
            assert (await s3.get_object("b", "dir/k")).body == b"async"
            keys: list[str] = []
            async for page in s3.list_pages("b", prefix="dir/"):
                keys += [o.key for o in page.objects]
            await s3.delete_object("b", "dir/k")
            with pytest.raises(errors.NoSuchKey):
                await s3.head_object("b", "dir/k")
            return keys

    assert asyncio.run(run()) == ["dir/k"]
    assert seen[:2] == ["attempt=1; max=3", "attempt=2; max=3"]


def test_nothing_secret_reaches_the_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    store = S3Store()
    answer, _seen = scripted((503, xml_error("SlowDown")), then=handler_for(store))
    caplog.set_level("DEBUG", logger="cmclient.s3")
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        s3 = S3(http, endpoint=ENDPOINT, credentials=Credentials("AKIDDRIVER", "driver-secret",
                                                                 "SESSIONTOKEN"),
                retry=no_wait_policy())
        s3.put_object("b", "patients/jane-doe.txt", b"Jane Doe has diabetes")
    text = caplog.text
    assert "PutObject" in text and "SlowDown" in text
    for secret in ("driver-secret", "SESSIONTOKEN", "Jane", "jane-doe", "Signature="):
        assert secret not in text
