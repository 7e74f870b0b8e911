"""Shared test helpers: canned responses from fixtures/, and clients wired to respx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from cmclient import Credentials

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ENDPOINT = "https://comprehendmedical.us-east-1.amazonaws.com/"
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


def load_fixture(relative: str) -> dict[str, Any]:
    """A JSON document from fixtures/, the one place tests read canned data from."""
    loaded: dict[str, Any] = json.loads((FIXTURES / relative).read_text())
    return loaded


def canned_response(relative: str) -> httpx.Response:
    """An httpx.Response built from a fixtures/responses document
    ({"status", "headers", "body" | "body_text"})."""
    doc = load_fixture(f"responses/{relative}")
    content = doc["body_text"].encode() if "body_text" in doc else json.dumps(doc["body"]).encode()
    return httpx.Response(doc["status"], headers=doc["headers"], content=content)


@pytest.fixture(autouse=True)
def hermetic_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's AWS settings, and none can reach the real instance
    metadata service: clients resolve region, endpoint and credentials from the
    environment and ~/.aws, so every test starts from an empty, known state."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    empty = tmp_path_factory.getbasetemp() / "no-aws-home"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def credentials() -> Credentials:
    return CREDENTIALS
