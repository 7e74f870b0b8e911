"""Long documents, sans I/O: which requests one analysis sends, and how their answers
become one answer.

``plan`` checks a call's options and cuts its text (``cmclient.text.split_text``) at
the operation's limit. ``merge`` turns the per-chunk response models back into one
response of the same type, as if the service had accepted the whole note:

* every offset is re-based onto the whole text: entities, their attributes, unmapped
  attributes, anything in the output that has ``BeginOffset``/``EndOffset`` (found by
  walking the models, so a member the service adds later is re-based too);
* ``Id``s are renumbered so they are unique in the merged response; within one chunk
  the same old id gets the same new id, so references between entities and
  attributes survive;
* an entity that two overlapping chunks both found is kept once: two entities from
  different chunks are the same when they have the same type and overlap by more than
  half of the shorter one, and the one with the higher score stays (the earlier chunk's
  on a tie). Unmapped attributes are merged by the same rule, and one that another
  chunk mapped to an entity is dropped;
* ``PaginationToken`` is dropped (it described one chunk); InferSNOMEDCT's
  ``Characters`` counts the whole text; every other member is the first chunk's.

The drivers (``_async_documents`` and its generated twin) send the requests.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel

from cmclient import _operations as ops
from cmclient.errors import ParamValidationError
from cmclient.text import TEXT_LIMITS, Estimate, TextChunk, billed_units, split_text

if TYPE_CHECKING:
    from cmclient._operation import Operation

__all__ = ["TEXT_OPERATIONS", "Options", "Plan", "TextOperation", "estimate", "merge",
           "options", "plan"]

#: The operations that analyze text, by method name.
TextOperation = Literal["detect_entities_v2", "detect_entities", "detect_phi",
                        "infer_icd10_cm", "infer_rx_norm", "infer_snomedct"]
TEXT_OPERATIONS: dict[str, Operation[Any, Any]] = {
    "detect_entities_v2": ops.DETECT_ENTITIES_V2,
    "detect_entities": ops.DETECT_ENTITIES,
    "detect_phi": ops.DETECT_PHI,
    "infer_icd10_cm": ops.INFER_ICD10_CM,
    "infer_rx_norm": ops.INFER_RX_NORM,
    "infer_snomedct": ops.INFER_SNOMEDCT,
}

ModelT = TypeVar("ModelT", bound=BaseModel)


class Options(NamedTuple):
    """One analysis call's checked options."""

    operation: str
    row: Operation[Any, Any]
    max_bytes: int
    overlap: int
    max_concurrency: int


class Plan(NamedTuple):
    """The requests an analysis of ``text`` sends: one per chunk."""

    options: Options
    text: str
    chunks: list[TextChunk]


