"""What a cold process imports and builds for one call.

Each program runs in a fresh interpreter (``sys.executable``), so nothing another test
imported or built can hide a regression; the sync tests share one run. The program
makes one DescribeEntitiesDetectionV2Job call against an ``httpx.MockTransport`` and
prints, as JSON, what it found in ``sys.modules``, which pydantic models were built
and which of cmclient's classes are dataclasses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The models one DescribeEntitiesDetectionV2Job call touches: its request and response,
# and the structures nested in the response. These classes, and no other, are created.
DESCRIBE_MODELS = {
    "cmclient.models._describe_entities_detection_v2_job.DescribeEntitiesDetectionV2JobRequest",
    "cmclient.models._describe_entities_detection_v2_job.DescribeEntitiesDetectionV2JobResponse",
    "cmclient.models._job_properties.ComprehendMedicalAsyncJobProperties",
    "cmclient.models._job_config.InputDataConfig",
    "cmclient.models._job_config.OutputDataConfig",
}
MODEL_MODULES = {
    "cmclient.models",
    "cmclient.models._base",
    "cmclient.models._scalars",
    "cmclient.models._job_config",
    "cmclient.models._job_properties",
    "cmclient.models._describe_entities_detection_v2_job",
}

_PRELUDE = '''
import inspect, json, sys
import httpx

DOCUMENT = {"ComprehendMedicalAsyncJobProperties": {
    "JobId": "5c9d7a1e0f3b4a2c8e6d1f7a9b3c5e2d", "JobStatus": "COMPLETED",
    "SubmitTime": 1732790400.123, "EndTime": "2024-11-28T11:02:13Z",
    "InputDataConfig": {"S3Bucket": "in-bucket", "S3Key": "notes/"},
    "OutputDataConfig": {"S3Bucket": "out-bucket"}, "LanguageCode": "en",
    "DataAccessRoleArn": "arn:aws:iam::123456789012:role/cm", "ModelVersion": "2.0"}}
HEADERS = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "req-1"}


def report(result):
    from pydantic import BaseModel
    props = result.comprehend_medical_async_job_properties
    models = {}
    string_caches = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("cmclient.models") and module is not None:
            for attr, value in vars(module).items():
                if (inspect.isclass(value) and issubclass(value, BaseModel)
                        and value.__module__ == name):
                    models[f"{name}.{attr}"] = bool(value.__pydantic_complete__)
                    string_caches[f"{name}.{attr}"] = value.model_config.get("cache_strings", True)
    own = [(n, m) for n, m in list(sys.modules.items()) if n.startswith("cmclient") and m]
    print(json.dumps({
        "status": props.job_status.value,
        "bucket": props.input_data_config.s3_bucket,
        "asyncio": "asyncio" in sys.modules,
        "async_client": "cmclient._async.client" in sys.modules,
        "modules": sorted(m for m in sys.modules if m.startswith("cmclient.models")),
        "cmclient_modules": sorted(n for n, _ in own),
        "dataclasses": sorted(f"{n}.{attr}" for n, m in own for attr, value in vars(m).items()
                              if inspect.isclass(value) and value.__module__ == n
                              and "__dataclass_fields__" in vars(value)),
        "models": models,
        "string_caches": string_caches,
    }))
'''

_SYNC = _PRELUDE + '''
import cmclient
from cmclient import ComprehendMedical, Credentials

def handler(request):
    return httpx.Response(200, json=DOCUMENT, headers=HEADERS)

with httpx.Client(transport=httpx.MockTransport(handler)) as http:
    client = ComprehendMedical(region="us-east-1", credentials=Credentials("AKID", "SECRET"),
                               http_client=http)
    result = client.describe_entities_detection_v2_job(job_id="5c9d7a1e0f3b4a2c8e6d1f7a9b3c5e2d")
report(result)
'''

_ASYNC = _PRELUDE + '''
import asyncio
from cmclient import AsyncComprehendMedical, Credentials

async def handler(request):
    return httpx.Response(200, json=DOCUMENT, headers=HEADERS)

async def main():
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = AsyncComprehendMedical(region="us-east-1",
                                        credentials=Credentials("AKID", "SECRET"),
                                        http_client=http)
        return await client.describe_entities_detection_v2_job(
            job_id="5c9d7a1e0f3b4a2c8e6d1f7a9b3c5e2d")

report(asyncio.run(main()))
'''


def run_cold(program: str) -> dict[str, Any]:
    # No AWS_* settings from the developer's shell: the program passes everything itself.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _check_only_describe_models(report: dict[str, Any]) -> None:
    assert report["status"] == "COMPLETED" and report["bucket"] == "in-bucket"
    assert set(report["modules"]) == MODEL_MODULES
    # Only the call's own models exist: no class of another operation (its Start, Stop
    # or List neighbours, the List filter) is even created.
    created = {name for name in report["models"] if not name.startswith("cmclient.models._base.")}
    assert created == DESCRIBE_MODELS, sorted(created ^ DESCRIBE_MODELS)
    built = {name for name, complete in report["models"].items() if complete}
    # The call's own request and response are built.
    assert {
        "cmclient.models._describe_entities_detection_v2_job.DescribeEntitiesDetectionV2JobRequest",
        "cmclient.models._describe_entities_detection_v2_job.DescribeEntitiesDetectionV2JobResponse",
    } <= built


@pytest.fixture(scope="module")
def sync_report() -> dict[str, Any]:
    return run_cold(_SYNC)


def test_sync_call_from_cold_imports_no_asyncio_and_builds_only_its_models(
    sync_report: dict[str, Any],
) -> None:
    assert sync_report["asyncio"] is False
    assert sync_report["async_client"] is False
    _check_only_describe_models(sync_report)


def test_sync_call_from_cold_with_given_credentials_loads_no_credential_chain(
    sync_report: dict[str, Any],
) -> None:
    credentials = {m for m in sync_report["cmclient_modules"] if m.startswith("cmclient.credentials.")}
    # The chain's sources, STS and metadata clients are imported only for a client
    # that has to look for its credentials.
    assert credentials == {"cmclient.credentials._types"}


def test_sync_call_from_cold_allocates_no_json_string_cache(
    sync_report: dict[str, Any],
) -> None:
    # pydantic-core's JSON parser caches strings in a table it allocates on the first
    # JSON validation of the process that asks for it; the response models turn it off,
    # a part of every cold start's peak memory saved (figures: bench/README.md).
    assert sync_report["string_caches"]
    assert not any(sync_report["string_caches"].values()), sync_report["string_caches"]


def test_sync_call_from_cold_defines_no_dataclass(sync_report: dict[str, Any]) -> None:
    # A dataclass generates and execs its methods when its class is made, on every cold
    # start (what that costs: bench/README.md). The cold path's records, the operation
    # table's rows included, are NamedTuples and slotted classes.
    defined = set(sync_report["dataclasses"])
    assert not defined, sorted(defined)


def test_async_call_from_cold_works_and_builds_only_its_models() -> None:
    report = run_cold(_ASYNC)
    assert report["async_client"] is True
    _check_only_describe_models(report)


_SYNC_OWN_POOL = '''
import json, sys
from cmclient import ComprehendMedical, Credentials

with ComprehendMedical(region="us-east-1", credentials=Credentials("AKID", "SECRET"),
                       endpoint_url=sys.argv[1]) as client:
    result = client.describe_entities_detection_v2_job(job_id="5c9d7a1e0f3b4a2c8e6d1f7a9b3c5e2d")
props = result.comprehend_medical_async_job_properties
print(json.dumps({"status": props.job_status.value, "modules": sorted(sys.modules)}))
'''


class _Describe(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"ComprehendMedicalAsyncJobProperties": {
            "JobId": "5c9d7a1e0f3b4a2c8e6d1f7a9b3c5e2d", "JobStatus": "COMPLETED"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", "req-1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_sync_client_from_cold_loads_neither_httpcore_nor_anyio_nor_a_ca_bundle() -> None:
    # The sync client's own pool on http.client (which httpx has loaded already): httpx's
    # default transport would import httpcore, anyio, h11 and certifi on a cold start.
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Describe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_") and not k.lower().endswith("_proxy")}
        env["PYTHONPATH"] = str(ROOT)
        done = subprocess.run(
            [sys.executable, "-c", _SYNC_OWN_POOL, f"http://127.0.0.1:{server.server_port}"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == "COMPLETED"
    loaded = {name.partition(".")[0] for name in report["modules"]}
    assert "cmclient" in loaded
    assert not loaded & {"httpcore", "anyio", "h11", "certifi", "asyncio"}, sorted(
        loaded & {"httpcore", "anyio", "h11", "certifi", "asyncio"})
