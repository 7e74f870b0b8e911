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
import operator
import types
import typing
from collections.abc import Iterator, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel

from cmclient._generated import operations as ops
from cmclient.errors import ParamValidationError
from cmclient.text import TEXT_LIMITS, Estimate, TextChunk, billed_units, split_text

if TYPE_CHECKING:
    from cmclient._protocol.operation import Operation

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
    if isinstance(value, Enum):
        return str(value._value_)  # what ``value.value`` is, without the descriptor
    return str(getattr(value, "value", value))


def _found(span: Any, model: Any, chunk: int, order: int, shift: int) -> _Found:
    """``model`` (an entity, or an unmapped attribute whose ``span`` is its attribute)
    with its span re-based by ``shift``; -1 for a span without offsets."""
    begin, end = (-1, -1)
    if span is not None and span.begin_offset is not None and span.end_offset is not None:
        begin, end = span.begin_offset + shift, span.end_offset + shift
    score = getattr(span, "score", None)
    # (tuple.__new__ skips the generated __new__: one of these is made per entity)
    return tuple.__new__(_Found, (begin, end, chunk, order, _kind(span),
                                  score if score is not None else 0.0, model))


def _same(a: _Found, b: _Found) -> bool:
    """Two findings of different chunks that are one: same type, overlapping by more
    than half of the shorter span."""
    if a.chunk == b.chunk or a.kind != b.kind or a.begin < 0 or b.begin < 0:
        return False
    overlap = min(a.end, b.end) - max(a.begin, b.begin)
    shorter = min(a.end - a.begin, b.end - b.begin)
    return shorter > 0 and overlap * 2 > shorter


_POSITION = operator.itemgetter(0, 1, 2, 3)  # begin, end, chunk, order


def _deduplicate(found: list[_Found]) -> list[_Found]:
    """Keep one of each set of findings that overlapping chunks share (the higher
    score; the earlier chunk's on a tie), in order of position."""
    found.sort(key=_POSITION)
    kept: dict[tuple[int, int], _Found] = {}
    active: list[_Found] = []  # kept findings that may still overlap later ones
    for item in found:
        twin = None
        if active:
            begin = item.begin
            active = [a for a in active if a.end > begin and (a.chunk, a.order) in kept]
            for a in active:
                if _same(a, item):
                    twin = a
                    break
        if twin is None:
            kept[item.chunk, item.order] = item
            active.append(item)
        elif item.score > twin.score:
            del kept[twin.chunk, twin.order]
            kept[item.chunk, item.order] = item
            active.append(item)
    # Kept in the order of ``found`` (a replacement is added when it is reached), which
    # is the order of position.
    return list(kept.values())


def _covered(item: _Found, mapped: list[_Found], begins: list[int], longest: int) -> bool:
    """Whether another chunk mapped ``item`` (an unmapped attribute) to an entity."""
    lo = bisect.bisect_left(begins, item.begin - longest)
    hi = bisect.bisect_left(begins, item.end)
    return any(_same(item, other) for other in mapped[lo:hi])


#: The fields ``_renumbered`` changes by name.
_OFFSETS = frozenset({"begin_offset", "end_offset"})
_NAMED = _OFFSETS | {"id"}
_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})


def _leaf(annotation: Any) -> bool:
    """Whether a field so annotated holds no model (so no offset and no id) once
    validated: text, numbers, enums, None, and unions of them."""
    if annotation in _LEAF_TYPES:
        return True
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return all(_leaf(arg) for arg in typing.get_args(annotation))
    return False


class _Walked(dict[type, "tuple[str, ...] | None"]):
    """By type: None when it is not a model class, else the names of its fields that
    ``_renumbered`` looks at, in order (the order new ids are handed out in): the named
    ones, and those that may hold models. The others (most of an entity's, all of a
    trait's) cannot change and are not walked.

    (``isinstance(value, BaseModel)`` goes through the ABC machinery of pydantic's
    metaclass, which costs more than the rest of looking at a field.)"""

    def __missing__(self, kind: type) -> tuple[str, ...] | None:
        names = None
        if issubclass(kind, BaseModel):
            names = tuple(name for name, info in kind.model_fields.items()
                          if name in _NAMED or not _leaf(info.annotation))
        self[kind] = names
        return names


