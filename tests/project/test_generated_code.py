"""The committed generated code is exactly what the generators produce today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_models_table_and_methods_match_the_service_model() -> None:
    done = subprocess.run([sys.executable, "tools/generate.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_sync_driver_is_the_unasync_of_the_async_driver() -> None:
    done = subprocess.run([sys.executable, "tools/unasync.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
