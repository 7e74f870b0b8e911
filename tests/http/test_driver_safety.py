"""What the drivers guarantee whatever the transport: a header that would split a
request is refused before any I/O, a redirect is never followed, a body is capped,
and a service's message cannot carry the request text into ``str(err)``."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import httpx
import pytest

from cmclient import AsyncComprehendMedical, ComprehendMedical, Credentials, errors
from tests.conftest import CREDENTIALS

URL = "https://comprehendmedical.us-east-1.amazonaws.com/"
EMPTY_LIST = {"ComprehendMedicalAsyncJobPropertiesList": []}


class Recorder:
    """A MockTransport handler answering from a script and recording what it got."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0)


def sync_client(handler: Recorder, **options: Any) -> ComprehendMedical:
    options.setdefault("credentials", CREDENTIALS)
    options.setdefault("max_attempts", 3)
    http = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True)
    return ComprehendMedical(region="us-east-1", http_client=http, **options)


@pytest.mark.parametrize("token", ["token\n", "tok\r\nX-Injected: 1", "tok\x00en"])
def test_a_session_token_that_would_split_the_request_is_refused_before_any_io(token: str) -> None:
    handler = Recorder()
    client = sync_client(handler, credentials=Credentials("AKID", "secret", token))
    with pytest.raises(errors.ConfigurationError) as caught:
        client.list_entities_detection_v2_jobs()
    assert handler.requests == []  # nothing sent, nothing retried
    message = str(caught.value)
    assert "x-amz-security-token" in message.lower() and "session token" in message
    assert "tok" not in message.replace("token", "")
    assert caught.value.__cause__ is None


def test_an_access_key_with_a_newline_is_refused_the_same_way() -> None:
    handler = Recorder()
    client = sync_client(handler, credentials=Credentials("AKID\n", "secret"))
    with pytest.raises(errors.ConfigurationError, match="Authorization header"):
        client.list_entities_detection_v2_jobs()
    assert handler.requests == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_an_error_even_through_a_client_that_follows_them(status: int) -> None:
    handler = Recorder(httpx.Response(status, headers={"Location": "https://elsewhere.example/"}))
    client = sync_client(handler, max_attempts=1)
    with pytest.raises(errors.ServiceError) as caught:
        client.detect_entities_v2(text="Patient denies chest pain.")
    assert caught.value.status_code == status
    assert [str(r.url) for r in handler.requests] == [URL]  # the other origin got nothing


def test_async_redirects_are_not_followed_either() -> None:
    handler = Recorder(httpx.Response(307, headers={"Location": "https://elsewhere.example/"}))

    async def call() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=True)
        async with AsyncComprehendMedical(region="us-east-1", credentials=CREDENTIALS,
                                          http_client=http, max_attempts=1) as client:
            await client.detect_entities_v2(text="Patient denies chest pain.")
        await http.aclose()

    with pytest.raises(errors.ServiceError) as caught:
        asyncio.run(call())
    assert caught.value.status_code == 307 and len(handler.requests) == 1


def test_a_body_over_max_response_bytes_is_refused_and_not_retried() -> None:
    body = json.dumps({**EMPTY_LIST, "pad": "x" * 5000}).encode()
    handler = Recorder(httpx.Response(200, content=body), httpx.Response(200, content=body))
    client = sync_client(handler, max_response_bytes=1000)
    with pytest.raises(errors.ResponseTooLargeError):
        client.list_entities_detection_v2_jobs()
    assert len(handler.requests) == 1


def test_a_compressed_body_is_capped_on_its_decoded_size() -> None:
    raw = gzip.compress(json.dumps({**EMPTY_LIST, "pad": " " * 50_000}).encode())
    assert len(raw) < 1000
    handler = Recorder(httpx.Response(200, content=raw, headers={"Content-Encoding": "gzip"}))
    client = sync_client(handler, max_response_bytes=20_000)
    with pytest.raises(errors.ResponseTooLargeError):
        client.list_entities_detection_v2_jobs()


def test_max_response_bytes_must_be_positive() -> None:
    with pytest.raises(errors.ConfigurationError, match="max_response_bytes"):
        ComprehendMedical(region="us-east-1", credentials=CREDENTIALS, max_response_bytes=0)


def test_a_service_message_echoing_the_text_is_capped_in_str_but_kept_in_response() -> None:
    note = "Mrs. Jane Doe, DOB 01/02/1950, " * 40
    message = f"1 validation error detected: Value '{note}' at 'text' failed to satisfy constraint"
    handler = Recorder(httpx.Response(
        400, json={"__type": "ValidationException", "message": message},
        headers={"x-amzn-RequestId": "req-1"}))
    client = sync_client(handler, max_attempts=1)
    with pytest.raises(errors.ValidationException) as caught:
        client.detect_entities_v2(text="x")
    err = caught.value
    assert len(err.message) == errors.ServiceError.MESSAGE_LIMIT
    assert note not in str(err) and "ValidationException" in str(err)
    assert err.status_code == 400 and err.request_id == "req-1"
    assert err.response["Error"]["Message"] == message
