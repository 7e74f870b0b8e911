"""The loopback server (load, keep-alive, raw HTTP), the command line, the async
transport, the respx helper, the pytest plugin and the benchmark hook."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

import httpx
import pytest
import respx

from cmclient import AsyncComprehendMedical, ComprehendMedical, Credentials, errors
from cmclient.testing import ComprehendMedicalMock, bench_throughput, main

ROLE = "arn:aws:iam::123456789012:role/ComprehendMedicalData"
CREDS = Credentials("AKIDLOAD", "load-secret")
START = {"input_data_config": {"S3Bucket": "in-bucket"},
         "output_data_config": {"S3Bucket": "out-bucket"},
         "data_access_role_arn": ROLE, "language_code": "en"}


def test_200_concurrent_keep_alive_clients_lose_and_duplicate_no_job() -> None:
    mock = ComprehendMedicalMock(credentials={"AKIDLOAD": "load-secret"})
    clients, jobs_each = 200, 3
    barrier = threading.Barrier(clients, timeout=60)
    results: list[list[str]] = [[] for _ in range(clients)]
    failures: list[BaseException] = []
    with mock.serve() as url:

        def worker(index: int) -> None:
            try:
                with httpx.Client(timeout=30) as http, ComprehendMedical(
                    region="us-east-1", endpoint_url=url, credentials=CREDS, http_client=http,
                    max_attempts=1, quotas=None,
                ) as client:
                    client.list_phi_detection_jobs()  # open the keep-alive connection first
                    barrier.wait()
                    for n in range(jobs_each):
                        job_id = client.start_phi_detection_job(
                            **START, job_name=f"w{index}-{n}").job_id
                        assert job_id is not None
                        results[index].append(job_id)
                        props = client.describe_phi_detection_job(job_id=job_id)
                        assert props.comprehend_medical_async_job_properties.job_id == job_id
            except BaseException as exc:  # collected and reported below
                failures.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert failures == []

        with ComprehendMedical(region="us-east-1", endpoint_url=url, credentials=CREDS) as client:
            listed: list[str] = []
            token = None
            while True:
                kwargs: dict[str, Any] = {"max_results": 500}
                if token:
                    kwargs["next_token"] = token
                page = client.list_phi_detection_jobs(**kwargs)
                listed += [p.job_id for p in page.comprehend_medical_async_job_properties_list or []]
                token = page.next_token
                if not token:
                    break
    started = [job for per_client in results for job in per_client]
    assert len(started) == clients * jobs_each
    assert len(set(listed)) == len(listed) == len(started)
    assert set(listed) == set(started)
    assert all(call.status == 200 for call in mock.calls)


def test_server_keeps_connections_alive_and_parses_raw_http() -> None:
    mock = ComprehendMedicalMock()
    with mock.serve() as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            stream = sock.makefile("rwb")
            for _ in range(3):  # three requests on one connection
                stream.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
                stream.flush()
                status = stream.readline()
                headers = {}
                while (line := stream.readline()) != b"\r\n":
                    name, _, value = line.decode().partition(":")
                    headers[name.lower()] = value.strip()
                body = stream.read(int(headers["content-length"]))
                assert status.startswith(b"HTTP/1.1 400")
                assert b"MissingAuthenticationTokenException" in body
                assert headers["x-amzn-requestid"]
            stream.write(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                         b"Connection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
            stream.flush()
            assert stream.readline().startswith(b"HTTP/1.1 400")
            rest = stream.read()
            assert b"connection: close" in rest.lower()


def test_server_rejects_garbage_without_dying() -> None:
    mock = ComprehendMedicalMock()
    with mock.serve() as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"NONSENSE\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 400 Bad Request")
        assert httpx.post(url + "/", content=b"{}").status_code == 400  # still serving


def run_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cmclient.testing", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_command_line_prints_its_url_first_and_stops_cleanly(stop_signal: int) -> None:
    process = run_cli("--port", "0", "--host", "127.0.0.1", "--region", "eu-west-1",
                      "--job-duration", "0", "--credentials", "AKIDCLI:cli-secret")
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        creds = Credentials("AKIDCLI", "cli-secret")
        with ComprehendMedical(region="eu-west-1", endpoint_url=url, credentials=creds) as client:
            job_id = client.start_snomedct_inference_job(**START).job_id
            assert job_id is not None
            # job-duration 0: done once the one-second queue has passed
            props = client.describe_snomedct_inference_job(job_id=job_id)
            assert props.comprehend_medical_async_job_properties.job_status in (
                "SUBMITTED", "COMPLETED")
        with ComprehendMedical(region="eu-west-1", endpoint_url=url, max_attempts=1,
                               credentials=Credentials("AKIDCLI", "wrong")) as client, \
                pytest.raises(errors.InvalidSignatureException):
            client.detect_phi(text="x")
    finally:
        process.send_signal(stop_signal)
        _out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_main_rejects_bad_credentials_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--credentials", "no-colon"])
    assert caught.value.code == 2
    assert "AKID:SECRET" in capsys.readouterr().err


def test_async_client_through_the_transport() -> None:
    mock = ComprehendMedicalMock(latency=0.01)

    async def scenario() -> list[str]:
        async with httpx.AsyncClient(transport=mock.transport()) as http:
            client = AsyncComprehendMedical(
                region="us-east-1", endpoint_url="https://comprehendmedical.us-east-1.amazonaws.com",
                credentials=CREDS, http_client=http)
            ids = await asyncio.gather(*(client.start_entities_detection_v2_job(**START)
                                         for _ in range(20)))
            found = await client.detect_entities_v2(text="ibuprofen 200 mg as needed")
            assert found.entities and found.entities[0].text == "ibuprofen"
            return [str(r.job_id) for r in ids]

    ids = asyncio.run(scenario())
    assert len(set(ids)) == 20
    assert {j["JobId"] for j in mock.jobs("entities-v2")} == set(ids)


def test_respx_helper_routes_the_endpoint_to_the_mock() -> None:
    mock = ComprehendMedicalMock()
    with respx.mock(assert_all_called=True) as router, ComprehendMedical(
        region="us-east-1", credentials=CREDS
    ) as client:
        route = mock.install_respx(router)
        result = client.infer_icd10_cm(text="Patient has asthma.")
    assert result.entities and result.entities[0].icd10_cm_concepts[0].code == "J45.909"
    assert route.call_count == 1


def test_pytest_fixtures_give_a_wired_client(
    comprehend_medical_mock: ComprehendMedicalMock, comprehend_medical: ComprehendMedical
) -> None:
    job_id = comprehend_medical.start_phi_detection_job(**START).job_id
    assert job_id is not None
    comprehend_medical_mock.complete(job_id)
    props = comprehend_medical.describe_phi_detection_job(job_id=job_id)
    assert props.comprehend_medical_async_job_properties.job_status == "COMPLETED"


def test_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, cmclient.testing.pytest_plugin as p; "
        "heavy = [m for m in ('cbor2', 'cmclient.testing._server', 'cmclient.testing._service', "
        "'cmclient.testing._core', 'cmclient.testing._http11', 'cmclient.testing._handlers', "
        "'cmclient.testing._clinical', 'cmclient.models._detect_shared') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.stdout.strip() == "[]"


def test_cbor2_is_loaded_only_for_cbor_requests() -> None:
    code = (
        "import sys; from cmclient.testing import ComprehendMedicalMock; "
        "m = ComprehendMedicalMock(); c = m.client(); c.detect_phi(text='x'); "
        "print('cbor2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bench_throughput_reports_a_measurement() -> None:
    result = bench_throughput(requests=40, concurrency=4)
    assert result["requests"] == 40 and result["errors"] == 0
    assert result["seconds"] > 0 and result["requests_per_second"] > 0
