"""The mock's text analysis: deterministic results from a small built-in vocabulary.

Nothing here is clever. Terms from ``vocabulary.json`` match case-insensitively on
word boundaries (longest first, a character belongs to one entity at most), a few
regular expressions find dosages and PHI, and simple clause rules link attributes to
the medication or condition they belong to and decide negation. The same text always
gives the same result, and every offset is a character (code point) index into the
text the caller sent, as the service documents.

The time taken grows about linearly with the text, so that dense notes of the service's
full size, and long documents cut into many of them, are answered quickly: each
pattern scans the text once, and the questions asked per entity (is this span free,
where does its clause start and end, is there a negation cue before it in the clause)
are binary searches over what those scans found, never new scans of the text.
``tests/testing/test_clinical.py`` pins the results to what the plain, quadratic
formulation of the same rules gave.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

ENTITY_SCORE = 0.99
PATTERN_SCORE = 0.95
ATTRIBUTE_SCORE = 0.97
RELATIONSHIP_SCORE = 0.96
TRAIT_SCORE = 0.9
CONCEPT_SCORE = 0.88

_WORD = r"(?<![\w])(?:{})(?![\w])"


@dataclass
class Span:
    """One recognised piece of the text. ``kind`` is a vocabulary section or a PHI or
    attribute type; ``entry`` is the vocabulary entry, when there is one."""

    begin: int
    end: int
    text: str
    kind: str
    type: str
    entry: dict[str, Any] = field(default_factory=dict)
    id: int = 0
    negated: bool = False
    attributes: list[Span] = field(default_factory=list)


@cache
def vocabulary() -> dict[str, Any]:
    """The vocabulary shipped with the package (``cmclient/testing/vocabulary.json``)."""
    text = resources.files("cmclient.testing").joinpath("vocabulary.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _terms_pattern(terms: list[str]) -> re.Pattern[str]:
    ordered = sorted(terms, key=len, reverse=True)
    return re.compile(_WORD.format("|".join(re.escape(t) for t in ordered)), re.IGNORECASE)


@dataclass
class _Matchers:
    sections: list[tuple[str, re.Pattern[str], dict[str, dict[str, Any]]]]
    attributes: list[tuple[str, re.Pattern[str]]]
    phi: list[tuple[str, re.Pattern[str]]]


@cache
def _matchers() -> _Matchers:
    vocab = vocabulary()
    sections = []
    for kind in ("medications", "conditions", "tests_procedures", "anatomy"):
        by_term = {term.lower(): entry for entry in vocab[kind] for term in entry["terms"]}
        sections.append((kind, _terms_pattern(list(by_term)), by_term))
    attributes = [
        ("DOSAGE", re.compile(
            r"(?<![\w.])\d+(?:\.\d+)?\s?(?:mg|mcg|g|ml|units?|puffs?)(?![\w])", re.IGNORECASE)),
        ("DURATION", re.compile(r"(?<![\w])for\s+\d+\s+(?:days?|weeks?|months?)(?![\w])",
                                re.IGNORECASE)),
        ("FREQUENCY", re.compile(
            _WORD.format(r"every\s+\d+\s+hours|" + "|".join(
                re.escape(t) for t in sorted(vocab["frequencies"], key=len, reverse=True))),
            re.IGNORECASE)),
        ("ROUTE_OR_MODE", _terms_pattern(vocab["routes"])),
        ("FORM", _terms_pattern(vocab["forms"])),
    ]
    months = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|"
              r"Aug(?:ust)?|Sep(?:tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
    first = "|".join(re.escape(name) for name in vocab["first_names"])
    phi = [
        ("EMAIL", re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
        ("URL", re.compile(r"\bhttps?://[^\s,;]+")),
        ("PHONE_OR_FAX", re.compile(r"(?<![\w])\(?\d{3}\)?[-.\s]?\d{3}[-.]\d{4}(?![\w])")),
        ("DATE", re.compile(
            rf"(?<![\w/])(?:\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}|"
            rf"{months}\.?\s+\d{{1,2}}(?:,\s*\d{{4}})?)(?![\w/])")),
        ("AGE", re.compile(r"(?<![\w])(\d{1,3})(?=[- ]years?[- ]old\b)", re.IGNORECASE)),
        ("ID", re.compile(r"(?<=\bMRN)[:#]?\s*([A-Z0-9-]{5,})\b|"
                          r"(?<=\bSSN)[:#]?\s*(\d{3}-\d{2}-\d{4})\b")),
        ("ADDRESS", re.compile(
            r"(?<![\w])\d{1,5}\s+(?:[A-Z][a-z]+\s+)+(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|"
            r"Blvd|Lane|Ln|Drive|Dr)\b\.?")),
        ("NAME", re.compile(
            rf"(?<=\b(?:Mr|Ms|Dr)\.\s)[A-Z][a-z]+(?:\s[A-Z][a-z]+)?|"
            rf"(?<=\bMrs\.\s)[A-Z][a-z]+(?:\s[A-Z][a-z]+)?|"
            rf"(?<![\w])(?:{first})(?:\s[A-Z][a-z]+)?(?![\w])")),
    ]
    return _Matchers(sections, attributes, phi)


_WORD_CHAR = re.compile(r"\w")
_CLAUSE_BREAK = re.compile(r"[.;!?\n]\s|[;\n]|\bbut\b")
_CLAUSE_END = re.compile(r"[.;!?\n](?:\s|$)|[;\n]|\bbut\b")
_CLAUSE_END_AT = re.compile(r"(?=[.;!?\n](?:\s|$)|[;\n]|\bbut\b)")
# How far a clause-break match attempt looks right of where it starts ("but" and the
# boundary after it); an attempt that starts earlier than this before a position sees
# the same characters whether or not the text is cut at that position.
_CLAUSE_LOOKAHEAD = 4
_MEDICATION_NEGATION = ["no", "not", "stopped", "denies"]


class _Taken:
    """The spans already given to an entity: disjoint, kept sorted, so that asking
    whether a new span overlaps one of them is a binary search, not a scan."""

    def __init__(self) -> None:
        self._begins: list[int] = []
        self._ends: list[int] = []

    def free(self, begin: int, end: int) -> bool:
        """Whether ``[begin, end)`` overlaps no span taken so far."""
        # Spans are disjoint and sorted by begin, so their ends are sorted too: of those
        # beginning before ``end``, the last reaches furthest right.
        before = bisect_left(self._begins, end)
        return before == 0 or self._ends[before - 1] <= begin

    def take(self, begin: int, end: int) -> None:
        """Add a non-empty span that ``free`` accepted."""
        at = bisect_left(self._begins, begin)
        self._begins.insert(at, begin)
        self._ends.insert(at, end)


class _Clauses:
    """Where the clauses of one text start and end, from one scan of the text.

    A clause starts after . ; ! ? or a newline followed by whitespace, after ; or a
    newline, or after the word "but"; it ends at the next of these. The start is the end
    of the last clause break that a left-to-right scan of the text *before* the position
    finds, exactly as if that prefix were the whole text; the end is the first clause
    break from the position on, exactly as if the text began there.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        breaks = list(_CLAUSE_BREAK.finditer(text))
        self._break_starts = [b.start() for b in breaks]
        self._break_ends = [b.end() for b in breaks]
        self._end_at = [m.start() for m in _CLAUSE_END_AT.finditer(text)]
        self._starts: dict[int, int] = {}

    def start(self, position: int) -> int:
        """Where the clause holding ``position`` starts."""
        known = self._starts.get(position)
        if known is not None:
            return known
        # A scan of text[:position] finds the same breaks as a scan of the whole text as
        # long as its attempts start far enough before ``position`` not to see where the
        # text is cut; from the last of those, only the few attempts near ``position``
        # are left, and they are made on the cut text (endpos).
        safe = bisect_right(self._break_starts, position - _CLAUSE_LOOKAHEAD)
        start = self._break_ends[safe - 1] if safe else 0
        resume = max(start, position - _CLAUSE_LOOKAHEAD + 1)
        for match in _CLAUSE_BREAK.finditer(self._text, resume, position):
            start = match.end()
        self._starts[position] = start
        return start

    def end(self, position: int) -> int:
        """Where the clause holding ``position`` ends (the text's end without a break)."""
        text = self._text
        if (position > 0 and text.startswith("but", position)
                and _WORD_CHAR.match(text, position - 1)):
            # The one place where the text's start would count as a word boundary that
            # the whole text does not have.
            match = _CLAUSE_END.search(text[position:])
            return position + match.start() if match else len(text)
        at = bisect_left(self._end_at, position)
        return self._end_at[at] if at < len(self._end_at) else len(text)


