"""pytest fixtures for the mock, registered through the ``pytest11`` entry point.

* ``comprehend_medical_mock``: a fresh ``ComprehendMedicalMock`` per test.
* ``comprehend_medical``: a ``cmclient.ComprehendMedical`` client wired to it
  in-process (no sockets), closed after the test.

Override ``comprehend_medical_mock`` in a conftest.py to configure the mock
(credentials, job durations, rate limits). This module imports only pytest: the mock
is imported when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from cmclient import ComprehendMedical
    from cmclient.testing import ComprehendMedicalMock


@pytest.fixture
def comprehend_medical_mock() -> ComprehendMedicalMock:
    """A fresh in-memory Comprehend Medical for this test."""
    from cmclient.testing import ComprehendMedicalMock

    return ComprehendMedicalMock()


@pytest.fixture
def comprehend_medical(
    comprehend_medical_mock: ComprehendMedicalMock,
) -> Iterator[ComprehendMedical]:
    """A ComprehendMedical client talking to ``comprehend_medical_mock`` in-process."""
    client = comprehend_medical_mock.client()
    try:
        yield client
    finally:
        client.close()
