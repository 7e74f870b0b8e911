"""Section 1: cold start. A fresh interpreter imports a client, builds it and completes
one validated DescribeEntitiesDetectionV2Job; wall time and peak RSS of that process.

Peak RSS is the child's VmHWM as it ends; CPU time comes from ``os.wait4`` (the
child's own rusage). ``RUSAGE_CHILDREN``'s maxrss would be the maximum over every child
so far, and even a child's own ru_maxrss counts the parent's pages it held until exec.
The contenders alternate order run by run.
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
from bench.common import PYTHON, ROOT, child_env, rotations, summary

SCRIPTS = Path(__file__).resolve().parent / "cold"
CONTENDERS = {
    "cmclient": "cold_cmclient.py",
    "boto3": "cold_boto3.py",
    "floor": "cold_floor.py",
    # For reference, no goal: the floor with its result validated into two minimal
    # pydantic models, what pydantic alone adds to the floor's cold start.
    "floor_pydantic": "cold_floor_pydantic.py",
    # For reference, no goal: the same validated by pydantic-core alone, into plain
    # classes, what a cold path without pydantic (but with its validation core) costs.
    "floor_core": "cold_floor_core.py",
    "python": "cold_python.py",  # the bare interpreter, for reference
}


def run_once(script: str, url: str, env: dict[str, str]) -> dict[str, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [PYTHON, str(SCRIPTS / script), url], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} failed ({proc.returncode}): {out.decode()[-2000:]}")
    split = json.loads(out.splitlines()[-1])
    return {
        "wall_ms": wall * 1000,
        "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
        # VmHWM, read by the child as it ends: ru_maxrss would also count the pages of
        # this (larger) parent that the child shared between fork and exec.
        "peak_rss_mib": split.pop("hwm_kib") / 1024,
        **{f"{k}_ms": v * 1000 for k, v in split.items()},
    }


def run(url: str, runs: int) -> dict[str, Any]:
    env = child_env(AWS_DATA_PATH=boto_json.data_path())
    # pip compiles an installed package's bytecode, as it did for httpx, pydantic and
    # boto3 here; a checkout under PYTHONDONTWRITEBYTECODE (this machine sets it) would
    # otherwise compile cmclient from source in every cold start, about 20 ms.
    for package in ("cmclient", "bench"):
        compileall.compile_dir(ROOT / package, quiet=1)
    for script in CONTENDERS.values():  # warm the page cache
        run_once(script, url, env)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in CONTENDERS}
    for order in rotations(list(CONTENDERS), runs):
        for name in order:
            samples[name].append(run_once(CONTENDERS[name], url, env))
    result: dict[str, Any] = {}
    for name, rows in samples.items():
        result[name] = {key: summary([row[key] for row in rows]) for key in rows[0]}
    return result
