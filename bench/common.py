"""What every section shares: the sink process, the fixed inputs, and the statistics."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
REGION = "us-east-1"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
JOB_ID = "0123456789abcdef0123456789abcdef"


@contextlib.contextmanager
def sink() -> Iterator[str]:
    """Start the sink in its own process; yield its base URL."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "bench.sink"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def child_env(**extra: str) -> dict[str, str]:
    """An environment where neither client reads the user's AWS files or variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and the count of a list of measurements."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def rotations(names: Sequence[str], rounds: int) -> Iterator[list[str]]:
    """The contenders in a rotated order each round, so none always runs first."""
    for i in range(rounds):
        k = i % len(names)
        order = list(names[k:]) + list(names[:k])
        yield order if (i // len(names)) % 2 == 0 else order[::-1]


def rss_kib() -> int:
    """This process's resident set size now, in KiB (from /proc)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def load_average() -> list[float]:
    return list(os.getloadavg())