class _Cues:
    """Where the words of a list occur in one text, to ask whether one of them stands
    as a whole word (case-insensitively) inside a slice of it, exactly as a search of
    ``(?<![\\w])(?:word|...)(?![\\w])`` over that slice alone would find.

    Every occurrence is found once; asking about a slice is then a binary search.
    Inside a slice, a word needs a non-word character (or the slice's edge) on each
    side: occurrences with non-word neighbours in the whole text count anywhere in the
    slice, the others only where the slice's edge stands in for the neighbour.
    """

    def __init__(self, text: str, words: list[str]) -> None:
        def word_at(index: int) -> bool:
            return 0 <= index < len(text) and _WORD_CHAR.match(text, index) is not None

        occurrences = sorted({
            (match.start(), match.start() + len(word))
            for word in words
            for match in re.finditer(f"(?={re.escape(word)})", text, re.IGNORECASE)
        })
        self._left_open = {begin for begin, _ in occurrences if not word_at(begin - 1)}
        self._right_open = {end for _, end in occurrences if not word_at(end)}
        whole = [(b, e) for b, e in occurrences if b in self._left_open and e in self._right_open]
        self._whole_begins = [b for b, _ in whole]
        # The nearest end among the whole-word occurrences from each one on.
        self._nearest_end = [e for _, e in whole]
        for i in range(len(whole) - 2, -1, -1):
            self._nearest_end[i] = min(self._nearest_end[i], self._nearest_end[i + 1])
        self._ends_by_begin: dict[int, list[int]] = {}
        self._begins_by_end: dict[int, list[int]] = {}
        for begin, end in occurrences:
            self._ends_by_begin.setdefault(begin, []).append(end)
            self._begins_by_end.setdefault(end, []).append(begin)

    def within(self, begin: int, end: int) -> bool:
        """Whether one of the words stands as a whole word in ``text[begin:end]``."""
        first = bisect_left(self._whole_begins, begin)
        if first < len(self._whole_begins) and self._nearest_end[first] <= end:
            return True
        if any(e == end or (e < end and e in self._right_open)
               for e in self._ends_by_begin.get(begin, ())):
            return True
        return any(b == begin or (b > begin and b in self._left_open)
                   for b in self._begins_by_end.get(end, ()))


