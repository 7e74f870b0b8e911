"""The mock's text analysis (``cmclient/testing/_clinical.py``): what it finds must not
change when its code does, and dense text must be analysed in about linear time.

What it finds is pinned by digests of every detector's answer over a corpus of
generated notes (dense clinical sentences, word soup that puts clause breaks, "but",
negation cues and multi-byte characters in every position, and a few long notes), in
``fixtures/mock-clinical/digests.json``. They were recorded from the analysis as it
was before it was made linear, so a change that alters a result fails here. Rerecord
them only for a deliberate change of behaviour::

    .venv/bin/python tests/testing/test_clinical.py --digests   # rewrite the fixture
    .venv/bin/python tests/testing/test_clinical.py --record out.json   # full answers
    .venv/bin/python tests/testing/test_clinical.py --compare out.json  # diff against them
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cmclient.testing import _clinical

DIGESTS = (Path(__file__).resolve().parents[2] / "fixtures" / "mock-clinical"
           / "digests.json")

# Sentences dense with what the mock recognises: vocabulary terms, attributes, PHI,
# negation cues, clause breaks of every kind ("." ";" "!" "?" newline, "but").
DENSE = [
    "Patient denies chest pain but reports headache and nausea.",
    "Started lisinopril 10 mg tablet PO daily for hypertension; aspirin 81 mg by mouth "
    "once daily for 30 days.",
    "No shortness of breath, fever or cough; lungs clear, heart regular.",
    "Metformin 500 mg twice daily and insulin glargine 10 units subcutaneously at bedtime "
    "for type 2 diabetes.",
    "Dr. Smith reviewed the chest x-ray and ECG, which were unremarkable.",
    "History of atrial fibrillation on warfarin 5 mg orally every night, hyperlipidemia on "
    "atorvastatin 40 mg.",
    "Call John Smith at (206) 555-0142 or jane.doe@example.org with the HbA1c results.",
    "Seen on 03/14/2021 and March 3, 2022 at 123 Main Street; MRN: AB-12345, SSN "
    "123-45-6789.",
    "She stopped aspirin due to nausea? Not taking ibuprofen 400 mg every 6 hours prn!",
    "Abdominal pain resolved but abdomen tender; knee pain without fever.",
    "A 67-year-old man, negative for pneumonia, free of dyspnea, ruled out myocardial "
    "infarction.",
    "Albuterol inhaler 2 puffs inhaled as needed for asthma, prednisone 20 mg for 5 days.",
    "Mrs. Maria Lopez, 45 years old, had an appendectomy; physical therapy weekly.",
    "Omeprazole 20 mg capsule every morning, furosemide 40 mg IV bid, amoxicillin 500 mg "
    "tid for 10 days.",
    "Tylenol 650 mg (acetaminophen) as needed for headache; no heart attack, no high blood "
    "pressure.",
    "See https://portal.example.com/notes, CT scan of the chest; hemoglobin A1c 7.2.",
    "Mr. Wei Chen, Ms. Priya Patel and Robert denied cough.",
    "Le patient a été vu à l'hôpital pour fièvre; café au lait, 患者は胸痛を否定した。",
    "Mood good 😀 and family 👩‍👩‍👧 at bedside, diabetes stable, lipitor 10 mg daily.",
]

# Pieces for word soup: terms, cues, attributes, PHI and the characters the clause
# rules look at, glued with and without separators.
SOUP = [
    "aspirin", "Metformin", "LISINOPRIL", "insulin glargine", "warfarin", "tylenol",
    "hypertension", "high blood pressure", "type 2 diabetes", "diabetes", "chest pain",
    "fever", "Cough", "nausea", "asthma", "heart attack", "shortness of breath",
    "chest x-ray", "ECG", "ekg", "ct scan", "chest", "abdomen", "lungs", "lung", "heart",
    "knee", "10 mg", "2.5mg", "500 mcg", "3 puffs", "1 unit", "for 3 weeks", "for 1 day",
    "every 8 hours", "twice daily", "daily", "prn", "bid", "po", "IV", "by mouth", "tablet",
    "capsules", "inhaler", "no", "No", "not", "NOT", "denies", "denied", "without",
    "negative for", "free of", "ruled out", "absence of", "stopped", "but", "But", "butter",
    "nothing", "notable", "denier", "John", "Jane Doe", "Dr. House", "Mr. Brown", "Mrs. Green",
    "MRN", "MRN12345", "MRN: X-99999", "SSN 123-45-6789", "555-123-4567", "a@b.co",
    "http://x.io/a", "12/31/1999", "2020-01-02", "Jan 5, 2020", "Sept 9", "42 years old",
    "7 Elm Street", "é", "漢字", "😀", "x", "_", "9", ".", ";", "!", "?", ",", ":", "(", ")",
    "-", "/", "'", '"',
]
SEPARATORS = [" ", " ", " ", "", "\n", ". ", "; ", ";", ".", "\t", "\u00a0", "\u2028",
              "\r\n", "\n\n", " but ", ", ", "? ", "!", "\x0b", "\u3000", "\u2029"]


def dense_note(seed: int, length: int) -> str:
    """About ``length`` characters of dense clinical sentences, separated by spaces,
    newlines and paragraph breaks."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < length:
        sentence = rng.choice(DENSE)
        if rng.random() < 0.2:
            sentence = sentence.lower() if rng.random() < 0.5 else sentence.upper()
        separator = rng.choice([" ", " ", " ", "\n", "\n\n", "  ", "\t"])
        parts += [sentence, separator]
        size += len(sentence) + len(separator)
    return "".join(parts)[:length]


