"""Helpers for the long-text tests: clients with the document methods, wired to the
mock, and clinical-looking text.

Until the clients list the documents mixin among their bases, the fixtures build a
small class that combines it with the real client and calls ``_admit`` from
``_invoke``, exactly the wiring the clients are to get; once the clients have it,
the real classes are used as they are.
"""

from __future__ import annotations

import random
import re
from typing import Any

import httpx
import pytest

from cmclient import AsyncComprehendMedical, ComprehendMedical, Credentials
from cmclient._async.documents import AsyncDocuments
from cmclient._protocol.quota import DEFAULT_QUOTAS
from cmclient._sync.documents import SyncDocuments
from cmclient.testing import ComprehendMedicalMock

CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


def sync_class() -> type[Any]:
    """``ComprehendMedical`` once it has the document methods; until then, the mixin
    combined with it, wired as the client is to be."""
    if hasattr(ComprehendMedical, "analyze_document"):
        return ComprehendMedical

    class Composed(SyncDocuments, ComprehendMedical):  # type: ignore[misc]
        def __init__(self, *, quotas: Any = DEFAULT_QUOTAS, **kwargs: Any) -> None:
            self._init_documents(quotas)
            super().__init__(**kwargs)

        def _invoke(self, operation: Any, params: Any) -> Any:
            self._core.prepare(operation, params)  # bad input is not counted
            self._admit(operation, params)
            return super()._invoke(operation, params)

    return Composed


def async_class() -> type[Any]:
    """``AsyncComprehendMedical``, or the async mixin combined with it."""
    if hasattr(AsyncComprehendMedical, "analyze_document"):
        return AsyncComprehendMedical

    class Composed(AsyncDocuments, AsyncComprehendMedical):  # type: ignore[misc]
        def __init__(self, *, quotas: Any = DEFAULT_QUOTAS, **kwargs: Any) -> None:
            self._init_documents(quotas)
            super().__init__(**kwargs)

        async def _invoke(self, operation: Any, params: Any) -> Any:
            self._core.prepare(operation, params)  # bad input is not counted
            await self._admit(operation, params)
            return await super()._invoke(operation, params)

    return Composed


def mock_supports_quotas() -> bool:
    """Whether the mock has ``set_rate_limit(operation, tps=..., chars_per_second=...)``
    (issue 13, point 8)."""
    import inspect

    try:
        parameters = inspect.signature(ComprehendMedicalMock.set_rate_limit).parameters
    except (AttributeError, ValueError):
        return False
    return "tps" in parameters and "chars_per_second" in parameters


needs_mock_quotas = pytest.mark.skipif(
    not mock_supports_quotas(),
    reason="waits on the mock's set_rate_limit(op, tps=..., chars_per_second=...) "
           "(issue 13 point 8)",
)


def async_client(mock: ComprehendMedicalMock, **options: Any) -> Any:
    """An async client with the document methods on ``mock``; build it inside the
    event loop that uses it (``asyncio.run``) and close it there."""
    options.setdefault("quotas", None)
    return async_class()(
        region="us-east-1", credentials=CREDENTIALS,
        endpoint_url="https://comprehendmedical.us-east-1.amazonaws.com",
        http_client=httpx.AsyncClient(transport=mock.transport()), **options,
    )


# --- clinical-looking text -------------------------------------------------------------

SENTENCES = [
    "Patient denies chest pain.",
    "Started lisinopril 10 mg PO daily for hypertension.",
    "No shortness of breath or fever.",
    "Metformin 500 mg twice daily was continued.",
    "Dr. Smith reviewed the chest x-ray, which was unremarkable.",
    "History of type 2 diabetes and asthma.",
    "Call John Smith at 206-555-0142 with the results.",
    "Seen on 03/14/2021 at 123 Main Street.",
    "She stopped aspirin due to nausea.",
    "Abdominal pain resolved; appetite is good.",
    "Le patient a été vu à l'hôpital, café au lait spots noted.",
    "患者は胸痛を否定した。",
    "Mood good 😀 and family 👩‍👩‍👧 at bedside.",
    "Ibuprofen 400 mg every 6 hours for 5 days.",
    "Wife reports naïve résumé of symptoms—ça va.",
]
WHITESPACE = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2028", "\u3000",
              "\x0b", "\x0c", "\n\n", "\r\n\r\n", "\u2029", " \n \n "]


def clinical_text(seed: int, length: int, *, long_words: bool = True) -> str:
    """About ``length`` characters of clinical-looking text: sentences with multi-byte
    characters (accents, CJK, emoji), every kind of whitespace, paragraphs, and now and
    then a word longer than any limit."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < length:
        roll = rng.random()
        if long_words and roll < 0.003:
            piece = "".join(rng.choice("abcdéf漢😀") for _ in range(rng.randint(50, 3000)))
        elif roll < 0.02:
            piece = "".join(rng.choice("xyzé") for _ in range(rng.randint(1, 30)))
        else:
            piece = rng.choice(SENTENCES)
        parts.append(piece)
        parts.append(rng.choice(WHITESPACE) if rng.random() < 0.85 else
                     rng.choice(["\n\n", "\n", " "]))
        size += len(piece) + 1
    if rng.random() < 0.5:
        parts.insert(0, rng.choice(WHITESPACE))
    return "".join(parts)[:length]


def notes(seed: int, count: int, length: int) -> list[str]:
    """``count`` separate notes made only of whole sentences, each about ``length``
    characters, for tests that compare a note's own analysis with a joined document."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        parts: list[str] = []
        while sum(map(len, parts)) < length:
            parts.append(rng.choice(SENTENCES[:10] + SENTENCES[13:14]))
            parts.append(rng.choice([" ", " ", "\n", "\n\n"]))
        made.append("".join(parts).strip())
    return made


