"""Section 8: reading a batch job's results (issue 14), cmclient against boto3 side by
side in one run.

The mock runs in its own process (as S3 is somewhere else: neither the contenders'
threads nor the mock's event loop slow the other down). It puts ``files`` (2,000)
short notes in its S3, runs an entities-detection job on them to completion, so that
the job's folder holds 2,000 ``.out`` files, its Manifest and both file lists, then
delays every answer, S3's included, by ``latency_ms`` (20 ms), as if S3 were a few
milliseconds away.

Contenders, each timed from its first request to the last result parsed, in rotated
order over ``rounds`` rounds:

* **cmclient**: ``ComprehendMedical(quotas=None).job_results(job_id,
  kind="entities-v2")``, then ``iter_results()`` to the end: the job described, its
  folder found, its Manifest and unprocessed list read, every ``.out`` fetched (16 at a
  time, the default) and validated into a ``DetectEntitiesV2Response``.
* **cmclient async**: the same on ``AsyncComprehendMedical``, for reference.
* **boto3**: what public code does, given the folder: ``list_objects_v2`` page after
  page (a paginator), then ``get_object`` for each ``.out`` one after another and
  ``json.loads`` of its body. Untyped, and it knows the folder already.

Goal: cmclient's time at most 0.25x boto3's (medians of the same run).

``python -m bench.batch --serve [--files N] [--latency S]`` is the mock's process: it
prints its URL and the job's id on one line, then serves until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from bench.common import (
    ACCESS_KEY,
    PYTHON,
    REGION,
    ROOT,
    SECRET_KEY,
    child_env,
    rotations,
    summary,
)

BUCKET = "bench-notes"
KIND = "entities-v2"
ROLE = "arn:aws:iam::123456789012:role/ComprehendMedicalBench"
NAMES = ("cmclient", "cmclient_async", "boto3")


# --- the mock in its own process ------------------------------------------------------

@contextlib.contextmanager
def mock_process(files: int, latency_ms: float) -> Iterator[tuple[str, str, str]]:
    """Start the mock with a finished job of ``files`` outputs; yield (url, job id, the
    job's output folder)."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "bench.batch", "--serve", "--files", str(files),
         "--latency", str(latency_ms / 1000)],
        cwd=ROOT, env=child_env(), text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 3:
            raise RuntimeError("the mock's process did not start")
        yield line[0], line[1], line[2]
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _serve(files: int, latency: float) -> int:
    from bench.documents import short_notes
    from cmclient.testing import ComprehendMedicalMock

    mock = ComprehendMedicalMock(region=REGION, credentials={ACCESS_KEY: SECRET_KEY},
                                 queue_seconds=0, job_duration=0)
    for index, note in enumerate(short_notes(files)):
        mock.s3.store.put(BUCKET, f"in/note-{index:05d}.txt", note.encode(), "text/plain")
    with mock.client(quotas=None) as client:
        job_id = client.start_entities_detection_v2_job(
            input_data_config={"S3Bucket": BUCKET, "S3Key": "in/"},
            output_data_config={"S3Bucket": BUCKET, "S3Key": "out/"},
            data_access_role_arn=ROLE, language_code="en").job_id
        mock.complete(job_id)
        props = client.describe_entities_detection_v2_job(
            job_id=job_id).comprehend_medical_async_job_properties
    if props.job_status.value != "COMPLETED":
        raise RuntimeError(f"the bench's job ended {props.job_status}")
    mock.set_latency(latency)
    with mock.serve() as url:
        print(url, job_id, props.output_data_config.s3_key, flush=True)
        for _ in sys.stdin:
            pass
    return 0


# --- the contenders ---------------------------------------------------------------------

def _cmclient(url: str) -> Any:
    import cmclient

    return cmclient.ComprehendMedical(
        region=REGION, endpoint_url=url, s3_endpoint_url=url, quotas=None,
        credentials=cmclient.Credentials(ACCESS_KEY, SECRET_KEY))


def _read_cmclient(client: Any, job_id: str) -> int:
    output = client.job_results(job_id, kind=KIND)
    return sum(1 for _ in output.iter_results())


async def _read_cmclient_async(client: Any, job_id: str) -> int:
    output = await client.job_results(job_id, kind=KIND)
    count = 0
    async for _ in output.iter_results():
        count += 1
    return count


def _boto3(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=url, region_name=REGION,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                        config=Config(s3={"addressing_style": "path"}))