@dataclass
class Analysis:
    """Everything found in one text, with ids assigned in order of position."""

    medications: list[Span]
    conditions: list[Span]
    tests: list[Span]
    anatomy: list[Span]
    unmapped: list[Span]
    phi: list[Span]


def analyze(text: str, *, with_phi: bool = True) -> Analysis:
    """Find the vocabulary's entities, their attributes and (optionally) PHI in ``text``."""
    m = _matchers()
    taken = _Taken()
    found: dict[str, list[Span]] = {}
    for kind, pattern, by_term in m.sections:
        spans = found.setdefault(kind, [])
        for match in pattern.finditer(text):
            if taken.free(match.start(), match.end()):
                entry = by_term[match.group(0).lower()]
                span_type = {"medications": entry.get("type", ""), "conditions": "DX_NAME",
                             "tests_procedures": entry.get("type", ""),
                             "anatomy": "SYSTEM_ORGAN_SITE"}[kind]
                spans.append(Span(match.start(), match.end(), match.group(0), kind, span_type,
                                  entry))
                taken.take(match.start(), match.end())
    attributes: list[Span] = []
    for attr_type, pattern in m.attributes:
        for match in pattern.finditer(text):
            if taken.free(match.start(), match.end()):
                attributes.append(Span(match.start(), match.end(), match.group(0), "attribute",
                                       attr_type))
                taken.take(match.start(), match.end())
    phi: list[Span] = []
    if with_phi:
        for phi_type, pattern in m.phi:
            for match in pattern.finditer(text):
                group = next((i for i in range(1, (pattern.groups or 0) + 1)
                              if match.group(i)), 0)
                begin, end = match.start(group), match.end(group)
                if begin < end and taken.free(begin, end):
                    phi.append(Span(begin, end, text[begin:end], "phi", phi_type))
                    taken.take(begin, end)

    meds = sorted(found["medications"], key=lambda s: s.begin)
    conditions = sorted(found["conditions"], key=lambda s: s.begin)
    tests = sorted(found["tests_procedures"], key=lambda s: s.begin)
    anatomy = sorted(found["anatomy"], key=lambda s: s.begin)
    clauses = _Clauses(text)

    # Medication attributes belong to the nearest medication before them in the clause,
    # else to the first one after them in the clause. Medications do not overlap, so
    # sorted by begin they are sorted by end too.
    med_begins = [med.begin for med in meds]
    med_ends = [med.end for med in meds]
    unmapped: list[Span] = []
    for attr in sorted(attributes, key=lambda s: s.begin):
        owner = None
        before = bisect_right(med_ends, attr.begin)
        if before and clauses.start(attr.begin) <= meds[before - 1].begin:
            owner = meds[before - 1]
        if owner is None:
            after = bisect_left(med_begins, attr.end)
            if after < len(meds) and meds[after].begin < clauses.end(attr.begin):
                owner = meds[after]
        (owner.attributes if owner else unmapped).append(attr)
    # Anatomy in a condition's clause is that condition's site (the first condition of
    # the clause); the rest stand alone.
    first_condition: dict[int, Span] = {}
    for condition in conditions:
        first_condition.setdefault(clauses.start(condition.begin), condition)
    free_anatomy: list[Span] = []
    for site in anatomy:
        owner = first_condition.get(clauses.start(site.begin))
        (owner.attributes if owner else free_anatomy).append(site)
    # A negation cue between the clause's start and the entity negates it.
    cues = _Cues(text, vocabulary()["negation_cues"])
    for condition in conditions:
        condition.negated = cues.within(clauses.start(condition.begin), condition.begin)
    medication_cues = _Cues(text, _MEDICATION_NEGATION)
    for med in meds:
        med.negated = medication_cues.within(clauses.start(med.begin), med.begin)

    everything = [*meds, *conditions, *tests, *anatomy, *attributes, *phi]
    for number, span in enumerate(sorted(everything, key=lambda s: (s.begin, s.end))):
        span.id = number
    return Analysis(meds, conditions, tests, free_anatomy, unmapped, phi)


