"""De-identification: replace the protected health information DetectPHI found.

``redact(text, entities)`` takes the ``entities`` of a ``DetectPHIResponse`` (from
``client.detect_phi`` or ``client.analyze_document(..., operation="detect_phi")``)
and replaces each one's span **by its offsets**, never by searching for its text: a
search-and-replace of "Smith" also hits "Smithfield" and the Dr. Smith who treated
the patient, and misses the span the service actually found. Overlapping spans are
merged into one first, so nothing is replaced twice and no piece of a name is left
between two replacements. Every character outside the replaced spans is kept as it
was, and ``Redaction`` maps offsets between the original and the redacted text.

Strategies: ``"label"`` (``[NAME]``), ``"mask"`` (``*`` for each character, so the
text keeps its length and every offset), ``"pseudonym"`` (``[NAME-3f2a9c]``: a keyed
hash, so the same name gets the same pseudonym in every document redacted with the
same key, and nobody without the key can test a guess against it), or a callable of
your own.

What was replaced is PHI, and a pseudonym or a label placed by a callable can
reveal it: no ``repr`` here shows a text, a replacement or a key, and no error message
repeats any of them.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cmclient.errors import ParamValidationError

__all__ = ["PHIEntity", "Redaction", "Replacement", "Strategy", "check_options", "redact"]


class PHIEntity(Protocol):
    """What ``redact`` reads from an entity: a DetectPHI ``Entity`` model has it."""

    @property
    def begin_offset(self) -> int | None: ...

    @property
    def end_offset(self) -> int | None: ...

    @property
    def type(self) -> Any: ...

    @property
    def score(self) -> float | None: ...

    @property
    def text(self) -> str | None: ...


#: ``"label"``, ``"mask"``, ``"pseudonym"``, or a callable given the entity whose span
#: is replaced and that span's text, returning the replacement.
Strategy = Literal["label", "mask", "pseudonym"] | Callable[[Any, str], str]

_STRATEGIES = ("label", "mask", "pseudonym")
PSEUDONYM_HEX_DIGITS = 6


@dataclass(frozen=True)
class Replacement:
    """One replaced span: ``begin`` and ``end`` are offsets into the original text,
    ``type`` the PHI type (``"NAME"``), ``score`` the service's confidence and
    ``replacement`` what now stands there. Its ``repr`` leaves out the replacement,
    which can be as revealing as the original."""

    begin: int
    end: int
    type: str
    score: float | None
    replacement: str = field(repr=False)


class Redaction:
    """The result of ``redact``: ``text``, the redacted text, and ``replacements``,
    in order of position. ``redacted_offset`` and ``original_offset`` map an offset
    from one text to the other. The ``repr`` shows sizes only."""

    __slots__ = ("_original_starts", "_redacted_starts", "replacements", "text")

    def __init__(self, text: str, replacements: list[Replacement]) -> None:
        self.text = text
        self.replacements = replacements
        starts = []
        shift = 0
        for item in replacements:
            starts.append(item.begin + shift)
            shift += len(item.replacement) - (item.end - item.begin)
        self._original_starts = [item.begin for item in replacements]
        self._redacted_starts = starts

    def redacted_offset(self, original: int) -> int:
        """Where the character at ``original`` in the original text is in the redacted
        text; an offset inside a replaced span maps to the start of its replacement."""
        i = bisect.bisect_right(self._original_starts, original) - 1
        if i < 0:
            return original
        item = self.replacements[i]
        if original < item.end:
            return self._redacted_starts[i]
        return self._redacted_starts[i] + len(item.replacement) + (original - item.end)

    def original_offset(self, redacted: int) -> int:
        """Where the character at ``redacted`` in the redacted text came from; an
        offset inside a replacement maps to the start of the span it replaced."""
        i = bisect.bisect_right(self._redacted_starts, redacted) - 1
        if i < 0:
            return redacted
        item = self.replacements[i]
        start = self._redacted_starts[i]
        if redacted < start + len(item.replacement):
            return item.begin
        return item.end + (redacted - start - len(item.replacement))

    def __repr__(self) -> str:
        return f"Redaction(characters={len(self.text)}, replacements={len(self.replacements)})"


def _type_name(entity: Any) -> str:
    value = getattr(entity, "type", None)
    value = getattr(value, "value", value)
    return "PHI" if value is None else str(value)


def check_options(
    *, strategy: Any, types: Any, min_score: Any, key: Any, caller: str = "redact"
) -> bytes | None:
    """Check ``redact``'s options (``deidentify`` does so before it calls the
    service); returns the pseudonym key as bytes."""
    problems = []
    if not callable(strategy) and strategy not in _STRATEGIES:
        problems.append(("strategy", "must be 'label', 'mask', 'pseudonym' or a callable"))
    if types is not None and (isinstance(types, (str, bytes)) or not isinstance(types, Iterable)
                              or not all(isinstance(t, str) for t in types)):
        problems.append(("types", "must be None or a set of type names such as {'NAME'}"))
    if (isinstance(min_score, bool) or not isinstance(min_score, (int, float))
            or not 0.0 <= min_score <= 1.0):
        problems.append(("min_score", "must be a number from 0 to 1"))
    secret: bytes | None = None
    if key is not None:
        if isinstance(key, str):
            secret = key.encode("utf-8")
        elif isinstance(key, (bytes, bytearray)):
            secret = bytes(key)
        else:
            problems.append(("key", "must be bytes or a str"))
        if secret is not None and not secret:
            problems.append(("key", "must not be empty"))
    if strategy == "pseudonym" and key is None:
        problems.append(("key", "is required with strategy 'pseudonym'"))
    if problems:
        raise ParamValidationError(caller, problems)
    return secret


def _spans(text: str, entities: Sequence[Any], caller: str) -> list[tuple[int, int, Any]]:
    spans = []
    problems = []
    for index, entity in enumerate(entities):
        begin = getattr(entity, "begin_offset", None)
        end = getattr(entity, "end_offset", None)
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin < end <= len(text)):
            problems.append((f"entities[{index}]",
                             "must have begin_offset < end_offset within the text"))
            continue
        said = getattr(entity, "text", None)
        if said is not None and text[begin:end] != said:
            problems.append((f"entities[{index}]", "its text is not the text at its offsets "
                                                   "(are the entities from another text?)"))
            continue
        spans.append((begin, end, entity))
    if problems:
        raise ParamValidationError(caller, problems)
    return spans


def _rank(entity: Any, begin: int, end: int) -> tuple[float, int]:
    score = getattr(entity, "score", None)
    return (1.0 if score is None else score, end - begin)


def redact(
    text: str,
    entities: Iterable[PHIEntity],
    *,
    strategy: Strategy = "label",
    types: Iterable[str] | None = None,
    min_score: float = 0.0,
    key: bytes | str | None = None,
) -> Redaction:
    """Replace the spans of ``entities`` in ``text``.

    Only entities whose type is in ``types`` (all when None) and whose score is at
    least ``min_score`` are replaced (an entity without a score is replaced: when in
    doubt, redact). Their spans are merged where they overlap; a merged span takes the
    type of its highest-scoring entity. The replacement comes from ``strategy`` (see
    the module docstring); ``"pseudonym"`` needs ``key``, and hashes the span's text
    with HMAC-SHA256 under it after folding case and runs of whitespace, so "John
    Smith" and "JOHN  SMITH" get the same pseudonym.

    Each entity's offsets must lie in ``text`` and, when it carries its ``text``,
    point at that text: entities from another text (say, from one chunk of a longer
    note) are an error instead of a silently wrong redaction.
    """
    secret = check_options(strategy=strategy, types=types, min_score=min_score, key=key)
    if not isinstance(text, str):
        raise ParamValidationError("redact", [("text", "must be a str")])
    if isinstance(entities, (str, bytes)) or not isinstance(entities, Iterable):
        raise ParamValidationError("redact", [("entities", "must be a list of entities")])
    wanted = None if types is None else frozenset(types)
    chosen = []
    for begin, end, entity in _spans(text, list(entities), "redact"):
        score = getattr(entity, "score", None)
        if wanted is not None and _type_name(entity) not in wanted:
            continue
        if score is not None and score < min_score:
            continue
        chosen.append((begin, end, entity))
    chosen.sort(key=lambda span: (span[0], span[1]))

    merged: list[list[Any]] = []  # [begin, end, representative entity, best score]
    for begin, end, entity in chosen:
        if merged and begin < merged[-1][1]:
            last = merged[-1]
            if _rank(entity, begin, end) > _rank(last[2], last[0], last[1]):
                last[2] = entity
            last[1] = max(last[1], end)
            scores = [s for s in (last[3], getattr(entity, "score", None)) if s is not None]
            last[3] = max(scores) if scores else None
        else:
            merged.append([begin, end, entity, getattr(entity, "score", None)])

    pieces: list[str] = []
    replacements: list[Replacement] = []
    position = 0
    for begin, end, entity, score in merged:
        value = _replacement(strategy, secret, entity, text[begin:end])
        pieces.append(text[position:begin])
        pieces.append(value)
        position = end
        replacements.append(Replacement(begin, end, _type_name(entity), score, value))
    pieces.append(text[position:])
    return Redaction("".join(pieces), replacements)


def pseudonym(value: str, type_name: str, key: bytes) -> str:
    """``[TYPE-xxxxxx]``: the first hex digits of HMAC-SHA256(key, value folded)."""
    folded = " ".join(value.split()).casefold()
    digest = hmac.new(key, folded.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"[{type_name}-{digest[:PSEUDONYM_HEX_DIGITS]}]"


def _replacement(strategy: Strategy, secret: bytes | None, entity: Any, value: str) -> str:
    if strategy == "label":
        return f"[{_type_name(entity)}]"
    if strategy == "mask":
        return "*" * len(value)
    if strategy == "pseudonym":
        assert secret is not None  # check_options insists on a key
        return pseudonym(value, _type_name(entity), secret)
    assert callable(strategy)
    made = strategy(entity, value)
    if not isinstance(made, str):
        raise ParamValidationError("redact", [("strategy", "the callable must return a str")])
    return made
