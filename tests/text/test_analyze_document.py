"""``analyze_document`` end to end against the mock service, sync and async."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from documents_support import async_client, notes, offsets_hold
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmclient import errors
from cmclient.testing import ComprehendMedicalMock
from cmclient.text import billed_units, split_text

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ["detect_entities_v2", "detect_entities", "detect_phi", "infer_icd10_cm",
              "infer_rx_norm", "infer_snomedct"]
NOTE = ("Mr. John Smith, 64, seen on 03/14/2021. Denies chest pain. Started lisinopril "
        "10 mg PO daily for hypertension; metformin 500 mg twice daily continued. "
        "Abdominal pain resolved.")
# Sparse text: few findings, so the mock analyses long chunks quickly.
FILLER = "The patient rested comfortably overnight and the family visited in the afternoon. "


def spans(response: Any, shift: int = 0) -> list[tuple[int, int, str]]:
    return [(e.begin_offset + shift, e.end_offset + shift, str(getattr(e.type, "value", e.type)))
            for e in response.entities or ()]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_note_within_the_limit_is_the_single_call_exactly(
    operation: str, client: Any, mock: ComprehendMedicalMock
) -> None:
    single = getattr(client, operation)(text=NOTE)
    analyzed = client.analyze_document(NOTE, operation=operation)
    assert type(analyzed) is type(single)
    assert analyzed == single
    assert len(mock.calls) == 2


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_long_note_is_chunked_and_merged_for_every_operation(
    operation: str, client: Any, mock: ComprehendMedicalMock
) -> None:
    text = "\n\n".join([NOTE, FILLER * 3, NOTE, FILLER * 2, NOTE])
    result = client.analyze_document(text, operation=operation, max_bytes=400, overlap=80)
    assert len(mock.calls) > 3
    offsets_hold(text, result)
    if operation != "infer_icd10_cm" or result.entities:
        assert result.entities
    per_note = spans(getattr(client, operation)(text=NOTE))
    starts = [i for i in range(len(text)) if text.startswith(NOTE, i)]
    assert len(starts) == 3
    found = set(spans(result))
    for start in starts:
        assert {(b + start, e + start, t) for b, e, t in per_note} <= found


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(2, 4),
    length=st.integers(200, 1_200),
    operation=st.sampled_from(["detect_entities_v2", "detect_phi", "infer_rx_norm"]),
    overlap=st.sampled_from([0, 150]),
)
def test_what_single_calls_find_in_notes_is_found_in_the_joined_document(
    seed: int, count: int, length: int, operation: str, overlap: int, client: Any
) -> None:
    parts = notes(seed, count, length)
    text = "\n\n".join(parts)
    merged = client.analyze_document(text, operation=operation, max_bytes=900, overlap=overlap)
    offsets_hold(text, merged)
    found = set(spans(merged))
    start = 0
    for part in parts:
        single = getattr(client, operation)(text=part)
        assert set(spans(single, start)) <= found
        start += len(part) + 2


def test_the_documented_limit_by_default_counting_bytes(
    client: Any, mock: ComprehendMedicalMock
) -> None:
    text = (FILLER * 300)[:24_000] + " Résumé: café. " + "é" * 9_000  # > 20,000 bytes
    estimate = client.analyze_document(text, dry_run=True)
    assert len(estimate.chunks) == 3
    assert all(len(c.text.encode()) <= 20_000 for c in estimate.chunks)
    result = client.analyze_document(text)
    assert len(mock.calls) == 3
    offsets_hold(text, result)


def test_empty_or_whitespace_text_is_a_param_error_and_nothing_is_sent(
    client: Any, mock: ComprehendMedicalMock
) -> None:
    for text in ("", " \n\t\u3000"):
        with pytest.raises(errors.ParamValidationError) as caught:
            client.analyze_document(text)
        assert caught.value.problems[0][0] == "text"
    assert mock.calls == []


@pytest.mark.parametrize(("options", "names"), [
    ({"operation": "detect_pii"}, ["operation"]),
    ({"operation": "start_phi_detection_job"}, ["operation"]),
    ({"overlap": -5}, ["overlap"]),
    ({"max_concurrency": 0}, ["max_concurrency"]),
    ({"max_bytes": 2, "max_concurrency": 1.5}, ["max_concurrency", "max_bytes"]),
])
def test_bad_options_name_the_parameter_never_the_text(
    options: dict[str, Any], names: list[str], client: Any, mock: ComprehendMedicalMock
) -> None:
    with pytest.raises(errors.ParamValidationError) as caught:
        client.analyze_document("Patient John Smith has HIV.", **options)
    assert [path for path, _ in caught.value.problems] == names
    assert "Smith" not in str(caught.value) and "HIV" not in str(caught.value)
    assert mock.calls == []


def test_dry_run_sends_nothing(client: Any, mock: ComprehendMedicalMock) -> None:
    text = "\n\n".join([NOTE] * 10)
    estimate = client.analyze_document(text, operation="infer_rx_norm", max_bytes=500,
                                       overlap=50, dry_run=True)
    assert estimate.chunks == split_text(text, max_bytes=500, overlap=50)
    assert estimate.units == sum(billed_units(c.text) for c in estimate.chunks)
    assert estimate.requests == len(estimate.chunks)
    assert estimate.operation == "infer_rx_norm"
    assert "Smith" not in repr(estimate)
    assert mock.calls == []
    assert client.usage == {}


def test_a_chunk_that_fails_fails_the_call(client: Any, mock: ComprehendMedicalMock) -> None:
    text = "\n\n".join([NOTE] * 6)
    mock.fail_next(1, "InvalidRequestException", operation="DetectEntitiesV2")
    with pytest.raises(errors.InvalidRequestException):
        client.analyze_document(text, max_bytes=400, max_concurrency=2)


def test_chunks_are_sent_concurrently(make_client: Any, mock: ComprehendMedicalMock) -> None:
    client = make_client()
    text = "\n\n".join([NOTE] * 6)
    mock.set_latency(0.2)
    started = time.perf_counter()
    client.analyze_document(text, max_bytes=250, max_concurrency=6)
    assert time.perf_counter() - started < 0.8  # one after another: 1.2 s


def test_async_matches_sync(client: Any, mock: ComprehendMedicalMock) -> None:
    text = "\n\n".join([NOTE, FILLER, NOTE, FILLER * 2, NOTE])

    async def run() -> list[Any]:
        async with async_client(mock) as aclient:
            return [await aclient.analyze_document(text, operation=op, max_bytes=300,
                                                   overlap=60)
                    for op in OPERATIONS]

    expected = [client.analyze_document(text, operation=op, max_bytes=300, overlap=60)
                for op in OPERATIONS]
    assert asyncio.run(run()) == expected


def test_async_chunks_are_sent_concurrently(mock: ComprehendMedicalMock) -> None:
    text = "\n\n".join([NOTE] * 6)
    mock.set_latency(0.2)

    async def run() -> float:
        async with async_client(mock) as aclient:
            started = time.perf_counter()
            await aclient.analyze_document(text, max_bytes=250, max_concurrency=6)
            return time.perf_counter() - started

    assert asyncio.run(run()) < 0.8


def test_async_errors_cancel_the_other_chunks(mock: ComprehendMedicalMock) -> None:
    text = "\n\n".join([NOTE] * 8)
    mock.fail_next(1, "InvalidRequestException", operation="DetectEntitiesV2")

    async def run() -> None:
        async with async_client(mock) as aclient:
            with pytest.raises(errors.InvalidRequestException):
                await aclient.analyze_document(text, max_bytes=250, max_concurrency=2)
            assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    asyncio.run(run())


def test_the_sync_path_never_imports_asyncio() -> None:
    script = textwrap.dedent("""
        import sys, httpx
        from cmclient import ComprehendMedical, Credentials
        from cmclient._sync.documents import SyncDocuments

        if hasattr(ComprehendMedical, "analyze_document"):
            Client = ComprehendMedical
        else:
            class Client(SyncDocuments, ComprehendMedical):
                def _invoke(self, operation, params):
                    self._admit(operation, params)
                    return super()._invoke(operation, params)

        def answer(request):
            body = b'{"Entities": [], "ModelVersion": "1"}'
            return httpx.Response(200, stream=httpx.ByteStream(body), headers={
                "content-type": "application/x-amz-json-1.1",
                "content-length": str(len(body))})

        client = Client(region="us-east-1", credentials=Credentials("AKID", "secret"),
                        http_client=httpx.Client(transport=httpx.MockTransport(answer)))
        client.analyze_document("Fever. " * 100, max_bytes=100)
        list(client.analyze_many(["Fever."] * 20, max_concurrency=4))
        client.deidentify("Fever. " * 100, max_bytes=100)
        print("asyncio" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