# --- result documents, shaped as the service returns them ------------------------

_CATEGORY = {"medications": "MEDICATION", "conditions": "MEDICAL_CONDITION",
             "tests_procedures": "TEST_TREATMENT_PROCEDURE", "anatomy": "ANATOMY",
             "phi": "PROTECTED_HEALTH_INFORMATION"}
_ATTRIBUTE_CATEGORY = {"DOSAGE": "MEDICATION", "FREQUENCY": "MEDICATION",
                       "ROUTE_OR_MODE": "MEDICATION", "FORM": "MEDICATION",
                       "DURATION": "MEDICATION", "SYSTEM_ORGAN_SITE": "ANATOMY"}


def _traits(span: Span) -> list[dict[str, Any]]:
    traits = []
    if span.kind == "conditions":
        traits.append({"Name": span.entry["trait"], "Score": TRAIT_SCORE})
    if span.negated:
        traits.append({"Name": "NEGATION", "Score": TRAIT_SCORE})
    return traits


def _attribute(span: Span, *, relationship: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "Type": span.type, "Score": ATTRIBUTE_SCORE, "RelationshipScore": RELATIONSHIP_SCORE,
        "Id": span.id, "BeginOffset": span.begin, "EndOffset": span.end, "Text": span.text,
        "Category": _ATTRIBUTE_CATEGORY.get(span.type, "MEDICATION"), "Traits": [],
    }
    if relationship:
        doc["RelationshipType"] = span.type
    return doc


def _entity(span: Span, *, relationship: bool = True) -> dict[str, Any]:
    return {
        "Id": span.id, "BeginOffset": span.begin, "EndOffset": span.end,
        "Score": ENTITY_SCORE if span.kind != "phi" else PATTERN_SCORE, "Text": span.text,
        "Category": _CATEGORY[span.kind], "Type": span.type, "Traits": _traits(span),
        "Attributes": [_attribute(a, relationship=relationship) for a in span.attributes],
    }


