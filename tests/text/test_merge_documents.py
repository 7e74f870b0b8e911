"""Merging per-chunk answers into one (``cmclient._protocol.documents``), as properties over
long generated text with a fast stand-in service, and the merge rules by example."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from documents_support import (
    FakeAsync,
    FakeSync,
    clinical_text,
    fake_response,
    offsets_hold,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cmclient import models
from cmclient._generated.operations import DETECT_ENTITIES_V2, DETECT_PHI, INFER_SNOMEDCT
from cmclient._protocol import documents as _documents
from cmclient.text import TextChunk

OPERATIONS = list(_documents.TEXT_OPERATIONS)


def whole_text_findings(operation: Any, text: str) -> set[tuple[int, int, str]]:
    return {(e.begin_offset, e.end_offset, str(getattr(e.type, "value", e.type)))
            for e in fake_response(operation, text).entities or ()}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(seed=1, length=200_000, operation="detect_entities_v2", max_bytes=20_000, overlap=200)
@given(
    seed=st.integers(0, 2**32 - 1),
    length=st.integers(500, 200_000),
    operation=st.sampled_from(OPERATIONS),
    max_bytes=st.sampled_from([400, 3_000, 20_000]),
    overlap=st.sampled_from([0, 0, 100, 300]),
)
def test_merged_offsets_ids_and_findings(
    seed: int, length: int, operation: str, max_bytes: int, overlap: int
) -> None:
    text = clinical_text(seed, length)
    service = FakeSync()
    result = service.analyze_document(text, operation=operation, max_bytes=max_bytes,
                                      overlap=overlap)
    row = _documents.TEXT_OPERATIONS[operation]
    assert type(result) is row.output_model
    offsets_hold(text, result)

    merged = [(e.begin_offset, e.end_offset, str(getattr(e.type, "value", e.type)))
              for e in result.entities or ()]
    assert merged == sorted(merged), "in order of position"
    assert len(merged) == len(set(merged)), "what overlapping chunks share is kept once"
    # Everything the merged answer has is in the whole text, and everything the whole
    # text has that lies inside one chunk is in the merged answer.
    expected = whole_text_findings(row, text)
    assert set(merged) <= expected
    chunks = service.analyze_document(text, operation=operation, max_bytes=max_bytes,
                                      overlap=overlap, dry_run=True).chunks
    inside = {f for f in expected if any(c.begin <= f[0] and f[1] <= c.end for c in chunks)}
    assert inside <= set(merged)
    if len(chunks) > 1:
        assert result.pagination_token is None
    if operation == "infer_snomedct":
        assert result.characters.original_text_characters == len(text)


def test_a_text_within_the_limit_is_one_call_and_its_answer_unchanged() -> None:
    text = "  Started lisinopril 10 mg daily for hypertension.\n"
    service = FakeSync()
    result = service.analyze_document(text)
    assert service.sent == [text]
    assert result == fake_response(DETECT_ENTITIES_V2, text)
    assert result.pagination_token == "page-of-this-chunk"


def test_the_async_mixin_merges_the_same() -> None:
    text = clinical_text(5, 30_000, long_words=False)

    async def run() -> Any:
        return await FakeAsync().analyze_document(text, operation="detect_entities",
                                                  max_bytes=2_000, overlap=150)

    assert asyncio.run(run()) == FakeSync().analyze_document(
        text, operation="detect_entities", max_bytes=2_000, overlap=150)


# --- the rules, by example ---------------------------------------------------------------


def entity(id_: int, begin: int, end: int, text: str, *, score: float = 0.9,
           type_: str = "DX_NAME", attributes: list[dict[str, Any]] | None = None,
           ) -> dict[str, Any]:
    return {"Id": id_, "BeginOffset": begin, "EndOffset": end, "Text": text[begin:end],
            "Score": score, "Type": type_, "Category": "MEDICAL_CONDITION",
            "Attributes": attributes or []}


def attribute(id_: int, begin: int, end: int, text: str, type_: str = "DOSAGE"
              ) -> dict[str, Any]:
    return {"Id": id_, "BeginOffset": begin, "EndOffset": end, "Text": text[begin:end],
            "Score": 0.8, "Type": type_}


def merge(operation: Any, text: str, chunks: list[TextChunk], docs: list[dict[str, Any]]
          ) -> Any:
    name = next(n for n, row in _documents.TEXT_OPERATIONS.items() if row is operation)
    options = _documents.options("test", operation=name, overlap=0, max_concurrency=1,
                                 max_bytes=None)
    plan = _documents.Plan(options, text, chunks)
    responses = [operation.output_model.model_validate(d) for d in docs]
    return _documents.merge(plan, responses)


TEXT = "Fever and cough. Chest pain at rest. No nausea."


def test_an_entity_two_chunks_found_is_kept_once_with_the_higher_score() -> None:
    first, second = TextChunk(TEXT[:36], 0), TextChunk(TEXT[17:], 17)
    merged = merge(DETECT_ENTITIES_V2, TEXT, [first, second], [
        {"Entities": [entity(0, 0, 5, first.text), entity(1, 17, 27, first.text, score=0.6)]},
        {"Entities": [entity(0, 0, 10, second.text, score=0.7),
                      entity(1, 23, 29, second.text)]},
    ])
    assert [(e.begin_offset, e.end_offset, e.score, e.text) for e in merged.entities] == [
        (0, 5, 0.9, "Fever"), (17, 27, 0.7, "Chest pain"), (40, 46, 0.9, "nausea")]
    assert [e.id for e in merged.entities] == [0, 1, 2]


def test_overlapping_by_half_or_less_or_of_another_type_is_not_the_same_entity() -> None:
    text = "abcdefghij"
    chunks = [TextChunk(text[:8], 0), TextChunk(text[2:], 2)]
    merged = merge(DETECT_ENTITIES_V2, text, chunks, [
        {"Entities": [entity(0, 0, 4, chunks[0].text), entity(1, 4, 8, chunks[0].text)]},
        # 2..6 overlaps 0..4 by 2 of 4 (exactly half): a different entity. 4..8 again,
        # but of another type: a different entity.
        {"Entities": [entity(0, 0, 4, chunks[1].text),
                      entity(1, 2, 6, chunks[1].text, type_="ACUITY")]},
    ])
    assert [(e.begin_offset, e.end_offset, e.type) for e in merged.entities] == [
        (0, 4, "DX_NAME"), (2, 6, "DX_NAME"), (4, 8, "DX_NAME"), (4, 8, "ACUITY")]


def test_attributes_and_unmapped_attributes_are_rebased_and_deduplicated() -> None:
    text = "Took aspirin 81 mg. Then 81 mg again later on."
    chunks = [TextChunk(text[:19], 0), TextChunk(text[5:], 5)]
    c0, c1 = chunks[0].text, chunks[1].text
    merged = merge(DETECT_ENTITIES_V2, text, chunks, [
        {"Entities": [entity(4, 5, 12, c0, type_="GENERIC_NAME",
                             attributes=[attribute(7, 13, 18, c0)])],
         "UnmappedAttributes": []},
        # The second chunk saw the same dose unmapped (no drug before it in its text),
        # and one more dose that is its own.
        {"Entities": [], "UnmappedAttributes": [
            {"Type": "MEDICATION", "Attribute": attribute(2, 8, 13, c1)},
            {"Type": "MEDICATION", "Attribute": attribute(3, 20, 25, c1)}]},
    ])
    (drug,) = merged.entities
    assert (drug.begin_offset, drug.attributes[0].begin_offset) == (5, 13)
    assert [(u.attribute.begin_offset, u.attribute.text) for u in merged.unmapped_attributes] == [
        (25, "81 mg")]
    ids = [drug.id, drug.attributes[0].id, merged.unmapped_attributes[0].attribute.id]
    assert len(set(ids)) == 3
    offsets_hold(text, merged)


def test_ids_shared_within_a_chunk_stay_shared_and_other_chunks_get_new_ones() -> None:
    text = "Chest pain left arm. Chest pain left leg."
    chunks = [TextChunk(text[:20], 0), TextChunk(text[21:], 21)]
    c0, c1 = chunks[0].text, chunks[1].text
    merged = merge(DETECT_ENTITIES_V2, text, chunks, [
        {"Entities": [entity(0, 0, 10, c0, attributes=[attribute(1, 11, 19, c0, "SITE")]),
                      entity(1, 11, 19, c0, type_="SYSTEM_ORGAN_SITE")]},
        {"Entities": [entity(0, 0, 10, c1, attributes=[attribute(1, 11, 19, c1, "SITE")]),
                      entity(1, 11, 19, c1, type_="SYSTEM_ORGAN_SITE")]},
    ])
    first, site, second, other_site = merged.entities
    assert first.attributes[0].id == site.id
    assert second.attributes[0].id == other_site.id
    assert len({first.id, site.id, second.id, other_site.id}) == 4
    offsets_hold(text, merged)


def test_members_without_offsets_come_from_the_chunks() -> None:
    text = "Fever. Cough."
    chunks = [TextChunk("Fever.", 0), TextChunk("Cough.", 7)]
    merged = merge(INFER_SNOMEDCT, text, chunks, [
        {"Entities": [], "ModelVersion": "2.0", "PaginationToken": "x",
         "Characters": {"OriginalTextCharacters": 6},
         "SNOMEDCTDetails": {"Edition": "US"}},
        {"Entities": [], "ModelVersion": "2.0", "Characters": {"OriginalTextCharacters": 6}},
    ])
    assert isinstance(merged, models.InferSNOMEDCTResponse)
    assert merged.model_version == "2.0"
    assert merged.pagination_token is None
    assert merged.characters.original_text_characters == len(text)
    assert merged.snomedct_details.edition == "US"


def test_no_entities_member_in_any_chunk_stays_absent() -> None:
    text = "Fever. Cough."
    chunks = [TextChunk("Fever.", 0), TextChunk("Cough.", 7)]
    merged = merge(DETECT_PHI, text, chunks, [{}, {}])
    assert merged.entities is None


def test_one_response_per_chunk_is_needed() -> None:
    with pytest.raises(ValueError, match="one response per chunk"):
        merge(DETECT_PHI, "a b", [TextChunk("a", 0), TextChunk("b", 2)], [{}])
