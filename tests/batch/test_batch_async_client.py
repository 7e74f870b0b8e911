"""The batch methods of the async client, end to end against the mock over its
loopback server (as a deployed client would reach AWS), and where each client sends
S3's requests."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from cmclient import AsyncComprehendMedical, ComprehendMedical, Credentials, errors, models
from cmclient.testing import ComprehendMedicalMock

KEY, SECRET = "AKIDBATCHASYNC", "batch-async-secret"
ROLE = "arn:aws:iam::123456789012:role/ComprehendMedicalS3"
ROOT = Path(__file__).resolve().parents[2]
NOTES = {
    "a.txt": "Pt is a 64 y/o male with hypertension. Started lisinopril 10 mg PO daily.",
    "b.txt": "Mr. John Smith takes aspirin 81 mg daily. Denies chest pain.",
    "c/d.txt": "History of pneumonia and type 2 diabetes; metformin 500 mg BID.",
}


def test_async_run_batch_end_to_end_over_the_loopback_server() -> None:
    mock = ComprehendMedicalMock(credentials={KEY: SECRET}, job_duration=0.2,
                                 queue_seconds=0.1)
    long = "Lisinopril 10 mg daily for hypertension. Denies chest pain.\n\n" * 800

    async def run(url: str) -> tuple[Any, dict[str, Any], list[Any]]:
        async with AsyncComprehendMedical(
            region="us-east-1", endpoint_url=url, s3_endpoint_url=url, quotas=None,
            credentials=Credentials(KEY, SECRET),
        ) as client:
            output = await client.run_batch(
                {**NOTES, "long.txt": long}, kind="entities-v2", bucket="async-notes",
                input_prefix="in/", output_prefix="out/", data_access_role_arn=ROLE,
                poll_interval=0.05, timeout=20)
            results = {r.input_name: r.result async for r in output.iter_results()}
            real_time = [await client.detect_entities_v2(text=text) for text in NOTES.values()]
            again = await client.job_results(output.job_id, kind="entities-v2",
                                             max_concurrency=1)
            assert [r.input_name async for r in again.iter_results()] == sorted(results)
            return output, results, real_time

    with mock.serve() as url:
        output, results, real_time = asyncio.run(run(url))
    assert output.status == "COMPLETED" and output.unprocessed == []
    assert sorted(results) == sorted([*NOTES, "long.txt"])
    assert [results[name] for name in NOTES] == real_time
    joined = results["long.txt"]
    assert isinstance(joined, models.DetectEntitiesV2Response)
    assert all(long[e.begin_offset:e.end_offset] == e.text for e in joined.entities)
    assert max(e.begin_offset for e in joined.entities) > 40_000


def test_async_upload_problems_and_unfinished_jobs() -> None:
    mock = ComprehendMedicalMock(credentials={KEY: SECRET})

    async def run() -> None:
        async with AsyncComprehendMedical(
            region="us-east-1", endpoint_url="https://comprehendmedical.us-east-1.amazonaws.com",
            s3_endpoint_url="https://comprehendmedical.us-east-1.amazonaws.com",
            credentials=Credentials(KEY, SECRET), quotas=None,
            http_client=httpx.AsyncClient(transport=mock.transport()),
        ) as client:
            with pytest.raises(errors.ParamValidationError, match="UTF-8"):
                await client.upload_documents([("x.txt", b"\xff")], bucket="notes-in",
                                              prefix="in/")
            config = await client.upload_documents(NOTES, bucket="notes-in", prefix="in")
            assert config.s3_key == "in/"
            started = await client.start_phi_detection_job(
                input_data_config=config, output_data_config={"S3Bucket": "notes-in",
                                                              "S3Key": "out/"},
                data_access_role_arn=ROLE, language_code="en")
            with pytest.raises(errors.JobNotFinishedError) as caught:
                await client.job_results(started.job_id or "", kind="phi")
            assert caught.value.status == "SUBMITTED"

    asyncio.run(run())
    assert mock.s3.store.keys("notes-in") == [f"in/{name}" for name in sorted(NOTES)]


# --- where S3's requests go ----------------------------------------------------------------

def test_s3_endpoint_from_the_argument_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    creds = Credentials(KEY, SECRET)
    with ComprehendMedical(region="eu-west-1", credentials=creds) as client:
        s3 = client._s3()
        assert s3.endpoint.url == "https://s3.eu-west-1.amazonaws.com"
        assert not s3.endpoint.configured
        assert client._s3() is s3  # built once
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
    with ComprehendMedical(region="eu-west-1", credentials=creds) as client:
        assert client._s3().endpoint.url == "http://127.0.0.1:9000"
    with ComprehendMedical(region="eu-west-1", credentials=creds,
                           s3_endpoint_url="http://localhost:4566/") as client:
        endpoint = client._s3().endpoint
        assert endpoint.url == "http://localhost:4566" and endpoint.use_path_style("notes")


def test_s3_gets_its_own_pool_when_its_scheme_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    creds = Credentials(KEY, SECRET)
    with ComprehendMedical(region="us-east-1", credentials=creds,
                           endpoint_url="http://127.0.0.1:1") as client:
        s3 = client._s3()  # S3's own endpoint is https: not the service's http pool
        assert s3._http is not client._http and client._cm_s3_http is s3._http
    assert s3._http.is_closed  # closed with the client
    with ComprehendMedical(region="us-east-1", credentials=creds,
                           endpoint_url="http://127.0.0.1:1",
                           s3_endpoint_url="http://127.0.0.1:2") as client:
        assert client._s3()._http is client._http  # same scheme: one pool
    with httpx.Client() as http, ComprehendMedical(
            region="us-east-1", credentials=creds, endpoint_url="http://127.0.0.1:1",
            http_client=http) as client:
        assert client._s3()._http is http  # a caller's client serves both schemes

    async def run() -> None:
        async with AsyncComprehendMedical(region="us-east-1", credentials=creds,
                                          endpoint_url="http://127.0.0.1:1") as client:
            s3 = client._s3()
            assert s3._http is not client._http
        assert s3._http.is_closed

    asyncio.run(run())


def test_a_cold_call_loads_no_batch_machinery() -> None:
    # The mixin comes with the client; what it needs is imported when it is used.
    program = """
import json, sys
import httpx
from cmclient import ComprehendMedical, Credentials

def handler(request):
    return httpx.Response(200, json={"ComprehendMedicalAsyncJobProperties": {
        "JobId": "1", "JobStatus": "SUBMITTED"}},
        headers={"Content-Type": "application/x-amz-json-1.1"})

with httpx.Client(transport=httpx.MockTransport(handler)) as http:
    ComprehendMedical(region="us-east-1", credentials=Credentials("A", "B"),
                      http_client=http).describe_phi_detection_job(job_id="1")
print(json.dumps(sorted(m for m in sys.modules if m.startswith("cmclient"))))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "cmclient._sync.batch" in loaded
    assert not {m for m in loaded if m.startswith(("cmclient._protocol.batch", "cmclient._s3",
                                                   "cmclient._fanout"))}
