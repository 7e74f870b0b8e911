"""Section 5: memory per client. RSS growth of one process for 100 more clients, each
kind in a fresh process per run (see ``bench.memory_child``), kinds alternating."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from bench import boto_json
from bench.common import PYTHON, ROOT, child_env, rotations, summary

KINDS = ("cmclient", "boto3", "floor")


def run(url: str, runs: int, clients: int) -> dict[str, Any]:
    env = child_env(AWS_DATA_PATH=boto_json.data_path())
    samples: dict[str, list[dict[str, int]]] = {kind: [] for kind in KINDS}
    for order in rotations(list(KINDS), runs):
        for kind in order:
            out = subprocess.run(
                [PYTHON, "-m", "bench.memory_child", kind, url, str(clients)],
                cwd=ROOT, env=env, capture_output=True, check=False, timeout=120,
            )
            if out.returncode != 0:
                raise RuntimeError(f"memory child {kind} failed: {out.stderr.decode()[-2000:]}")
            samples[kind].append(json.loads(out.stdout.decode().splitlines()[-1]))
    result: dict[str, Any] = {"clients": clients}
    for kind, rows in samples.items():
        result[kind] = {
            "built_kib": summary([r["built"] - r["before"] for r in rows]),
            "called_kib": summary([r["called"] - r["before"] for r in rows]),
        }
    return result
