"""Section 1: cold start. A fresh interpreter, in its contender's deployment-sized
environment (``bench.envs``), imports a client, builds it and completes one validated
DescribeEntitiesDetectionV2Job, against the loopback http sink and the https sink
(local CA, response delay).

Two times per run:

* **first result**: from just before the parent starts the child until the child has
  the validated result in hand (the child reports ``time.monotonic()`` then; on Linux
  CLOCK_MONOTONIC is one clock for every process). What a Lambda function pays:
  import, build and the first call, not the interpreter's shutdown. The goals use it.
* **wall**: the whole process, until the parent has reaped it (shutdown included).

Also CPU time, from ``os.wait4`` (the child's own rusage), and peak RSS, the child's
VmHWM as it ends: ``RUSAGE_CHILDREN``'s maxrss would be the maximum over every child
so far, and even a child's own ru_maxrss counts the parent's pages it held until exec.

Each contender trusts the https sink's CA through its own normal setting:
AWS_CA_BUNDLE for boto3 and cmclient, SSL_CERT_FILE for the httpx floors and the stack
floor (whose ``ssl.create_default_context()`` reads it through OpenSSL). If cmclient
does not honour AWS_CA_BUNDLE yet, it is given SSL_CERT_FILE as well, with a note.
Runs alternate contender and sink, in a rotated order each round.
"""

from __future__ import annotations

import compileall
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import boto_json
from bench.common import ROOT, child_env, rotations, summary
from bench.envs import Env
from bench.tls import Certificates

SCRIPTS = Path(__file__).resolve().parent / "cold"
#: name: (script, deployment environment, how it is told to trust the local CA)
CONTENDERS: dict[str, tuple[str, str, str | None]] = {
    "cmclient": ("cold_cmclient.py", "cmclient", "aws"),
    "boto3": ("cold_boto3.py", "boto3", "aws"),
    # The reference of the cold-start goals: httpx and pydantic imported, one request
    # over http.client with a minimal SigV4, validated into one small model.
    "stack_floor": ("cold_stack_floor.py", "floor", "ssl"),
    # httpx + a minimal SigV4 + json.loads, no validation (the warm goal's reference).
    "floor": ("cold_floor.py", "floor", "ssl"),
    # For reference, no goal: the floor with its result validated into two minimal
    # pydantic models, what pydantic alone adds to the floor's cold start.
    "floor_pydantic": ("cold_floor_pydantic.py", "floor", "ssl"),
    # For reference, no goal: the same validated by pydantic-core alone, into plain
    # classes, what a cold path without pydantic (but with its validation core) costs.
    "floor_core": ("cold_floor_core.py", "floor", "ssl"),
    # The bare interpreter, for reference (http only: it makes no request).
    "python": ("cold_python.py", "floor", None),
}


def run_once(script: str, url: str, env: Env, environ: dict[str, str]) -> dict[str, float]:
    launched = time.monotonic()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [env.python, str(SCRIPTS / script), url], cwd=env.prefix, env=environ,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise ChildFailed(f"{script} failed ({proc.returncode}): {out.decode()[-2000:]}")
    split = json.loads(out.splitlines()[-1])
    return {
        "first_result_ms": (split.pop("result_at") - launched) * 1000,
        "wall_ms": wall * 1000,
        "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
        # VmHWM, read by the child as it ends: ru_maxrss would also count the pages of
        # this (larger) parent that the child shared between fork and exec.
        "peak_rss_mib": split.pop("hwm_kib") / 1024,
        **{f"{k}_ms": v * 1000 for k, v in split.items()},
    }


class ChildFailed(RuntimeError):
    pass


def run(
    urls: dict[str, str], envs: dict[str, Env], certs: Certificates, runs: int
) -> dict[str, Any]:
    """``urls``: sink name (``http``, ``https``) to base URL."""
    base = child_env(AWS_DATA_PATH=boto_json.data_path())
    notes: list[str] = []
    # pip compiled every installed package's bytecode; the bench's own scripts (imported
    # through a link to bench/) are compiled here, as a checkout run under
    # PYTHONDONTWRITEBYTECODE (this machine sets it) would not write them.
    compileall.compile_dir(ROOT / "bench", quiet=1)

    def environ(name: str, sink: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**base, "PYTHONPATH": str(envs[CONTENDERS[name][1]].path)}
        how = CONTENDERS[name][2]
        if sink == "https" and how is not None:
            env.update(certs.env(how))
        env.update(extra or {})
        return env

    environs: dict[tuple[str, str], dict[str, str]] = {}
    items = [(name, sink) for name in CONTENDERS for sink in urls
             if not (name == "python" and sink != "http")]
    for name, sink in items:  # warm the page cache; check every contender works
        script, kind = CONTENDERS[name][:2]
        env = environ(name, sink)
        try:
            run_once(script, urls[sink], envs[kind], env)
        except ChildFailed as exc:
            if not (name == "cmclient" and sink == "https" and "CERTIFICATE_VERIFY" in str(exc)):
                raise
            env = environ(name, sink, certs.env("ssl"))
            run_once(script, urls[sink], envs[kind], env)
            notes.append("cmclient does not honour AWS_CA_BUNDLE yet: it was given "
                         "SSL_CERT_FILE as well")
        environs[name, sink] = env
    samples: dict[tuple[str, str], list[dict[str, float]]] = {item: [] for item in items}
    for order in rotations(items, runs):
        for name, sink in order:
            script, kind = CONTENDERS[name][:2]
            samples[name, sink].append(run_once(script, urls[sink], envs[kind],
                                                environs[name, sink]))
    result: dict[str, Any] = {sink: {} for sink in urls}
    for (name, sink), rows in samples.items():
        result[sink][name] = {key: summary([row[key] for row in rows]) for key in rows[0]}
    result["notes"] = notes
    return result