def _read_boto3(s3: Any, folder: str) -> int:
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=folder):
        for entry in page.get("Contents", ()):
            key = entry["Key"]
            if not key.endswith(".out"):
                continue
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            json.loads(body)
            count += 1
    return count


# --- the figure ------------------------------------------------------------------------------

def run(p: dict[str, Any]) -> dict[str, Any]:
    """The figure; ``p``: ``files``, ``latency_ms``, ``rounds``."""
    try:
        import boto3  # noqa: F401

        import cmclient.testing  # noqa: F401
    except ImportError as exc:
        return {"skipped": f"boto3 or cmclient.testing is not importable ({exc})"}
    try:
        return _measure(p["files"], p["latency_ms"], p["rounds"])
    except Exception as exc:  # report, do not sink the whole run
        return {"error": f"{type(exc).__name__}: {exc}"}


def _measure(files: int, latency_ms: float, rounds: int) -> dict[str, Any]:
    import cmclient

    times: dict[str, list[float]] = {name: [] for name in NAMES}
    with mock_process(files, latency_ms) as (url, job_id, folder):
        sync_client = _cmclient(url)
        boto = _boto3(url)
        loop = asyncio.new_event_loop()
        async_client = cmclient.AsyncComprehendMedical(
            region=REGION, endpoint_url=url, s3_endpoint_url=url, quotas=None,
            credentials=cmclient.Credentials(ACCESS_KEY, SECRET_KEY))
        # Warm up: connections open, models and botocore's S3 model loaded.
        sync_client.describe_entities_detection_v2_job(job_id=job_id)
        loop.run_until_complete(async_client.describe_entities_detection_v2_job(job_id=job_id))
        boto.list_objects_v2(Bucket=BUCKET, Prefix=folder, MaxKeys=1)
        readers = {
            "cmclient": lambda: _read_cmclient(sync_client, job_id),
            "cmclient_async": lambda: loop.run_until_complete(
                _read_cmclient_async(async_client, job_id)),
            "boto3": lambda: _read_boto3(boto, folder),
        }
        try:
            for order in rotations(NAMES, rounds):
                for name in order:
                    started = time.perf_counter()
                    count = readers[name]()
                    times[name].append(time.perf_counter() - started)
                    if count != files:
                        raise RuntimeError(f"{name} read {count} results of {files}")
        finally:
            sync_client.close()
            loop.run_until_complete(async_client.aclose())
            loop.close()
    return {"files": files, "latency_ms": latency_ms, "rounds": rounds,
            **{name: summary(values) for name, values in times.items()}}


# --- goals and report (called by bench/__main__.py) --------------------------------------

def goals(r: dict[str, Any]) -> list[tuple[str, float | None, str, float]]:
    """Issue 14's goal: (name, value, "<=", limit)."""
    b = r.get("batch")
    if not b or "cmclient" not in b:
        return []
    ratio = b["cmclient"]["median"] / b["boto3"]["median"]
    return [(f"{b['files']:,} job results: cmclient iter_results / boto3 loop", ratio,
             "<=", 0.25)]


def report(r: dict[str, Any]) -> list[str]:
    """The section's lines for the printed report."""
    b = r.get("batch")
    if b is None:
        return []
    lines = [f"\n8. a batch job's results from the mock's S3 "
             f"({b.get('latency_ms', '?')} ms latency per request)"]
    if "cmclient" not in b:
        lines.append(f"   skipped: {b.get('skipped') or b.get('error')}")
        return lines
    lines.append(f"   {b['files']:,} .out files read and parsed; seconds, median (min–max) of "
                 f"{b['rounds']} round(s)")
    labels = {"cmclient": "cmclient job_results + iter_results",
              "cmclient_async": "cmclient async, the same",
              "boto3": "boto3: list, get each, json.loads"}
    for key, label in labels.items():
        row = b[key]
        lines.append(f"   {label:40} {row['median']:.3f} ({row['min']:.3f}–{row['max']:.3f})"
                     f"   {b['files'] / row['median']:.0f} results/s")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__)
    parser.add_argument("--serve", action="store_true", help="run the mock's process")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve(args.files, args.latency)
    result = {"batch": run({"files": args.files, "latency_ms": args.latency * 1000,
                            "rounds": args.rounds})}
    print("\n".join(report(result)))
    for name, value, op, limit in goals(result):
        print(f"   {name}: {value:.3f} {op} {limit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
