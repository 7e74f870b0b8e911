"""`make test` (what .ci/run runs) fails when pytest collects no test (exit code 5)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_make_test(tmp_path: Path, pytest_exit: int) -> int:
    """``make test`` from a copy of the Makefile, with stand-in tools: ruff and mypy
    pass, pytest exits ``pytest_exit``. The venv stamp is fresh, so nothing installs."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool, code in (("ruff", 0), ("mypy", 0), ("pytest", pytest_exit)):
        script = bin_dir / tool
        script.write_text(f"#!/bin/sh\nexit {code}\n")
        script.chmod(0o755)
    stamp = tmp_path / ".venv" / ".installed"
    stamp.touch()
    later = (tmp_path / "pyproject.toml").stat().st_mtime + 10
    os.utime(stamp, (later, later))
    done = subprocess.run(["make", "test"], cwd=tmp_path, capture_output=True, text=True)
    return done.returncode


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_no_tests_collected_fails_make_test(tmp_path: Path) -> None:
    assert run_make_test(tmp_path, pytest_exit=5) != 0


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_passing_tests_pass_make_test(tmp_path: Path) -> None:
    assert run_make_test(tmp_path, pytest_exit=0) == 0


def test_ci_runs_make_test_and_stops_on_failure() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in script
    assert script.strip().splitlines()[-1] == "make test"