def _by_position(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(docs, key=lambda d: (d["BeginOffset"], d["EndOffset"]))


def detect_entities_v2(text: str) -> dict[str, Any]:
    found = analyze(text, with_phi=False)
    return _entities_document(found, "DetectEntitiesV2", relationship=True)


def detect_entities(text: str) -> dict[str, Any]:
    """The first version: the same entities plus PHI, and no relationship types."""
    found = analyze(text, with_phi=True)
    doc = _entities_document(found, "DetectEntities", relationship=False)
    doc["Entities"] = _by_position(doc["Entities"] + [_entity(p) for p in found.phi])
    return doc


def _entities_document(found: Analysis, operation: str, *, relationship: bool) -> dict[str, Any]:
    spans = [*found.medications, *found.conditions, *found.tests, *found.anatomy]
    return {
        "Entities": _by_position([_entity(s, relationship=relationship) for s in spans]),
        "UnmappedAttributes": [
            {"Type": "MEDICATION", "Attribute": _attribute(a, relationship=relationship)}
            for a in found.unmapped
        ],
        "ModelVersion": vocabulary()["model_versions"][operation],
    }


def detect_phi(text: str) -> dict[str, Any]:
    found = analyze(text, with_phi=True)
    return {
        "Entities": _by_position([_entity(p) for p in found.phi]),
        "ModelVersion": vocabulary()["model_versions"]["DetectPHI"],
    }


def _concepts(pair: list[str]) -> list[dict[str, Any]]:
    code, description = pair
    return [{"Description": description, "Code": code, "Score": CONCEPT_SCORE}]


def _ontology_attribute(span: Span, **extra: Any) -> dict[str, Any]:
    return {"Type": span.type, "Score": ATTRIBUTE_SCORE, "RelationshipScore": RELATIONSHIP_SCORE,
            "Id": span.id, "BeginOffset": span.begin, "EndOffset": span.end, "Text": span.text,
            "Traits": [], **extra}


def _ontology_entity(span: Span, attributes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"Id": span.id, "Text": span.text, "Category": _CATEGORY[span.kind],
            "Type": span.type, "Score": ENTITY_SCORE, "BeginOffset": span.begin,
            "EndOffset": span.end, "Attributes": attributes, "Traits": _traits(span), **extra}


def infer_icd10cm(text: str) -> dict[str, Any]:
    found = analyze(text, with_phi=False)
    entities = [
        _ontology_entity(
            c,
            [_ontology_attribute(a, RelationshipType="SYSTEM_ORGAN_SITE") for a in c.attributes],
            ICD10CMConcepts=_concepts(c.entry["icd10cm"]),
        )
        for c in found.conditions
    ]
    return {"Entities": entities, "ModelVersion": vocabulary()["model_versions"]["InferICD10CM"]}


def infer_rxnorm(text: str) -> dict[str, Any]:
    found = analyze(text, with_phi=False)
    entities = []
    for med in found.medications:
        traits = [{"Name": "NEGATION", "Score": TRAIT_SCORE}] if med.negated else []
        doc = _ontology_entity(med, [_ontology_attribute(a) for a in med.attributes],
                               RxNormConcepts=_concepts(med.entry["rxnorm"]))
        doc["Traits"] = traits
        entities.append(doc)
    return {"Entities": entities, "ModelVersion": vocabulary()["model_versions"]["InferRxNorm"]}


def infer_snomedct(text: str) -> dict[str, Any]:
    found = analyze(text, with_phi=False)
    entities = []
    for span in sorted([*found.conditions, *found.tests], key=lambda s: s.begin):
        attributes = [
            _ontology_attribute(a, Category="ANATOMY", RelationshipType="SYSTEM_ORGAN_SITE",
                                SNOMEDCTConcepts=_concepts(a.entry["snomedct"]))
            for a in span.attributes
        ]
        entities.append(_ontology_entity(span, attributes,
                                         SNOMEDCTConcepts=_concepts(span.entry["snomedct"])))
    vocab = vocabulary()
    return {
        "Entities": entities,
        "ModelVersion": vocab["model_versions"]["InferSNOMEDCT"],
        "SNOMEDCTDetails": dict(vocab["snomedct_details"]),
        "Characters": {"OriginalTextCharacters": len(text)},
    }


DETECTORS = {
    "DetectEntities": detect_entities,
    "DetectEntitiesV2": detect_entities_v2,
    "DetectPHI": detect_phi,
    "InferICD10CM": infer_icd10cm,
    "InferRxNorm": infer_rxnorm,
    "InferSNOMEDCT": infer_snomedct,
}
