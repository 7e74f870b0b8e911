"""The ``cmclient`` command, run as a subprocess against the mock service on loopback.

Each command's JSON is compared, byte for byte, with what the AWS CLI v2 prints for the
same call: botocore parses the mock's answer to the same request, and the document is
formatted as awscli's JSONFormatter does (``json.dump(indent=4, ensure_ascii=False)``,
timestamps through ``datetime.isoformat``, ResponseMetadata removed). Subprocesses are
slow to start, so independent commands run in parallel.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.config import Config

from cmclient.testing import ComprehendMedicalMock

AKID = "AKIDCLITEST"
SECRET = "cli-test-secret-do-not-print"
REGION = "us-east-1"
NOTE = "Patient takes 40 mg atorvastatin daily for hyperlipidemia. Jane Roe, DOB 1/2/1960."
ROLE = "arn:aws:iam::123456789012:role/ComprehendMedicalS3"
KINDS = ("entities-detection-v2-job", "icd10-cm-inference-job", "phi-detection-job",
         "rx-norm-inference-job", "snomedct-inference-job")


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(tmp / "config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp / "creds"),
        AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp), PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cmclient", *args], capture_output=True,
                          text=True, env=env, timeout=60, **kwargs)


def run_all(commands: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda args: run(args, env), commands))


def aws_cli_json(response: dict[str, Any]) -> str:
    """What ``aws --output json`` prints for a botocore response (awscli/formatter.py)."""
    response = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    if response == {}:
        return ""
    return json.dumps(response, indent=4, ensure_ascii=False,
                      default=lambda value: value.isoformat()) + "\n"


@pytest.fixture(scope="module")
def mock() -> ComprehendMedicalMock:
    # Jobs stay SUBMITTED for the whole module, so two describes of one job agree.
    return ComprehendMedicalMock(region=REGION, credentials={AKID: SECRET},
                                 queue_seconds=3600, job_duration=60)


@pytest.fixture(scope="module")
def url(mock: ComprehendMedicalMock) -> Iterator[str]:
    with mock.serve() as base:
        yield base


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return cli_env(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def boto(url: str) -> Any:
    return boto3.client("comprehendmedical", region_name=REGION, endpoint_url=url,
                        aws_access_key_id=AKID, aws_secret_access_key=SECRET,
                        config=Config(retries={"max_attempts": 0}))


def start_params(bucket: str = "clinical-notes") -> dict[str, Any]:
    return {"InputDataConfig": {"S3Bucket": bucket, "S3Key": "notes/"},
            "OutputDataConfig": {"S3Bucket": "cm-results"},
            "DataAccessRoleArn": ROLE, "LanguageCode": "en", "JobName": "cli-test"}


def test_every_operation_has_the_subcommand_the_aws_cli_gives_it() -> None:
    import botocore.session

    from cmclient.cli import COMMANDS

    model = botocore.session.get_session().get_service_model("comprehendmedical")
    expected = {xform_name(name, "-"): name for name in model.operation_names}
    assert {name: op.name for name, op in COMMANDS.items()} == expected


def test_detect_and_infer_commands_print_what_the_aws_cli_prints(
    url: str, env: dict[str, str], boto: Any, tmp_path: Path
) -> None:
    note = tmp_path / "note.txt"
    note.write_text(NOTE, encoding="utf-8")
    operations = ["detect-entities", "detect-entities-v2", "detect-phi", "infer-icd10-cm",
                  "infer-rx-norm", "infer-snomedct"]
    # Half read the text inline, half from file://, as the AWS CLI allows.
    commands = [[op, "--text", NOTE if i % 2 else f"file://{note}", "--endpoint-url", url]
                for i, op in enumerate(operations)]
    results = run_all(commands, env)
    for op, result in zip(operations, results, strict=True):
        assert result.returncode == 0, (op, result.stderr)
        expected = aws_cli_json(getattr(boto, op.replace("-", "_"))(Text=NOTE))
        assert result.stdout == expected, op
        assert json.loads(result.stdout)  # something was detected


@pytest.fixture
def local_time_kolkata(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local time zone that is not UTC (+05:30, no DST), here and in subprocesses:
    the AWS CLI prints times in the local zone, and so must cmclient."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield "+05:30"
    monkeypatch.undo()
    time.tzset()


def test_job_commands_start_describe_list_and_stop_as_the_aws_cli_does(
    url: str, env: dict[str, str], boto: Any, tmp_path: Path, local_time_kolkata: str
) -> None:
    env = {**env, "TZ": "Asia/Kolkata"}
    request = tmp_path / "req.json"
    request.write_text(json.dumps(start_params("json-bucket")), encoding="utf-8")
    shorthand = ["--input-data-config", "S3Bucket=clinical-notes,S3Key=notes/",
                 "--output-data-config", "S3Bucket=cm-results",
                 "--data-access-role-arn", ROLE, "--language-code", "en",
                 "--job-name", "cli-test"]
    starts = [
        ["start-entities-detection-v2-job", *shorthand],                       # shorthand
        ["start-icd10-cm-inference-job", "--cli-input-json", f"file://{request}"],
        ["start-phi-detection-job", "--cli-input-json", json.dumps(start_params())],
        ["start-rx-norm-inference-job", *shorthand[:2], "--output-data-config",
         '{"S3Bucket": "cm-results"}', *shorthand[4:]],                       # JSON value
        ["start-snomedct-inference-job", "--cli-input-json", f"file://{request}",
         "--input-data-config", "S3Bucket=override-bucket"],                   # flag wins
    ]
    started = run_all([[*args, "--endpoint-url", url] for args in starts], env)
    job_ids = {}
    for kind, result in zip(KINDS, started, strict=True):
        assert result.returncode == 0, (kind, result.stderr)
        doc = json.loads(result.stdout)
        assert list(doc) == ["JobId"]
        job_ids[kind] = doc["JobId"]

    describes = [[f"describe-{kind}", "--job-id", job_ids[kind], "--endpoint-url", url]
                 for kind in KINDS]
    lists = [[f"list-{kind}s", "--endpoint-url", url] for kind in KINDS]
    results = run_all(describes + lists, env)
    for kind, result in zip(KINDS, results[:5], strict=True):
        assert result.returncode == 0, result.stderr
        method = getattr(boto, f"describe_{kind.replace('-', '_')}")
        assert result.stdout == aws_cli_json(method(JobId=job_ids[kind])), kind
    for kind, result in zip(KINDS, results[5:], strict=True):
        assert result.returncode == 0, result.stderr
        method = getattr(boto, f"list_{kind.replace('-', '_')}s")
        assert result.stdout == aws_cli_json(method()), kind

    props = json.loads(results[3].stdout)["ComprehendMedicalAsyncJobProperties"]
    assert props["InputDataConfig"] == {"S3Bucket": "clinical-notes", "S3Key": "notes/"}
    snomed = json.loads(results[4].stdout)["ComprehendMedicalAsyncJobProperties"]
    assert snomed["InputDataConfig"]["S3Bucket"] == "override-bucket"
    assert snomed["OutputDataConfig"]["S3Bucket"] == "cm-results"
    # Timestamps as AWS CLI v2 prints them: ISO-8601, microseconds, local offset.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+05:30",
                        props["SubmitTime"])

    stops = run_all([[f"stop-{kind}", "--job-id", job_ids[kind], "--endpoint-url", url]
                     for kind in KINDS], env)
    for kind, result in zip(KINDS, stops, strict=True):
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"JobId": job_ids[kind]}
        described = getattr(boto, f"describe_{kind.replace('-', '_')}")(JobId=job_ids[kind])
        assert described["ComprehendMedicalAsyncJobProperties"]["JobStatus"] in (
            "STOP_REQUESTED", "STOPPED")


def test_list_commands_follow_next_token_unless_no_paginate(
    url: str, env: dict[str, str], boto: Any
) -> None:
    for _ in range(3):
        boto.start_phi_detection_job(**{**start_params(), "JobName": "paged"})
    merged, first = run_all([
        ["list-phi-detection-jobs", "--max-results", "1", "--filter", "JobName=paged",
         "--endpoint-url", url],
        ["list-phi-detection-jobs", "--max-results", "1", "--filter", "JobName=paged",
         "--no-paginate", "--endpoint-url", url],
    ], env)
    assert merged.returncode == 0, merged.stderr
    doc = json.loads(merged.stdout)
    assert "NextToken" not in doc
    assert len(doc["ComprehendMedicalAsyncJobPropertiesList"]) == 3
    one = json.loads(first.stdout)
    assert len(one["ComprehendMedicalAsyncJobPropertiesList"]) == 1
    assert one["NextToken"]
    assert first.stdout == aws_cli_json(boto.list_phi_detection_jobs(
        MaxResults=1, Filter={"JobName": "paged"}))


def test_output_formats_query_and_help(url: str, env: dict[str, str], boto: Any) -> None:
    job_id = boto.start_entities_detection_v2_job(**start_params())["JobId"]
    describe = ["describe-entities-detection-v2-job", "--job-id", job_id, "--endpoint-url", url]
    text, table, query_json, query_text, bad_query, top_help, sub_help, list_help = run_all([
        [*describe, "--output", "text"],
        [*describe, "--output", "table"],
        [*describe, "--query", "ComprehendMedicalAsyncJobProperties.[JobId, JobStatus]"],
        [*describe, "--query", "ComprehendMedicalAsyncJobProperties.JobStatus",
         "--output", "text"],
        [*describe, "--query", "ComprehendMedicalAsyncJobProperties.["],
        ["--help"],
        ["start-entities-detection-v2-job", "--help"],
        ["list-snomedct-inference-jobs", "--help"],
    ], env)
    # text: awscli's rules: sorted scalars after the upper-cased key, one line per level.
    lines = text.stdout.splitlines()
    assert lines[0].startswith("COMPREHENDMEDICALASYNCJOBPROPERTIES\t")
    assert job_id in lines[0].split("\t")
    assert "INPUTDATACONFIG\tclinical-notes\tnotes/" in lines
    assert any(line.startswith("OUTPUTDATACONFIG\tcm-results\t") for line in lines)
    # table: a titled box, every line the same width, members and values in rows.
    rows = table.stdout.splitlines()
    assert "DescribeEntitiesDetectionV2Job" in rows[1]
    assert len({len(row) for row in rows}) == 1
    assert job_id in table.stdout and "SUBMITTED" in table.stdout
    # --query (JMESPath) on the document, then formatted.
    assert json.loads(query_json.stdout) == [job_id, "SUBMITTED"]
    assert query_text.stdout == "SUBMITTED\n"
    assert bad_query.returncode == 252 and "--query" in bad_query.stderr
    # --help: every command, and each parameter with its type and limits.
    assert top_help.returncode == 0
    from cmclient.cli import COMMANDS

    for name in [*COMMANDS, "mock-server"]:
        assert name in top_help.stdout
    for fragment in ("--input-data-config", "S3Bucket=string (required; length 3-63",
                     "--data-access-role-arn", "string; required; length 20-2048",
                     "pattern arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+",
                     "--language-code", "one of: en", "--job-name", "optional",
                     "--wait"):
        assert fragment in " ".join(sub_help.stdout.split()), fragment
    assert "integer; optional; range 1-500" in " ".join(list_help.stdout.split())
    assert "JobStatus=enum" in " ".join(list_help.stdout.split())


def test_missing_jmespath_exits_252_saying_how_to_install_it(
    url: str, env: dict[str, str], tmp_path: Path
) -> None:
    shim = tmp_path / "jmespath"
    shim.mkdir()
    (shim / "__init__.py").write_text("raise ImportError('jmespath is not installed')\n")
    result = run(["list-phi-detection-jobs", "--query", "length(@)", "--endpoint-url", "x"],
                 {**env, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 252
    assert "pip install 'cmclient[cli]'" in result.stderr


def test_exit_codes_follow_the_aws_cli(url: str, env: dict[str, str], tmp_path: Path) -> None:
    no_keys = {k: v for k, v in env.items()
               if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    no_region = {k: v for k, v in env.items() if k != "AWS_DEFAULT_REGION"}
    cases = [
        (["detect-phi", "--endpoint-url", url], env, 252, "required: --text"),
        (["detect-phi", "--text", "x", "--bogus", "1", "--endpoint-url", url], env, 252,
         "unrecognized arguments: --bogus"),
        (["detect-phi", "--text", "", "--endpoint-url", url], env, 252,
         "Invalid value for parameter --text (Text): length 0 is less than the minimum of 1"),
        (["list-phi-detection-jobs", "--max-results", "900", "--endpoint-url", url], env, 252,
         "--max-results (MaxResults)"),
        (["start-phi-detection-job", "--input-data-config", "S3Bucket", "--endpoint-url", url],
         env, 252, "Error parsing parameter '--input-data-config'"),
        (["no-such-command"], env, 252, "Invalid choice 'no-such-command'"),
        ([], env, 252, "required: command"),
        (["detect-phi", "--text", "x", "--endpoint-url", url], no_keys, 253, "credentials"),
        (["detect-phi", "--text", "x", "--endpoint-url", url], no_region, 253, "region"),
        (["detect-phi", "--text", "x", "--profile", "nosuch", "--endpoint-url", url], env, 253,
         "nosuch"),
        (["describe-phi-detection-job", "--job-id", "nope", "--endpoint-url", url], env, 254,
         "An error occurred (ResourceNotFoundException) when calling the "
         "DescribePHIDetectionJob operation: "),
        (["detect-phi", "--text", "x", "--endpoint-url", "http://127.0.0.1:9"],
         {**env, "AWS_MAX_ATTEMPTS": "1"}, 255, ""),
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda case: run(case[0], case[1]), cases))
    for (args, _, code, message), result in zip(cases, results, strict=True):
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert result.stdout == "", args
        assert NOTE not in result.stderr and SECRET not in result.stderr


def test_debug_logs_to_stderr_without_secrets_or_text(url: str, env: dict[str, str]) -> None:
    token_env = {**env, "AWS_SESSION_TOKEN": "session-token-do-not-print"}
    result = run(["detect-entities-v2", "--text", NOTE, "--debug", "--endpoint-url", url],
                 env)
    with_token = run(["detect-phi", "--text", NOTE, "--debug", "--endpoint-url", url],
                     token_env)
    assert result.returncode == 0, result.stderr
    assert "DEBUG" in result.stderr and "DetectEntitiesV2" in result.stderr
    assert f"<{len(NOTE)} characters, redacted>" in result.stderr
    for output in (result.stderr, with_token.stderr):
        assert NOTE not in output and "atorvastatin" not in output
        assert SECRET not in output and "session-token-do-not-print" not in output
        assert AKID not in output  # only its last four characters
    assert json.loads(result.stdout)["Entities"]


def test_timeouts_reach_the_client(env: dict[str, str]) -> None:
    slow = ComprehendMedicalMock(region=REGION, latency=2.0)
    with slow.serve() as base:
        result = run(["detect-phi", "--text", "x", "--cli-read-timeout", "0.3",
                      "--endpoint-url", base], {**env, "AWS_MAX_ATTEMPTS": "1"})
    assert result.returncode == 255
    assert "DetectPHI" in result.stderr


def test_mock_server_subcommand_serves_the_mock(env: dict[str, str]) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "cmclient", "mock-server", "--port", "0", "--job-duration",
         "1", "--credentials", f"{AKID}:{SECRET}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        ok = run(["list-phi-detection-jobs", "--endpoint-url", base], env)
        wrong = run(["list-phi-detection-jobs", "--endpoint-url", base],
                    {**env, "AWS_SECRET_ACCESS_KEY": "wrong-secret"})
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert ok.returncode == 0 and json.loads(ok.stdout) == {
        "ComprehendMedicalAsyncJobPropertiesList": []}
    assert wrong.returncode == 254 and "InvalidSignatureException" in wrong.stderr
