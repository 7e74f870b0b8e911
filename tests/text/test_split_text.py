"""``cmclient.text.split_text``: the chunk invariants, as properties over generated
clinical-looking text (up to 200,000 characters, multi-byte characters, every kind of
whitespace), and the choice of cut points, by example."""

from __future__ import annotations

import itertools
import re

import pytest
from documents_support import clinical_text
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cmclient.errors import ParamValidationError
from cmclient.text import TEXT_LIMITS, TextChunk, split_text, text_limit, utf8_length

TIGHT_ENDS = "\u3002\uff01\uff1f\uff61"


def word_around(text: str, position: int) -> str:
    """The whitespace-delimited word holding the cut at ``position``."""
    begin = position
    while begin > 0 and not text[begin - 1].isspace():
        begin -= 1
    end = position
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[begin:end]


def check_chunks(text: str, chunks: list[TextChunk], max_bytes: int, overlap: int) -> None:
    """Every invariant split_text promises."""
    if not text.strip():
        assert chunks == []
        return
    if utf8_length(text) <= max_bytes:
        assert chunks == [TextChunk(text, 0)]
        return
    assert chunks
    covered_to = 0
    previous: TextChunk | None = None
    for chunk in chunks:
        assert chunk.text, "no empty chunk"
        assert utf8_length(chunk.text) <= max_bytes
        assert text[chunk.begin:chunk.begin + len(chunk.text)] == chunk.text
        assert not chunk.text[0].isspace() and not chunk.text[-1].isspace()
        # Nothing but whitespace is left between what the chunks cover.
        assert not text[covered_to:chunk.begin].strip()
        if previous is not None:
            assert chunk.begin > previous.begin and chunk.end > previous.end
            if overlap == 0:
                assert chunk.begin >= previous.end
            else:
                carried = previous.end - chunk.begin
                assert carried <= 2 * overlap
                if carried > 0:
                    # It starts at a sentence or word start, and leaves room for new text.
                    assert text[chunk.begin - 1].isspace() or text[chunk.begin - 1] in TIGHT_ENDS
                    assert utf8_length(text[chunk.begin:previous.end]) * 2 <= max_bytes
        if (previous is not None and overlap == 0 and previous.end == chunk.begin
                and text[previous.end - 1] not in TIGHT_ENDS):
            # A cut with no whitespace at it is after a CJK full stop, or inside a word
            # that is itself over the limit.
            assert utf8_length(word_around(text, previous.end)) > max_bytes
        covered_to = max(covered_to, chunk.end)
        previous = chunk
    assert not text[covered_to:].strip()


ALPHABET = st.sampled_from(
    [*"abc xyz.!?,;:", "Dr.", "é", "ü", "漢", "。", "😀", "\u200d", "\u0301", "\n", "\r\n",
                             "\t", "\u00a0", "\u2028", "\u2029", "\u3000", "\x0b", "\x0c", "  "]
)


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(ALPHABET, max_size=400).map("".join),
    max_bytes=st.integers(4, 120),
    overlap=st.sampled_from([0, 0, 1, 5, 20, 60]),
)
def test_chunk_invariants_small(text: str, max_bytes: int, overlap: int) -> None:
    check_chunks(text, split_text(text, max_bytes=max_bytes, overlap=overlap), max_bytes, overlap)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(seed=13, length=200_000, max_bytes=20_000, overlap=200)
@example(seed=7, length=200_000, max_bytes=300, overlap=0)
@given(
    seed=st.integers(0, 2**32 - 1),
    length=st.one_of(st.integers(1_000, 200_000), st.sampled_from([100_000, 200_000])),
    max_bytes=st.sampled_from([300, 2_000, 5_000, 20_000]),
    overlap=st.sampled_from([0, 50, 200]),
)
def test_chunk_invariants_long_clinical_text(
    seed: int, length: int, max_bytes: int, overlap: int
) -> None:
    text = clinical_text(seed, length)
    check_chunks(text, split_text(text, max_bytes=max_bytes, overlap=overlap), max_bytes, overlap)


def test_a_text_that_fits_is_itself_unchanged() -> None:
    text = "  Patient denies chest pain.\n"
    assert split_text(text, max_bytes=100) == [TextChunk(text, 0)]


def test_empty_and_whitespace_only_give_no_chunks() -> None:
    assert split_text("", max_bytes=10) == []
    assert split_text(" \n\t\u3000\u2029 ", max_bytes=4) == []


def test_paragraphs_first() -> None:
    paragraphs = ["First paragraph. It has two sentences.",
                  "Second paragraph, one sentence.",
                  "Third paragraph. Also two sentences."]
    text = "\n\n".join(paragraphs)
    chunks = split_text(text, max_bytes=60)
    # Each pair of paragraphs is over the limit, each paragraph within it.
    assert [c.text for c in chunks] == paragraphs


def test_packs_whole_paragraphs_while_they_fit() -> None:
    text = "One. Two.\n\nThree.\n\nFour five six seven eight nine ten."
    chunks = split_text(text, max_bytes=20)
    assert chunks[0].text == "One. Two.\n\nThree."


