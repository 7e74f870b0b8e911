"""The pure halves of the batch path: the upload plan (input rules, splitting, the
record of parts) and the joining of a split document's results, with no I/O."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cmclient import errors
from cmclient._protocol import batch as _batch
from cmclient._protocol.batch import (
    DocumentResult,
    PartJoiner,
    PartSpan,
    SplitDocument,
    UnprocessedDocument,
    fold_unprocessed,
    plan_upload,
    read_parts_record,
)
from cmclient.models import DetectEntitiesV2Response
from cmclient.testing._clinical import DETECTORS

KIND = _batch.batch_kind("entities-v2")


def sentences(count: int) -> str:
    return " ".join(f"Sentence {n}: started lisinopril 10 mg for hypertension."
                    for n in range(count))


def test_a_plan_keeps_input_order_and_uploads_under_the_folder() -> None:
    plan = plan_upload([("b.txt", "Takes aspirin."), ("a/c.txt", b"Denies fever.")],
                       bucket="notes", prefix="in")
    assert plan.prefix == "in/" and plan.parts_key is None and plan.parts_record is None
    assert plan.objects == [("in/b.txt", b"Takes aspirin."), ("in/a/c.txt", b"Denies fever.")]
    assert plan.documents == 2 and plan.split == {}
    assert plan_upload([("x", "y")], bucket="notes", prefix="").objects == [("x", b"y")]


def test_a_long_text_is_split_into_recorded_parts() -> None:
    text = "é" + sentences(900)  # over 40,000 bytes, a two-byte character first
    plan = plan_upload([("long.txt", text), ("short.txt", "ok")], bucket="b", prefix="in/")
    parts = plan.split["long.txt"].parts
    assert len(parts) >= 2 and plan.documents == 2
    assert [key for key, _ in plan.objects[:-1]] == [f"in/{p.name}" for p in parts]
    assert parts[0].name == "long.txt.part-001" and parts[0].begin == 0
    for span, (_, data) in zip(parts, plan.objects, strict=False):
        assert len(data) <= 40_000 and data.decode() == text[span.begin:span.end]
    assert plan.parts_key == "in.cmclient-parts.json"
    assert read_parts_record(plan.parts_record or b"") == plan.split
    assert json.loads(plan.parts_record or b"")["Prefix"] == "in/"
    # Bytes over the limit are split too, when they are UTF-8.
    assert plan_upload([("long.txt", text.encode())], bucket="b", prefix="in/").split == (
        {"long.txt": plan.split["long.txt"]})


def test_every_problem_is_listed_by_name_and_none_quotes_the_text() -> None:
    with pytest.raises(errors.ParamValidationError) as caught:
        plan_upload([
            ("", "text"), ("/abs.txt", "text"), ("a//b", "text"), ("dup", "x"), ("dup", "y"),
            ("blank", "   \n" * 20_000), ("latin", "Pérez".encode("latin-1")),
            ("big-latin", b"\xff" * 40_001), ("n", 42), ("x" * 1022, "fine"),
            ("long", sentences(900)), ("long.part-001", "clashes with a part"),
        ], bucket="b/c", prefix="/in")  # type: ignore[list-item]
    paths = [path for path, _ in caught.value.problems]
    assert paths[:2] == ["bucket", "prefix"]
    for name in ("''", "'/abs.txt'", "'a//b'", "'dup'", "'blank'", "'latin'", "'big-latin'",
                 "'n'", "'long.part-001'"):
        assert f"documents[{name}]" in paths, name
    assert any(path.startswith("documents['xxxx") for path in paths)  # key over 1,024 bytes
    assert "Pérez" not in str(caught.value) and "clashes" not in str(caught.value)


def test_a_corrupt_parts_record_is_an_error_naming_its_key() -> None:
    for data in (b"not json", b"{}", b'{"Documents": {"a": {"Characters": 1, "Parts": []}}}'):
        with pytest.raises(errors.ResponseParseError, match=r"in\.cmclient-parts\.json"):
            read_parts_record(data, key="in.cmclient-parts.json")


def test_unprocessed_parts_stand_for_their_document() -> None:
    split = {"long.txt": SplitDocument(10, (PartSpan("long.txt.part-001", 0, 5),
                                            PartSpan("long.txt.part-002", 5, 10)))}
    listed = [UnprocessedDocument("a.txt", "X", "bad"),
              UnprocessedDocument("long.txt.part-002", "InvalidEncodingException", "not UTF-8"),
              UnprocessedDocument("long.txt.part-001", "Y", "also")]
    folded, failed = fold_unprocessed(listed, split)
    assert failed == {"long.txt"}
    assert [(u.input_name, u.error_code) for u in folded] == [
        ("a.txt", "X"), ("long.txt", "InvalidEncodingException")]
    assert folded[1].error_message == "part 2 of 2: not UTF-8"


def test_parts_are_joined_in_any_order_and_others_pass_through() -> None:
    text = sentences(3) + "\n\n" + sentences(4)
    cut = text.index("\n\n") + 2
    split = {"n.txt": SplitDocument(len(text), (PartSpan("n.txt.part-001", 0, cut),
                                                PartSpan("n.txt.part-002", cut, len(text))))}

    def result(name: str, piece: str) -> DocumentResult[Any]:
        return DocumentResult(name, DetectEntitiesV2Response.model_validate(
            DETECTORS["DetectEntitiesV2"](piece)), f"out/{name}.out")

    joiner = PartJoiner(KIND, split)
    other = result("other.txt", "Takes aspirin.")
    assert joiner.feed(result("n.txt.part-002", text[cut:])) is None
    assert joiner.feed(other) is other
    joined = joiner.feed(result("n.txt.part-001", text[:cut]))
    assert joined is not None and joined.input_name == "n.txt"
    assert joined.output_key == "out/n.txt.part-001.out"
    whole = DetectEntitiesV2Response.model_validate(DETECTORS["DetectEntitiesV2"](text))
    assert [(e.begin_offset, e.end_offset, e.text) for e in joined.result.entities] == [
        (e.begin_offset, e.end_offset, e.text) for e in whole.entities]
    assert joiner.leftovers() == []
    # A document whose other part never comes is given back as its parts, at the end;
    # one whose part was unprocessed gives nothing.
    lonely = PartJoiner(KIND, split)
    assert lonely.feed(result("n.txt.part-002", text[cut:])) is None
    assert [r.input_name for r in lonely.leftovers()] == ["n.txt.part-002"]
    failed = PartJoiner(KIND, split, failed={"n.txt"})
    assert failed.feed(result("n.txt.part-001", text[:cut])) is None
    assert failed.leftovers() == []
