"""Each retry is logged at DEBUG with the error code and the wait, and nothing secret."""

from __future__ import annotations

import logging

import httpx
import pytest

from cmclient import ComprehendMedical, Credentials


def test_a_throttled_attempt_is_logged_with_its_code_and_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    replies = [
        httpx.Response(400, json={"__type": "TooManyRequestsException", "message": "slow down"}),
        httpx.Response(200, json={"Entities": [], "ModelVersion": "1"}),
    ]
    http = httpx.Client(transport=httpx.MockTransport(lambda request: replies.pop(0)))
    client = ComprehendMedical(region="us-east-1", credentials=Credentials("AKID", "SECRETKEY"),
                               http_client=http, retry_backoff_base=0.001)
    with caplog.at_level(logging.DEBUG, logger="cmclient"):
        client.detect_phi(text="Patient John Smith")
    retry_lines = [r.getMessage() for r in caplog.records if "next attempt" in r.getMessage()]
    assert len(retry_lines) == 1
    assert "DetectPHI attempt=1 failed (TooManyRequestsException): retry" in retry_lines[0]
    assert not any("SECRETKEY" in r.getMessage() or "John Smith" in r.getMessage()
                   for r in caplog.records)
