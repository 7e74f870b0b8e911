"""What every section shares: the sink process, the fixed inputs, and the statistics."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
REGION = "us-east-1"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
JOB_ID = "0123456789abcdef0123456789abcdef"


@contextlib.contextmanager
def sink(tls_pem: Path | None = None, delay_ms: float = 0.0) -> Iterator[str]:
    """Start the sink in its own process (HTTPS with ``tls_pem``, each response
    ``delay_ms`` late); yield its base URL."""
    args = ["--delay-ms", str(delay_ms)] + (["--tls", str(tls_pem)] if tls_pem else [])
    proc = subprocess.Popen(
        [PYTHON, "-m", "bench.sink", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"{'https' if tls_pem else 'http'}://127.0.0.1:{port}"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


#: Variables of this machine's environment that would change what a contender trusts
#: or where it connects: each contender gets only its own CA setting, and no proxy.
_UNSET = {"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
          "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}


@contextlib.contextmanager
def environ(**values: str) -> Iterator[None]:
    """This process's environment, for in-process contenders: the CA and proxy
    variables that ``child_env`` drops (and AWS_CA_BUNDLE) unset, ``values`` set;
    restored afterwards."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.upper() in _UNSET or key in ("AWS_CA_BUNDLE",):
            del os.environ[key]
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def child_env(**extra: str) -> dict[str, str]:
    """An environment where neither client reads the user's AWS files or variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k.upper() not in _UNSET}
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


def rotations(names: Sequence[T], rounds: int) -> Iterator[list[T]]:
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