def _count(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def options(
    caller: str,
    *,
    operation: Any,
    overlap: Any,
    max_concurrency: Any,
    max_bytes: Any,
) -> Options:
    """Check an analysis call's options; ``caller`` names the method in the error."""
    problems = []
    row = TEXT_OPERATIONS.get(operation) if isinstance(operation, str) else None
    if row is None:
        problems.append(("operation", f"must be one of {', '.join(TEXT_OPERATIONS)}"))
    if not _count(overlap, 0):
        problems.append(("overlap", "must be an int of at least 0 (characters)"))
    if not _count(max_concurrency, 1):
        problems.append(("max_concurrency", "must be an int of at least 1"))
    if max_bytes is not None and not _count(max_bytes, 4):
        problems.append(("max_bytes", "must be None or an int of at least 4 (bytes)"))
    if problems:
        raise ParamValidationError(caller, problems)
    assert row is not None
    limit = TEXT_LIMITS[operation] if max_bytes is None else max_bytes
    return Options(operation, row, limit, overlap, max_concurrency)


def plan(caller: str, text: Any, checked: Options) -> Plan:
    """The chunks ``text`` is sent as. A text within the limit is one chunk, the text
    itself; an empty or whitespace-only one is an error (nothing to analyze)."""
    if not isinstance(text, str):
        raise ParamValidationError(caller, [("text", "must be a str")])
    if not text or text.isspace():
        raise ParamValidationError(caller, [(
            "text", "is empty or only whitespace: there is nothing to analyze")])
    chunks = split_text(text, max_bytes=checked.max_bytes, overlap=checked.overlap)
    return Plan(checked, text, chunks)


def estimate(planned: Plan) -> Estimate:
    """What sending ``planned`` would cost."""
    return Estimate(planned.options.operation, planned.chunks,
                    sum(billed_units(chunk.text) for chunk in planned.chunks))


# --- merging --------------------------------------------------------------------------


class _Found(NamedTuple):
    """An entity (or unmapped attribute) of one chunk, with its re-based span."""

    begin: int
    end: int
    chunk: int
    order: int
    kind: str
    score: float
    model: Any


def _kind(model: Any) -> str:
    value = getattr(model, "type", None)
    return str(getattr(value, "value", value))


def _found(model: Any, span_of: Any, chunk: int, order: int, shift: int) -> _Found:
    span = span_of(model)
    begin, end = (-1, -1)
    if span is not None and span.begin_offset is not None and span.end_offset is not None:
        begin, end = span.begin_offset + shift, span.end_offset + shift
    score = getattr(span, "score", None)
    return _Found(begin, end, chunk, order, _kind(span), score if score is not None else 0.0,
                  model)


def _same(a: _Found, b: _Found) -> bool:
    """Two findings of different chunks that are one: same type, overlapping by more
    than half of the shorter span."""
    if a.chunk == b.chunk or a.kind != b.kind or a.begin < 0 or b.begin < 0:
        return False
    overlap = min(a.end, b.end) - max(a.begin, b.begin)
    shorter = min(a.end - a.begin, b.end - b.begin)
    return shorter > 0 and overlap * 2 > shorter


def _deduplicate(found: list[_Found]) -> list[_Found]:
    """Keep one of each set of findings that overlapping chunks share (the higher
    score; the earlier chunk's on a tie), in order of position."""
    found.sort(key=lambda f: (f.begin, f.end, f.chunk, f.order))
    kept: dict[tuple[int, int], _Found] = {}
    active: list[_Found] = []  # kept findings that may still overlap later ones
    for item in found:
        active = [a for a in active if a.end > item.begin and (a.chunk, a.order) in kept]
        twin = next((a for a in active if _same(a, item)), None)
        if twin is None:
            kept[item.chunk, item.order] = item
            active.append(item)
        elif item.score > twin.score:
            del kept[twin.chunk, twin.order]
            kept[item.chunk, item.order] = item
            active.append(item)
    return sorted(kept.values(), key=lambda f: (f.begin, f.end, f.chunk, f.order))


def _covered(item: _Found, mapped: list[_Found], begins: list[int], longest: int) -> bool:
    """Whether another chunk mapped ``item`` (an unmapped attribute) to an entity."""
    lo = bisect.bisect_left(begins, item.begin - longest)
    hi = bisect.bisect_left(begins, item.end)
    return any(_same(item, other) for other in mapped[lo:hi])


def _renumbered(model: ModelT, shift: int, ids: dict[int, int], fresh: Iterator[int]) -> ModelT:
    """``model`` with every offset in it moved by ``shift`` and every id renumbered
    through ``ids`` (one chunk's old id to new id, filled from ``fresh``)."""
    update: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if value is None:
            continue
        if name in ("begin_offset", "end_offset") and isinstance(value, int):
            update[name] = value + shift
        elif name == "id" and isinstance(value, int):
            new = ids.get(value)
            if new is None:
                new = ids[value] = next(fresh)
            update[name] = new
        elif isinstance(value, BaseModel):
            update[name] = _renumbered(value, shift, ids, fresh)
        elif isinstance(value, list) and any(isinstance(v, BaseModel) for v in value):
            update[name] = [_renumbered(v, shift, ids, fresh) if isinstance(v, BaseModel) else v
                            for v in value]
    return model.model_copy(update=update) if update else model


def _member(model: BaseModel, name: str) -> Any:
    return getattr(model, name, None)


def _none(responses: Sequence[BaseModel], name: str) -> bool:
    return all(_member(r, name) is None for r in responses)


def merge(planned: Plan, responses: Sequence[ModelT]) -> ModelT:
    """One response for the whole text from one response per chunk (see the module
    docstring for the rules). A plan of one chunk that is the whole text returns its
    response unchanged."""
    chunks = planned.chunks
    if len(responses) != len(chunks):
        raise ValueError("one response per chunk is needed")
    first = responses[0]
    if len(chunks) == 1 and chunks[0].begin == 0 and chunks[0].text == planned.text:
        return first
    fields = type(first).model_fields

    entities: list[_Found] = []
    unmapped: list[_Found] = []
    for number, (chunk, response) in enumerate(zip(chunks, responses, strict=True)):
        for order, entity in enumerate(getattr(response, "entities", None) or ()):
            entities.append(_found(entity, lambda m: m, number, order, chunk.begin))
        for order, item in enumerate(getattr(response, "unmapped_attributes", None) or ()):
            unmapped.append(_found(item, lambda m: m.attribute, number, order, chunk.begin))
    kept = _deduplicate(entities)

    mapped: list[_Found] = []
    for item in kept:
        shift = chunks[item.chunk].begin
        for order, attribute in enumerate(getattr(item.model, "attributes", None) or ()):
            mapped.append(_found(attribute, lambda m: m, item.chunk, order, shift))
    mapped.sort(key=lambda f: f.begin)
    begins = [f.begin for f in mapped]
    longest = max((f.end - f.begin for f in mapped), default=0)
    kept_unmapped = [u for u in _deduplicate(unmapped)
                     if not _covered(u, mapped, begins, longest)]

    fresh = itertools.count()
    ids: list[dict[int, int]] = [{} for _ in chunks]

    def rebuilt(items: list[_Found]) -> list[Any]:
        return [_renumbered(f.model, chunks[f.chunk].begin, ids[f.chunk], fresh) for f in items]

    update: dict[str, Any] = {}
    for name in fields:
        if name in ("entities", "unmapped_attributes", "pagination_token", "characters"):
            continue
        update[name] = next((v for v in (_member(r, name) for r in responses) if v is not None),
                            None)
    if "entities" in fields:
        update["entities"] = None if _none(responses, "entities") else rebuilt(kept)
    if "unmapped_attributes" in fields:
        update["unmapped_attributes"] = (None if _none(responses, "unmapped_attributes")
                                         else rebuilt(kept_unmapped))
    if "pagination_token" in fields:
        update["pagination_token"] = None
    if "characters" in fields:
        counted = next((c for c in (_member(r, "characters") for r in responses)
                        if c is not None), None)
        update["characters"] = None if counted is None else counted.model_copy(
            update={"original_text_characters": len(planned.text)})
    return first.model_copy(update=update)
