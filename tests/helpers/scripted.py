"""A scripted httpx transport: answers requests from a list, records what was sent."""

from __future__ import annotations

import json
from typing import Any

import httpx

from cmclient import AsyncComprehendMedical, ComprehendMedical
from tests.conftest import CREDENTIALS


class Script:
    """Its clients make one attempt per call, so a scripted error reaches the caller.

    Each request takes the next (status, body) from ``replies``; ``requests`` keeps
    the decoded JSON bodies with their X-Amz-Target."""

    def __init__(self, replies: list[tuple[int, dict[str, Any]]]) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(
            (request.headers["x-amz-target"].split(".")[-1], json.loads(request.content))
        )
        if not self.replies:
            raise AssertionError("the client sent more requests than the script has replies")
        status, body = self.replies.pop(0)
        return httpx.Response(status, json=body, headers={"x-amzn-RequestId": "req-script"})

    def sync_client(self) -> ComprehendMedical:
        http = httpx.Client(transport=httpx.MockTransport(self))
        return ComprehendMedical(region="us-east-1", credentials=CREDENTIALS, http_client=http,
                                 max_attempts=1)

    def async_client(self) -> AsyncComprehendMedical:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return AsyncComprehendMedical(region="us-east-1", credentials=CREDENTIALS,
                                      http_client=http, max_attempts=1)


def job(status: str, job_id: str = "job-1", **extra: Any) -> tuple[int, dict[str, Any]]:
    """A 200 Describe reply for a job in ``status``."""
    props = {"JobId": job_id, "JobStatus": status, "SubmitTime": 1732790400, **extra}
    return 200, {"ComprehendMedicalAsyncJobProperties": props}


def throttled() -> tuple[int, dict[str, Any]]:
    return 400, {"__type": "TooManyRequestsException", "message": "Rate exceeded"}