def test_then_sentence_ends_and_a_negation_stays_with_its_sentence() -> None:
    text = ("Patient seen in clinic today. There is no chest pain. "
            "Lisinopril continued at 10 mg daily.")
    chunks = [c.text for c in split_text(text, max_bytes=60)]
    assert chunks == ["Patient seen in clinic today. There is no chest pain.",
                      "Lisinopril continued at 10 mg daily."]


def test_a_title_is_not_a_sentence_end() -> None:
    text = "Seen by the team. Dr. Smith and Mr. J. Jones agreed on the plan today."
    chunks = [c.text for c in split_text(text, max_bytes=60)]
    assert chunks[0] == "Seen by the team."
    assert "Dr. Smith" in chunks[1] or chunks[1].endswith("Dr.") is False


def test_line_breaks_end_list_items() -> None:
    text = "Medications:\n- lisinopril 10 mg daily\n- metformin 500 mg twice daily"
    chunks = [c.text for c in split_text(text, max_bytes=40)]
    assert chunks == ["Medications:\n- lisinopril 10 mg daily", "- metformin 500 mg twice daily"]


def test_cjk_sentences_are_cut_after_their_full_stop() -> None:
    text = "患者は胸痛を否定した。" * 4  # 11 characters, 33 bytes each
    chunks = split_text(text, max_bytes=70)
    assert [c.text for c in chunks] == ["患者は胸痛を否定した。" * 2] * 2


def test_then_whitespace() -> None:
    text = "word " * 30
    chunks = split_text(text, max_bytes=22)
    assert all(c.text.endswith("word") for c in chunks)
    assert [len(c.text) for c in chunks][:3] == [19, 19, 19]


def test_only_a_word_over_the_limit_is_cut_inside_and_never_inside_a_code_point() -> None:
    word = "é" * 25  # 50 bytes
    text = f"short {word} end"
    chunks = split_text(text, max_bytes=21)
    assert [c.text for c in chunks] == ["short", "é" * 10, "é" * 10, "é" * 5 + " end"]


def test_an_emoji_sequence_is_kept_whole_when_it_can_be() -> None:
    family = "\U0001f469\u200d\U0001f469\u200d\U0001f467"  # 18 bytes
    text = "a" * 10 + family + family
    chunks = split_text(text, max_bytes=30)
    assert "".join(c.text for c in chunks) == text
    for chunk in chunks:
        assert not chunk.text.startswith("\u200d") and not chunk.text.endswith("\u200d")


def test_overlap_carries_the_previous_sentences() -> None:
    sentences = [f"Sentence number {i} is here." for i in range(12)]
    text = " ".join(sentences)
    chunks = split_text(text, max_bytes=120, overlap=30)
    for before, after in itertools.pairwise(chunks):
        carried = text[after.begin:before.end]
        assert carried in sentences  # exactly the last sentence, about 30 characters
    plain = split_text(text, max_bytes=120)
    assert len(chunks) > len(plain)


def test_overlap_never_exceeds_half_the_limit() -> None:
    text = ("A very long sentence without an end in sight " * 3 + ". ") * 6
    for chunk, after in itertools.pairwise(split_text(text, max_bytes=100, overlap=1000)):
        assert utf8_length(text[after.begin:chunk.end]) <= 50


@pytest.mark.parametrize(("args", "names"), [
    ({"max_bytes": 3}, ["max_bytes"]),
    ({"max_bytes": "100"}, ["max_bytes"]),
    ({"max_bytes": True}, ["max_bytes"]),
    ({"max_bytes": 100, "overlap": -1}, ["overlap"]),
    ({"max_bytes": 0, "overlap": 1.5}, ["max_bytes", "overlap"]),
])
def test_bad_arguments_name_the_parameter(args: dict[str, object], names: list[str]) -> None:
    with pytest.raises(ParamValidationError) as caught:
        split_text("Patient has a secret condition", **args)  # type: ignore[arg-type]
    assert [path for path, _ in caught.value.problems] == names
    assert "secret" not in str(caught.value)


def test_a_text_that_is_not_a_str_is_an_error() -> None:
    with pytest.raises(ParamValidationError, match="text"):
        split_text(b"bytes", max_bytes=10)  # type: ignore[arg-type]


def test_the_limits_table() -> None:
    assert TEXT_LIMITS == {
        "detect_entities_v2": 20_000, "detect_entities": 20_000, "detect_phi": 20_000,
        "infer_icd10_cm": 10_000, "infer_rx_norm": 10_000, "infer_snomedct": 5_000,
    }
    assert text_limit("detect_phi") == 20_000
    with pytest.raises(ParamValidationError, match="operation"):
        text_limit("detect_pii")


def test_a_chunk_repr_shows_the_span_not_the_text() -> None:
    chunk = split_text("John Smith has HIV. " * 10, max_bytes=50)[1]
    assert repr(chunk) == f"TextChunk(begin={chunk.begin}, end={chunk.end})"
    assert not re.search("Smith|HIV", repr(chunk))
