"""The mock's text analysis: deterministic results from a small built-in vocabulary.

Nothing here is clever. Terms from ``vocabulary.json`` match case-insensitively on
word boundaries (longest first, a character belongs to one entity at most), a few
regular expressions find dosages and PHI, and simple clause rules link attributes to
the medication or condition they belong to and decide negation. The same text always
gives the same result, and every offset is a character (code point) index into the
text the caller sent, as the service documents.
"""

from __future__ import annotations

import json
import re
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
    negation: re.Pattern[str]
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
    negation = _terms_pattern(vocab["negation_cues"])
    return _Matchers(sections, attributes, negation, phi)


def _free(taken: list[tuple[int, int]], begin: int, end: int) -> bool:
    return all(end <= b or begin >= e for b, e in taken)


def _clause_start(text: str, position: int) -> int:
    """Where the clause holding ``position`` starts: after . ; ! ? newline or ' but '."""
    start = 0
    for match in re.finditer(r"[.;!?\n]\s|[;\n]|\bbut\b", text[:position]):
        start = match.end()
    return start


def _clause_end(text: str, position: int) -> int:
    match = re.search(r"[.;!?\n](?:\s|$)|[;\n]|\bbut\b", text[position:])
    return position + match.start() if match else len(text)


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
    taken: list[tuple[int, int]] = []
    found: dict[str, list[Span]] = {}
    for kind, pattern, by_term in m.sections:
        spans = found.setdefault(kind, [])
        for match in pattern.finditer(text):
            if _free(taken, match.start(), match.end()):
                entry = by_term[match.group(0).lower()]
                span_type = {"medications": entry.get("type", ""), "conditions": "DX_NAME",
                             "tests_procedures": entry.get("type", ""),
                             "anatomy": "SYSTEM_ORGAN_SITE"}[kind]
                spans.append(Span(match.start(), match.end(), match.group(0), kind, span_type,
                                  entry))
                taken.append((match.start(), match.end()))
    attributes: list[Span] = []
    for attr_type, pattern in m.attributes:
        for match in pattern.finditer(text):
            if _free(taken, match.start(), match.end()):
                attributes.append(Span(match.start(), match.end(), match.group(0), "attribute",
                                       attr_type))
                taken.append((match.start(), match.end()))
    phi: list[Span] = []
    if with_phi:
        for phi_type, pattern in m.phi:
            for match in pattern.finditer(text):
                group = next((i for i in range(1, (pattern.groups or 0) + 1)
                              if match.group(i)), 0)
                begin, end = match.start(group), match.end(group)
                if begin < end and _free(taken, begin, end):
                    phi.append(Span(begin, end, text[begin:end], "phi", phi_type))
                    taken.append((begin, end))

    meds = sorted(found["medications"], key=lambda s: s.begin)
    conditions = sorted(found["conditions"], key=lambda s: s.begin)
    tests = sorted(found["tests_procedures"], key=lambda s: s.begin)
    anatomy = sorted(found["anatomy"], key=lambda s: s.begin)

    # Medication attributes belong to the nearest medication before them in the clause.
    unmapped: list[Span] = []
    for attr in sorted(attributes, key=lambda s: s.begin):
        owner = None
        for med in meds:
            if med.end <= attr.begin and _clause_start(text, attr.begin) <= med.begin:
                owner = med
        if owner is None:
            owner = next((med for med in meds if attr.end <= med.begin
                          and med.begin < _clause_end(text, attr.begin)), None)
        (owner.attributes if owner else unmapped).append(attr)
    # Anatomy in a condition's clause is that condition's site; the rest stand alone.
    free_anatomy: list[Span] = []
    for site in anatomy:
        owner = next((c for c in conditions if _clause_start(text, c.begin)
                      == _clause_start(text, site.begin)), None)
        (owner.attributes if owner else free_anatomy).append(site)
    for condition in conditions:
        clause = text[_clause_start(text, condition.begin):condition.begin]
        condition.negated = bool(m.negation.search(clause))
    for med in meds:
        clause = text[_clause_start(text, med.begin):med.begin]
        med.negated = bool(re.search(r"(?<![\w])(?:no|not|stopped|denies)(?![\w])", clause,
                                     re.IGNORECASE))

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