def soup_note(seed: int, length: int) -> str:
    """About ``length`` characters of pieces glued at random, so that clause breaks,
    "but", cues and terms meet each other and the ends of the text in every way."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < length:
        piece = rng.choice(SOUP)
        separator = rng.choice(SEPARATORS)
        parts += [piece, separator]
        size += len(piece) + len(separator)
    text = "".join(parts)
    cut = rng.choice([length, len(text), max(1, length - 1)])
    return text[:cut]


def corpus() -> dict[str, str]:
    """The notes the digests cover, by name."""
    notes: dict[str, str] = {}
    for seed in range(40):
        notes[f"dense-{seed}"] = dense_note(seed, random.Random(seed).randint(60, 1500))
    for seed in range(160):
        notes[f"soup-{seed}"] = soup_note(1000 + seed, random.Random(seed).randint(5, 700))
    for seed in range(4):
        notes[f"dense-long-{seed}"] = dense_note(2000 + seed, 4000 + 1000 * seed)
        notes[f"soup-long-{seed}"] = soup_note(3000 + seed, 3000 + 1000 * seed)
    notes["one-clause"] = " ".join(
        ["fever", "no", "aspirin", "10 mg", "chest pain", "knee", "not", "metformin"] * 60)
    return notes


def answers(text: str) -> dict[str, Any]:
    """Every detector's answer for ``text``, by operation."""
    return {operation: detect(text) for operation, detect in sorted(_clinical.DETECTORS.items())}


def digest(document: Any) -> str:
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def test_corpus_is_varied() -> None:
    """The corpus exercises what the analysis does: every detector finds something,
    and negation is both set and not set."""
    notes = corpus()
    assert len(notes) > 200
    joined = answers("\n".join(notes.values()))
    for operation, document in joined.items():
        assert document["Entities"], operation
    traits = {t["Name"] for e in joined["DetectEntitiesV2"]["Entities"] for t in e["Traits"]}
    assert "NEGATION" in traits


def test_results_match_the_recorded_digests() -> None:
    """Every detector answers every note of the corpus exactly as recorded."""
    recorded: dict[str, dict[str, str]] = json.loads(DIGESTS.read_text("utf-8"))["digests"]
    notes = corpus()
    assert sorted(recorded) == sorted(notes)
    wrong = [
        (name, operation)
        for name, text in notes.items()
        for operation, document in answers(text).items()
        if digest(document) != recorded[name][operation]
    ]
    assert not wrong, f"{len(wrong)} answers changed, first: {wrong[:5]}"


@pytest.mark.parametrize("operation", sorted(_clinical.DETECTORS))
def test_dense_note_of_the_size_limit_is_quick(operation: str) -> None:
    """A dense note of 20,000 bytes is answered in well under a second (the analysis
    was quadratic in the number of entities and clauses; a generous bound, since the
    test may share its cores)."""
    text = dense_note(7, 20_000)
    while len(text.encode()) > 20_000:
        text = text[:-100]
    started = time.perf_counter()
    document = _clinical.DETECTORS[operation](text)
    elapsed = time.perf_counter() - started
    assert document["Entities"]
    assert elapsed < 1.5, f"{operation}: {elapsed:.2f} s"


def test_time_grows_about_linearly() -> None:
    """Four times the text takes well under sixteen times as long."""
    def best(text: str) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            _clinical.detect_entities(text)
            times.append(time.perf_counter() - started)
        return min(times)

    small, large = dense_note(11, 5_000), dense_note(11, 20_000)
    best(small)  # compile the patterns
    assert best(large) < 8 * best(small) + 0.05


def _main(argv: list[str]) -> int:
    notes = corpus()
    if argv[:1] == ["--digests"]:
        table = {name: {op: digest(doc) for op, doc in answers(text).items()}
                 for name, text in notes.items()}
        DIGESTS.parent.mkdir(parents=True, exist_ok=True)
        DIGESTS.write_text(json.dumps({"digests": table}, indent=1, sort_keys=True) + "\n",
                           "utf-8")
        return 0
    if len(argv) == 2 and argv[0] == "--record":
        full = {name: answers(text) for name, text in notes.items()}
        Path(argv[1]).write_text(json.dumps(full, ensure_ascii=False), "utf-8")
        return 0
    if len(argv) == 2 and argv[0] == "--compare":
        expected = json.loads(Path(argv[1]).read_text("utf-8"))
        differ = 0
        for name, text in notes.items():
            for operation, document in answers(text).items():
                if json.loads(json.dumps(document)) != expected[name][operation]:
                    differ += 1
                    print(f"differs: {name} {operation}")
        print(f"{len(notes)} notes, {differ} answers differ")
        return 1 if differ else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