_WALKED = _Walked()


class _PlainCopy(dict[type, bool]):
    """By model class: whether ``_copied`` makes what ``model_copy`` makes (it does not
    when the model keeps extra members)."""

    def __missing__(self, kind: type[BaseModel]) -> bool:
        self[kind] = plain = kind.model_config.get("extra") != "allow"
        return plain


_PLAIN_COPY = _PlainCopy()


_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _copied(model: ModelT, update: dict[str, Any]) -> ModelT:
    """``model.model_copy(update=update)``, made the way pydantic makes it (a new
    instance with the fields, the set fields and no extras or private values) without
    its generic steps: the merge copies every entity and attribute of a long note's
    answer."""
    cls = type(model)
    if (not _PLAIN_COPY[cls] or model.__pydantic_extra__ is not None
            or getattr(model, "__pydantic_private__", None) is not None):
        return model.model_copy(update=update)
    new = cls.__new__(cls)
    values = new.__dict__
    values.update(model.__dict__)
    values.update(update)
    _set_fields_set(new, model.__pydantic_fields_set__.union(update))
    _set_extra(new, None)
    _set_private(new, None)
    return new


def _renumbered(model: ModelT, shift: int, ids: dict[int, int], fresh: Iterator[int]) -> ModelT:
    """``model`` with every offset in it moved by ``shift`` and every id renumbered
    through ``ids`` (one chunk's old id to new id, filled from ``fresh``)."""
    update: dict[str, Any] = {}
    values = model.__dict__
    walked = _WALKED
    for name in walked[type(model)] or ():
        value = values.get(name)
        if value is None:
            continue
        kind = type(value)
        if kind is list:
            if value:
                items = _list_renumbered(value, shift, ids, fresh)
                if items is not None:
                    update[name] = items
        elif name in _OFFSETS and isinstance(value, int):
            update[name] = value + shift
        elif name == "id" and isinstance(value, int):
            new = ids.get(value)
            if new is None:
                new = ids[value] = next(fresh)
            update[name] = new
        elif walked[kind] is not None:
            update[name] = _renumbered(value, shift, ids, fresh)
        elif isinstance(value, list):
            items = _list_renumbered(value, shift, ids, fresh)
            if items is not None:
                update[name] = items
    return _copied(model, update) if update else model


def _list_renumbered(
    value: list[Any], shift: int, ids: dict[int, int], fresh: Iterator[int]
) -> list[Any] | None:
    """A list's items renumbered, or None when it holds no model (and stays as it is).
    A list of models with nothing to renumber (traits) is copied as it is."""
    walked = _WALKED
    walk: bool | None = None
    for item in value:
        names = walked[type(item)]
        if names is not None:
            walk = bool(names)
            if walk:
                break
    if walk is None:
        return None
    if not walk:
        return value.copy()
    return [item if walked[type(item)] is None else _renumbered(item, shift, ids, fresh)
            for item in value]


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
        shift = chunk.begin
        for order, entity in enumerate(getattr(response, "entities", None) or ()):
            entities.append(_found(entity, entity, number, order, shift))
        for order, item in enumerate(getattr(response, "unmapped_attributes", None) or ()):
            unmapped.append(_found(item.attribute, item, number, order, shift))
    kept = _deduplicate(entities)

    kept_unmapped: list[_Found] = []
    if unmapped:  # (the entities' attributes are only needed to drop unmapped ones)
        mapped: list[_Found] = []
        for item in kept:
            shift = chunks[item.chunk].begin
            for order, attribute in enumerate(getattr(item.model, "attributes", None) or ()):
                mapped.append(_found(attribute, attribute, item.chunk, order, shift))
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
