"""Which way a request goes: a client cmclient built hands it straight to its own
transport; a caller's ``http_client``, and any client while respx mocks httpx, go
through ``client.send``, so the caller's hooks and the mocks see every request."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import respx

from cmclient import AsyncComprehendMedical, ComprehendMedical
from tests.conftest import CREDENTIALS, canned_response

JOB_ID = "5c9d7a1e0f3b4a2c8e6d1f7a9b3c5e2d"
DOCUMENT = "describe_entities_detection_v2_job/status_completed.json"
# Nothing listens here: a request that escaped a mock would fail to connect.
UNREACHABLE = "http://127.0.0.1:9/"


class _Describe(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"ComprehendMedicalAsyncJobProperties": {
            "JobId": JOB_ID, "JobStatus": "COMPLETED"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Describe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_own_client_goes_straight_to_its_transport(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_send(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("httpx.Client.send was used")

    monkeypatch.setattr(httpx.Client, "send", no_send)
    with ComprehendMedical(region="us-east-1", credentials=CREDENTIALS, endpoint_url=endpoint) as client:
        result = client.describe_entities_detection_v2_job(job_id=JOB_ID)
    assert result.comprehend_medical_async_job_properties is not None
    assert result.comprehend_medical_async_job_properties.job_status == "COMPLETED"


def test_callers_http_client_sends_through_its_hooks(endpoint: str) -> None:
    seen: list[str] = []

    def hook(request: httpx.Request) -> None:
        seen.append(request.headers["x-amz-target"])

    with httpx.Client(event_hooks={"request": [hook]}) as http, ComprehendMedical(
        region="us-east-1", credentials=CREDENTIALS, endpoint_url=endpoint, http_client=http
    ) as client:
        client.describe_entities_detection_v2_job(job_id=JOB_ID)
    assert seen == ["ComprehendMedical_20181030.DescribeEntitiesDetectionV2Job"]


def test_async_callers_http_client_sends_through_its_hooks(endpoint: str) -> None:
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.headers["x-amz-target"])

    async def main() -> None:
        async with httpx.AsyncClient(event_hooks={"request": [hook]}) as http:
            client = AsyncComprehendMedical(
                region="us-east-1", credentials=CREDENTIALS, endpoint_url=endpoint,
                http_client=http,
            )
            await client.describe_entities_detection_v2_job(job_id=JOB_ID)

    asyncio.run(main())
    assert seen == ["ComprehendMedical_20181030.DescribeEntitiesDetectionV2Job"]


@pytest.mark.parametrize("using", ["httpcore", "httpx"])
def test_respx_intercepts_the_sync_client_in_either_mode(using: str) -> None:
    with respx.mock(using=using, assert_all_called=True) as mock, ComprehendMedical(
        region="us-east-1", credentials=CREDENTIALS, endpoint_url=UNREACHABLE, max_attempts=1
    ) as client:
        route = mock.post(UNREACHABLE).mock(return_value=canned_response(DOCUMENT))
        client.describe_entities_detection_v2_job(job_id=JOB_ID)
    assert route.call_count == 1


@pytest.mark.parametrize("using", ["httpcore", "httpx"])
def test_respx_intercepts_the_async_client_in_either_mode(using: str) -> None:
    async def main() -> int:
        with respx.mock(using=using, assert_all_called=True) as mock:
            route = mock.post(UNREACHABLE).mock(return_value=canned_response(DOCUMENT))
            async with AsyncComprehendMedical(
                region="us-east-1", credentials=CREDENTIALS, endpoint_url=UNREACHABLE,
                max_attempts=1,
            ) as client:
                await client.describe_entities_detection_v2_job(job_id=JOB_ID)
            return route.call_count

    assert asyncio.run(main()) == 1
