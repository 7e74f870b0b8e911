"""Every code block of the README runs, against the mock service on loopback.

Python blocks are executed (a ``def test_*`` a block defines is called too, with the
pytest fixtures it names); ``cmclient`` command lines are run as the real command. The
only lines not run are the set-up commands, each for a stated reason.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmclient.testing import ComprehendMedicalMock

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)
# Lines of shell blocks that are not run here, and why.
NOT_RUN = {
    "make demo": "tests/test_demo.py runs the demo itself",
    "make test": "CI runs it; running it here would recurse",
    "pip install": "installing needs the network",
}


def blocks(language: str) -> list[str]:
    return [code for lang, code in BLOCK.findall(README.read_text()) if lang == language]


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    mock = ComprehendMedicalMock(job_duration=0.5, queue_seconds=0.1)
    with mock.serve() as url:
        yield url


@pytest.fixture
def aws_home(mock_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment like a developer's: a default and a 'clinic' profile, keys in the
    credentials file, and the endpoint pointed at the mock."""
    config = tmp_path / "config"
    config.write_text("[default]\nregion = us-east-1\n\n[profile clinic]\nregion = us-east-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n\n"
        "[clinic]\naws_access_key_id = AKIDCLINIC\naws_secret_access_key = secret\n")
    env = {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
           "AWS_ENDPOINT_URL_COMPREHENDMEDICAL": mock_url, "AWS_ENDPOINT_URL_S3": mock_url,
           "AWS_RETRY_MODE": "standard"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_the_readme_has_the_blocks_this_test_expects() -> None:
    assert len(blocks("python")) >= 8
    assert len(blocks("sh")) >= 3


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_block_runs(index: int, aws_home: dict[str, str], mock_url: str) -> None:
    code = blocks("python")[index]
    namespace: dict[str, object] = {"__name__": f"readme_block_{index}"}
    exec(compile(code, f"README.md python block {index}", "exec"), namespace)
    for name, function in list(namespace.items()):
        if name.startswith("test_") and inspect.isfunction(function):
            mock = ComprehendMedicalMock()
            fixtures = {"comprehend_medical_mock": mock, "comprehend_medical": mock.client()}
            wanted = inspect.signature(function).parameters
            result = function(**{p: fixtures[p] for p in wanted})
            if inspect.iscoroutine(result):
                asyncio.run(result)


def shell_lines() -> list[str]:
    return [line.split("  #")[0].strip() for code in blocks("sh")
            for line in code.splitlines() if line.strip()]


@pytest.mark.parametrize("line", shell_lines())
def test_shell_line_runs(line: str, aws_home: dict[str, str]) -> None:
    skipped = [reason for prefix, reason in NOT_RUN.items() if line.startswith(prefix)]
    if skipped:
        pytest.skip(skipped[0])
    words = shlex.split(line)
    assert words[0] == "cmclient", f"README shell line of a kind this test cannot run: {line}"
    command = [sys.executable, "-m", "cmclient", *words[1:]]
    env = {**os.environ, **aws_home}
    if words[1] == "mock-server":
        server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            assert server.stdout.readline().startswith("http://127.0.0.1:")
        finally:
            server.terminate()
        assert server.wait(timeout=10) == 0
        return
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
