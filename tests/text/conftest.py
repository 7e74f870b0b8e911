"""Fixtures for the long-text tests (the helpers are in documents_support.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from documents_support import CREDENTIALS, sync_class

from cmclient.testing import ComprehendMedicalMock


@pytest.fixture
def mock() -> ComprehendMedicalMock:
    return ComprehendMedicalMock()


@pytest.fixture
def make_client(mock: ComprehendMedicalMock) -> Iterator[Callable[..., Any]]:
    """``make_client(**options)``: a sync client with the document methods, on the mock."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("quotas", None)
        client = sync_class()(
            region="us-east-1", credentials=CREDENTIALS,
            endpoint_url="https://comprehendmedical.us-east-1.amazonaws.com",
            http_client=httpx.Client(transport=mock.transport()), **options,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    return make_client()
