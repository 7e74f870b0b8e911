"""``deidentify``: DetectPHI over the whole note, then ``redact``, against the mock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from documents_support import async_client

from cmclient import errors
from cmclient.phi import Redaction, redact
from cmclient.testing import ComprehendMedicalMock
from cmclient.text import Estimate

NOTE = ("Mr. John Smith was seen on 03/14/2021 at 123 Main Street. Call 206-555-0142 "
        "with results. Denies chest pain.")


def test_deidentify_is_detect_phi_then_redact(client: Any) -> None:
    done = client.deidentify(NOTE)
    assert isinstance(done, Redaction)
    expected = redact(NOTE, client.detect_phi(text=NOTE).entities)
    assert done.text == expected.text
    assert "John Smith" not in done.text and "206-555-0142" not in done.text
    assert done.text.endswith("with results. Denies chest pain.")


def test_a_long_note_is_redacted_everywhere(client: Any, mock: ComprehendMedicalMock) -> None:
    text = "\n\n".join([NOTE] * 8)
    done = client.deidentify(text, strategy="mask", max_bytes=300, overlap=40)
    assert len(mock.calls) > 2
    assert len(done.text) == len(text)
    assert "John" not in done.text and "555" not in done.text
    single = client.detect_phi(text=NOTE).entities
    for copy in range(8):
        start = copy * (len(NOTE) + 2)
        for found in single:
            begin, end = found.begin_offset + start, found.end_offset + start
            assert set(done.text[begin:end]) == {"*"}


def test_options_are_checked_before_anything_is_sent(
    client: Any, mock: ComprehendMedicalMock
) -> None:
    with pytest.raises(errors.ParamValidationError, match="key"):
        client.deidentify(NOTE, strategy="pseudonym")
    with pytest.raises(errors.ParamValidationError, match="text"):
        client.deidentify("  ")
    assert mock.calls == []


def test_pseudonyms_are_the_same_across_notes(client: Any) -> None:
    first = client.deidentify(NOTE, strategy="pseudonym", key=b"k", types={"NAME"})
    second = client.deidentify("Later, John Smith called back.", strategy="pseudonym",
                               key=b"k", types={"NAME"})
    (a,) = first.replacements
    (b,) = second.replacements
    assert a.replacement == b.replacement


def test_dry_run(client: Any, mock: ComprehendMedicalMock) -> None:
    estimate = client.deidentify(NOTE * 3, max_bytes=200, dry_run=True)
    assert isinstance(estimate, Estimate) and estimate.operation == "detect_phi"
    assert estimate.requests > 1
    assert mock.calls == []


def test_async_matches_sync(client: Any, mock: ComprehendMedicalMock) -> None:
    text = "\n\n".join([NOTE] * 3)

    async def run() -> str:
        async with async_client(mock) as aclient:
            done = await aclient.deidentify(text, max_bytes=250)
            return str(done.text)

    assert asyncio.run(run()) == client.deidentify(text, max_bytes=250).text
