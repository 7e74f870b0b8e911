"""``cmclient.phi.redact``: properties of what is replaced and what is kept, the
strategies, and that nothing revealing reaches a repr or an error message."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmclient import errors, models
from cmclient.phi import Redaction, Replacement, pseudonym, redact

TYPES = ["NAME", "DATE", "ADDRESS", "PHONE_OR_FAX", "ID"]


def entity(text: str, begin: int, end: int, type_: str = "NAME",
           score: float | None = 0.9) -> models.Entity:
    return models.Entity(id=begin, begin_offset=begin, end_offset=end, text=text[begin:end],
                         type=type_, score=score, category="PROTECTED_HEALTH_INFORMATION")


@st.composite
def text_and_entities(draw: st.DrawFn) -> tuple[str, list[models.Entity]]:
    text = draw(st.text(alphabet=st.sampled_from([*"ab *[]-\n", "é", "漢", "😀", "\u00a0"]),
                        min_size=1, max_size=300))
    spans = draw(st.lists(st.tuples(st.integers(0, len(text) - 1), st.integers(1, 40),
                                    st.sampled_from(TYPES), st.floats(0, 1)), max_size=25))
    return text, [entity(text, b, min(len(text), b + n), t, s) for b, n, t, s in spans]


def union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for begin, end in sorted(spans):
        if merged and begin < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return [(b, e) for b, e in merged]


@settings(max_examples=200, deadline=None)
@given(case=text_and_entities(), types=st.one_of(st.none(), st.sets(st.sampled_from(TYPES))),
       min_score=st.sampled_from([0.0, 0.5]))
def test_mask_replaces_exactly_the_selected_characters(
    case: tuple[str, list[models.Entity]], types: set[str] | None, min_score: float
) -> None:
    text, entities = case
    chosen = [(e.begin_offset, e.end_offset) for e in entities
              if (types is None or e.type in types) and e.score >= min_score]
    replaced = {i for b, e in chosen for i in range(b, e)}
    done = redact(text, entities, strategy="mask", types=types, min_score=min_score)
    assert len(done.text) == len(text)
    for i, (before, after) in enumerate(zip(text, done.text, strict=True)):
        assert after == ("*" if i in replaced else before)
    assert [(r.begin, r.end) for r in done.replacements] == union(chosen)


@settings(max_examples=200, deadline=None)
@given(case=text_and_entities(), strategy=st.sampled_from(["label", "pseudonym"]))
def test_no_replaced_character_survives_and_every_other_maps_back(
    case: tuple[str, list[models.Entity]], strategy: str
) -> None:
    text, entities = case
    done = redact(text, entities, strategy=strategy, key=b"k")
    spans = union([(e.begin_offset, e.end_offset) for e in entities])
    assert [(r.begin, r.end) for r in done.replacements] == spans
    # The redacted text is the untouched pieces with the replacements between them.
    pieces, position = [], 0
    for item in done.replacements:
        pieces += [text[position:item.begin], item.replacement]
        position = item.end
    assert done.text == "".join([*pieces, text[position:]])
    for item in done.replacements:
        assert re.fullmatch(r"\[[A-Z_]+(-[0-9a-f]{6})?\]", item.replacement)
    inside = {i for b, e in spans for i in range(b, e)}
    for i in range(len(text)):
        if i not in inside:
            j = done.redacted_offset(i)
            assert done.text[j] == text[i]
            assert done.original_offset(j) == i
        else:
            start = done.redacted_offset(i)
            item = next(r for r in done.replacements if r.begin <= i < r.end)
            assert done.text[start:start + len(item.replacement)] == item.replacement
            assert done.original_offset(start) == item.begin


def test_replacement_is_by_offset_not_by_search() -> None:
    text = "Smith saw Dr. Smith at Smithfield Clinic."
    done = redact(text, [entity(text, 0, 5)])
    assert done.text == "[NAME] saw Dr. Smith at Smithfield Clinic."


def test_overlapping_spans_are_merged_with_the_best_type() -> None:
    text = "Contact John Smith Jr at home."
    done = redact(text, [entity(text, 8, 18, "NAME", 0.6), entity(text, 13, 21, "ID", 0.9)])
    assert done.text == "Contact [ID] at home."
    (item,) = done.replacements
    assert (item.begin, item.end, item.type, item.score) == (8, 21, "ID", 0.9)


@settings(max_examples=100, deadline=None)
@given(value=st.text(min_size=1, max_size=30), other=st.text(min_size=1, max_size=30))
def test_pseudonyms_are_stable_per_key_and_differ_between_keys(value: str, other: str) -> None:
    first = redact(f"{value}|", [entity(f"{value}|", 0, len(value))], strategy="pseudonym",
                   key="clinic-key")
    second = redact(f"x {value}", [entity(f"x {value}", 2, 2 + len(value))],
                    strategy="pseudonym", key=b"clinic-key")
    assert first.replacements[0].replacement == second.replacements[0].replacement
    assert (pseudonym(value, "NAME", b"key-one") != pseudonym(value, "NAME", b"key-two"))
    if " ".join(value.split()).casefold() != " ".join(other.split()).casefold():
        assert pseudonym(value, "NAME", b"k") != pseudonym(other, "NAME", b"k")


def test_a_pseudonym_folds_case_and_spacing() -> None:
    assert pseudonym("John  Smith", "NAME", b"k") == pseudonym("JOHN SMITH", "NAME", b"k")
    assert re.fullmatch(r"\[NAME-[0-9a-f]{6}\]", pseudonym("John Smith", "NAME", b"k"))


def test_a_callable_strategy_gets_the_entity_and_its_text() -> None:
    text = "Seen 03/14/2021 by John."
    seen: list[tuple[Any, str]] = []

    def shift_dates(found: Any, value: str) -> str:
        seen.append((found.type, value))
        return "<date>" if found.type == "DATE" else "<someone>"

    done = redact(text, [entity(text, 5, 15, "DATE"), entity(text, 19, 23)],
                  strategy=shift_dates)
    assert done.text == "Seen <date> by <someone>."
    assert seen == [("DATE", "03/14/2021"), ("NAME", "John")]


def test_types_and_min_score_choose_what_is_replaced() -> None:
    text = "John, 03/14/2021, 555-0142"
    entities = [entity(text, 0, 4, "NAME", 0.99), entity(text, 6, 16, "DATE", 0.4),
                entity(text, 18, 26, "PHONE_OR_FAX", None)]
    assert redact(text, entities, types={"DATE", "NAME"}).text == "[NAME], [DATE], 555-0142"
    assert redact(text, entities, min_score=0.5).text == "[NAME], 03/14/2021, [PHONE_OR_FAX]"


@pytest.mark.parametrize(("options", "names"), [
    ({"strategy": "blackout"}, ["strategy"]),
    ({"strategy": "pseudonym"}, ["key"]),
    ({"strategy": "pseudonym", "key": ""}, ["key"]),
    ({"key": 123}, ["key"]),
    ({"types": "NAME"}, ["types"]),
    ({"min_score": 1.5}, ["min_score"]),
])
def test_bad_options_name_the_parameter(options: dict[str, Any], names: list[str]) -> None:
    text = "John Smith has HIV."
    with pytest.raises(errors.ParamValidationError) as caught:
        redact(text, [entity(text, 0, 10)], **options)
    assert [path for path, _ in caught.value.problems] == names
    assert "Smith" not in str(caught.value)


def test_entities_from_another_text_are_an_error_not_a_wrong_redaction() -> None:
    text = "John Smith has HIV."
    wrong = models.Entity(begin_offset=5, end_offset=10, text="John ", type="NAME")
    with pytest.raises(errors.ParamValidationError) as caught:
        redact(text, [wrong])
    assert caught.value.problems[0][0] == "entities[0]"
    assert "John" not in str(caught.value) and "Smith" not in str(caught.value)
    for begin, end in ((-1, 3), (3, 3), (10, 40)):
        with pytest.raises(errors.ParamValidationError, match=r"entities\[0\]"):
            redact(text, [models.Entity(begin_offset=begin, end_offset=end, type="NAME")])
    with pytest.raises(errors.ParamValidationError, match="a str"):
        redact(text, [entity(text, 0, 4)], strategy=lambda e, v: None)  # type: ignore[arg-type,return-value]


def test_nothing_revealing_in_a_repr_or_a_log(caplog: pytest.LogCaptureFixture) -> None:
    text = "John Smith has HIV."
    caplog.set_level(logging.DEBUG)
    done = redact(text, [entity(text, 0, 10)], strategy="pseudonym", key="secret-key")
    logging.getLogger("cmclient").debug("redacted: %r %r", done, done.replacements)
    shown = repr(done) + repr(done.replacements) + caplog.text
    for secret in ("John", "Smith", "HIV", "NAME-", "secret-key"):
        assert secret not in shown
    assert repr(done) == "Redaction(characters=22, replacements=1)"
    assert isinstance(done, Redaction) and isinstance(done.replacements[0], Replacement)


def test_no_entities_changes_nothing() -> None:
    assert redact("Fever.", []).text == "Fever."
    assert redact("Fever.", []).replacements == []