# --- a fast, context-free stand-in for the service -------------------------------------

MEDICATIONS = ("lisinopril", "metformin", "aspirin", "ibuprofen")
CONDITIONS = ("chest pain", "hypertension", "asthma", "nausea", "fever", "type 2 diabetes")
_TERMS = re.compile(r"(?<!\w)(?:{})(?!\w)".format(
    "|".join(re.escape(t) for t in sorted(MEDICATIONS + CONDITIONS, key=len, reverse=True))),
    re.IGNORECASE)
_NAMES = re.compile(r"(?<!\w)John Smith(?!\w)")
_DOSE = re.compile(r"(?<![\w.])\d+ mg(?!\w)")


def fake_document(operation: str, text: str) -> dict[str, Any]:
    """What a simple service would answer for ``text``: every vocabulary term, name and
    dose found by pattern, a dose linked to the medication just before it in the same
    sentence, scores that depend on where in the request a term is (so two chunks
    seeing the same term score it differently), ids in order of position."""
    found: list[tuple[int, int, str, str]] = []
    for match in _TERMS.finditer(text):
        word = match.group().lower()
        kind = ("MEDICATION", "GENERIC_NAME") if word in MEDICATIONS else (
            "MEDICAL_CONDITION", "DX_NAME")
        found.append((match.start(), match.end(), *kind))
    if operation in ("DetectPHI", "DetectEntities"):
        found += [(m.start(), m.end(), "PROTECTED_HEALTH_INFORMATION", "NAME")
                  for m in _NAMES.finditer(text)]
    if operation == "DetectPHI":
        found = [f for f in found if f[2] == "PROTECTED_HEALTH_INFORMATION"]
    doses = [(m.start(), m.end()) for m in _DOSE.finditer(text)]
    spans = sorted([*found, *((b, e, "MEDICATION", "DOSAGE") for b, e in doses)])
    ids = {(b, e): number for number, (b, e, _, _) in enumerate(spans)}

    def score(begin: int) -> float:
        return 0.5 + (begin * 7919 % 499) / 1000

    def doc(begin: int, end: int, category: str, type_: str) -> dict[str, Any]:
        return {"Id": ids[begin, end], "BeginOffset": begin, "EndOffset": end,
                "Score": score(begin), "Text": text[begin:end], "Category": category,
                "Type": type_, "Traits": []}

    entities = [{**doc(*f), "Attributes": []} for f in sorted(found)]
    unmapped = []
    for begin, end in doses if operation != "DetectPHI" else ():
        owner = None
        for entity in entities:
            if (entity["Category"] == "MEDICATION" and entity["EndOffset"] <= begin
                    and begin - entity["EndOffset"] < 40
                    and "." not in text[entity["EndOffset"]:begin]):
                owner = entity
        attribute = {**doc(begin, end, "MEDICATION", "DOSAGE"), "RelationshipScore": 0.9}
        if owner is not None and operation not in ("InferICD10CM", "InferSNOMEDCT"):
            owner["Attributes"].append(attribute)
        elif operation in ("DetectEntities", "DetectEntitiesV2"):
            unmapped.append({"Type": "MEDICATION", "Attribute": attribute})
    result: dict[str, Any] = {"Entities": entities, "ModelVersion": "fake-1",
                              "PaginationToken": "page-of-this-chunk"}
    if operation in ("DetectEntities", "DetectEntitiesV2"):
        result["UnmappedAttributes"] = unmapped
    if operation == "InferSNOMEDCT":
        result["Characters"] = {"OriginalTextCharacters": len(text)}
        result["SNOMEDCTDetails"] = {"Edition": "US", "Language": "en",
                                    "VersionDate": "20240301"}
    return result


def fake_response(operation: Any, text: str) -> Any:
    from cmclient.models._base import RESPONSE_CONTEXT

    return operation.output_model.model_validate(fake_document(operation.name, text),
                                                 context=RESPONSE_CONTEXT)


class FakeSync(SyncDocuments):
    """The sync mixin on the stand-in service: no HTTP, no quota."""

    def __init__(self) -> None:
        self._init_documents(None)
        self.sent: list[str] = []

    def _invoke(self, operation: Any, params: Any) -> Any:
        self._admit(operation, params)
        self.sent.append(params["text"])
        return fake_response(operation, params["text"])


class FakeAsync(AsyncDocuments):
    """The async mixin on the stand-in service."""

    def __init__(self) -> None:
        self._init_documents(None)
        self.sent: list[str] = []

    async def _invoke(self, operation: Any, params: Any) -> Any:
        await self._admit(operation, params)
        self.sent.append(params["text"])
        return fake_response(operation, params["text"])


def offsets_hold(text: str, response: Any) -> None:
    """Every offset in ``response`` points at its text in ``text``; ids are unique
    among entities and each id means one span everywhere in the response."""
    spans: dict[int, tuple[int, int]] = {}

    def visit(model: Any) -> None:
        begin, end = getattr(model, "begin_offset", None), getattr(model, "end_offset", None)
        if begin is not None:
            assert text[begin:end] == model.text, (begin, end)
            if model.id is not None:
                assert spans.setdefault(model.id, (begin, end)) == (begin, end)
        for attribute in getattr(model, "attributes", None) or ():
            visit(attribute)

    entities = response.entities or []
    ids = [e.id for e in entities]
    assert len(ids) == len(set(ids)), "entity ids are unique"
    for entity in entities:
        visit(entity)
    for item in getattr(response, "unmapped_attributes", None) or ():
        visit(item.attribute)
