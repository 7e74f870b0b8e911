"""Long clinical text: splitting it for the service's limits, and what sending it costs.

Comprehend Medical's text operations take a bounded amount of text per request and
bill by the character, so every program that sends real notes (discharge summaries
of tens of thousands of characters) needs the same few pieces. This module has them,
pure (no I/O, no client):

* ``TEXT_LIMITS``: each text operation's limit, in UTF-8 bytes, in one table.
* ``split_text``: cut a text into chunks that each fit a limit, at paragraph breaks,
  then sentence ends, then whitespace, so that a sentence (and the negation in it)
  stays in one request; each ``TextChunk`` knows where it starts in the original,
  which is what re-basing the service's offsets needs.
* ``billed_units``: what one request is metered as.
* ``Estimate``, ``AnalysisResult`` and ``Usage``: the values the clients'
  ``analyze_document``, ``analyze_many`` and ``usage`` return.

Clinical text is protected health information: no ``repr`` here shows it, and error
messages name the parameter and the rule, never the text.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from cmclient._quota import Usage
from cmclient.errors import ParamValidationError

if TYPE_CHECKING:
    from cmclient.errors import ComprehendMedicalError

__all__ = [
    "TEXT_LIMITS",
    "AnalysisResult",
    "Estimate",
    "TextChunk",
    "Usage",
    "billed_units",
    "split_text",
    "text_limit",
    "utf8_length",
]

#: The most text one request of each operation takes, in UTF-8 bytes, keyed by the
#: client's method name. The service documents these inconsistently (the API
#: reference says 20,000 bytes for the three detectors, the quotas page "20 KB (UTF-8
#: characters)"; the ontology operations 10,000 characters, and one localised quotas
#: page 5 KB for SNOMED CT), so each entry is the smallest documented figure, counted
#: in bytes: a chunk within it is within every reading. Change an entry to change it
#: for the whole process, or pass ``max_bytes=`` to one call.
TEXT_LIMITS: dict[str, int] = {
    "detect_entities_v2": 20_000,
    "detect_entities": 20_000,
    "detect_phi": 20_000,
    "infer_icd10_cm": 10_000,
    "infer_rx_norm": 10_000,
    "infer_snomedct": 5_000,
}

#: Characters per billing unit; each request is at least one unit.
UNIT_CHARACTERS = 100

# The smallest max_bytes that always makes progress: one code point is at most 4 bytes.
_MIN_BYTES = 4


def text_limit(operation: str) -> int:
    """The byte limit of ``operation`` (a method name such as ``"detect_phi"``), from
    ``TEXT_LIMITS`` as it is now."""
    try:
        return TEXT_LIMITS[operation]
    except KeyError:
        raise ParamValidationError("text_limit", [(
            "operation", f"must be one of {', '.join(TEXT_LIMITS)}")]) from None


def billed_units(text: str) -> int:
    """The units one request sending ``text`` is billed as: one per 100 characters
    (code points), rounded up, and at least one."""
    if not isinstance(text, str):
        raise ParamValidationError("billed_units", [("text", "must be a str")])
    return max(1, -(-len(text) // UNIT_CHARACTERS))


def utf8_length(text: str) -> int:
    """The length of ``text`` in UTF-8 bytes, which is what the service's limits count.
    A lone surrogate counts as the 3 bytes it would take (the service rejects it)."""
    return len(text.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class TextChunk:
    """One piece of a longer text: ``text`` is ``original[begin:begin + len(text)]``.

    ``begin`` is a code-point offset (Python ``str`` indexing), the unit the service's
    ``BeginOffset`` and ``EndOffset`` use, so an offset the service returns for this
    chunk plus ``begin`` is the offset in the original. The ``repr`` shows the span,
    never the text.
    """

    text: str = field(repr=False)
    begin: int

    @property
    def end(self) -> int:
        """The offset just past the chunk in the original text."""
        return self.begin + len(self.text)

    def __repr__(self) -> str:
        return f"TextChunk(begin={self.begin}, end={self.end})"


# --- splitting -----------------------------------------------------------------------

# Break levels: where a chunk may end, best first.
_PARAGRAPH = 3
_SENTENCE = 2
_WORD = 1

_WHITESPACE = re.compile(r"\s+")
_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# A sentence ends with . ! ? or an ellipsis, then maybe closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?\u2026][\"')\]\u2019\u201d\u00bb]*\Z")
# Full stops that end a sentence with no space after them (CJK, fullwidth).
_TIGHT_END = re.compile(r"[\u3002\uff01\uff1f\uff61](?=\S)")
_LAST_WORD = re.compile(r"(\w+(?:\.\w+)*)\.[\"')\]\u2019\u201d\u00bb]*\Z")
# Abbreviations after which a full stop does not end a sentence: cutting "Dr. | Smith"
# would separate a name from the title that makes it recognisable.
_ABBREVIATIONS = frozenset({
    "dr", "mr", "mrs", "ms", "mx", "prof", "sr", "jr", "st", "vs", "e.g", "i.e", "pt",
    "approx", "fig", "inc", "ltd", "dept",
})
_JOINERS = frozenset("\u200c\u200d")


class _Breaks:
    """The candidate cut points of one text, by level, as sorted lists: ``cuts`` (where
    a chunk may end) and ``starts`` (where the next one then begins)."""

    def __init__(self, text: str) -> None:
        self.cuts: dict[int, list[int]] = {_PARAGRAPH: [], _SENTENCE: [], _WORD: []}
        self.starts: dict[int, list[int]] = {_PARAGRAPH: [], _SENTENCE: [], _WORD: []}
        found: list[tuple[int, int, int]] = []
        for match in _WHITESPACE.finditer(text):
            begin, end = match.span()
            if begin == 0 or end == len(text):
                continue  # leading and trailing whitespace is never inside a chunk
            found.append((begin, end, _level(text, begin, match.group())))
        for match in _TIGHT_END.finditer(text):
            found.append((match.end(), match.end(), _SENTENCE))
        found.sort()
        for cut, start, level in found:
            self.cuts[level].append(cut)
            self.starts[level].append(start)
        #: Where sentences (and paragraphs) begin, for the overlap to go back to.
        self.sentence_starts = sorted(self.starts[_PARAGRAPH] + self.starts[_SENTENCE])
        self.word_starts = self.starts[_WORD]

    def best(self, low: int, high: int) -> tuple[int, int, int] | None:
        """The last break of the best level whose cut is in ``(low, high]``: its cut,
        where the next chunk starts, and its level."""
        for level in (_PARAGRAPH, _SENTENCE, _WORD):
            cuts = self.cuts[level]
            i = bisect.bisect_right(cuts, high) - 1
            if i >= 0 and cuts[i] > low:
                return cuts[i], self.starts[level][i], level
        return None


def _level(text: str, begin: int, run: str) -> int:
    breaks = len(_LINE_BREAK.findall(run))
    if breaks >= 2 or "\u2029" in run:
        return _PARAGRAPH
    if breaks == 1:
        return _SENTENCE  # a line ends: a list item, a heading, a sentence
    before = text[max(0, begin - 40):begin]
    if _SENTENCE_END.search(before):
        word = _LAST_WORD.search(before)
        if word is not None and before.endswith("."):
            name = word.group(1).lower()
            if name in _ABBREVIATIONS or (len(name) == 1 and name.isalpha()):
                return _WORD  # "Dr. Smith", "J. Smith"
        return _SENTENCE
    return _WORD


class _Bytes:
    """UTF-8 byte offsets of a text's code points, to find how far a chunk may go."""

    def __init__(self, text: str) -> None:
        self.ascii = text.isascii()
        self.prefix: list[int] = []
        if not self.ascii:
            sizes = (1 if c < "\x80" else 2 if c < "\u0800" else 3 if c < "\U00010000" else 4
                     for c in text)
            self.prefix = list(itertools.accumulate(sizes, initial=0))

    def between(self, begin: int, end: int) -> int:
        return end - begin if self.ascii else self.prefix[end] - self.prefix[begin]

    def farthest(self, begin: int, budget: int, limit: int) -> int:
        """The largest ``end <= limit`` with ``text[begin:end]`` within ``budget`` bytes."""
        if self.ascii:
            return min(limit, begin + budget)
        return min(limit, bisect.bisect_right(self.prefix, self.prefix[begin] + budget) - 1)


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i].isspace():
        i += 1
    return i


def _inside_word_cut(text: str, low: int, end: int) -> int:
    """Step a cut inside a word back off a combining mark or a joiner, so that an
    accented letter or an emoji sequence is not torn apart when it can be helped."""
    cut = end
    while cut - 1 > low and cut < len(text) and (
        unicodedata.combining(text[cut]) or text[cut] in _JOINERS
        or text[cut - 1] in _JOINERS or "\ufe00" <= text[cut] <= "\ufe0f"
    ):
        cut -= 1
    return cut


def _check_split_args(text: Any, max_bytes: Any, overlap: Any) -> None:
    problems = []
    if not isinstance(text, str):
        problems.append(("text", "must be a str"))
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < _MIN_BYTES:
        problems.append(("max_bytes", f"must be an int of at least {_MIN_BYTES} (bytes)"))
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        problems.append(("overlap", "must be an int of at least 0 (characters)"))
    if problems:
        raise ParamValidationError("split_text", problems)


def split_text(text: str, *, max_bytes: int, overlap: int = 0) -> list[TextChunk]:
    """Cut ``text`` into chunks of at most ``max_bytes`` UTF-8 bytes each.

    A text that fits is one chunk, itself, unchanged. A longer one is cut at the last
    paragraph break (a blank line) that keeps the chunk within the limit; without one,
    at the last sentence end (``.``, ``!``, ``?`` before whitespace, but not after an
    abbreviation such as ``Dr.``; a line break; a CJK full stop); without one, at
    whitespace; and only when a single word is longer than the limit, inside that word
    (never inside a code point, and not off an accent or an emoji joiner when it can
    be helped). Cutting at the best break that fits keeps whole sentences together,
    which is what the service needs to see a negation ("no chest pain") or link a dose
    to its drug.

    Chunks of a cut text start and end with a non-whitespace character, and together
    hold every non-whitespace character of the text; for each,
    ``text[c.begin:c.begin + len(c.text)] == c.text``. A text that is empty or only
    whitespace gives no chunks.

    ``overlap`` (characters) starts each chunk after the first about that far back in
    the previous one, at the start of a sentence (else of a word), so that what is said
    near a border is seen with some context on both sides; it is at most half of
    ``max_bytes``, so every chunk still brings new text.
    """
    _check_split_args(text, max_bytes, overlap)
    if not text or text.isspace():
        return []
    sizes = _Bytes(text)
    n = len(text)
    if sizes.between(0, n) <= max_bytes:
        return [TextChunk(text, 0)]
    end_of_text = len(text.rstrip())
    breaks = _Breaks(text)
    chunks: list[TextChunk] = []
    begin = _skip_space(text, 0)
    low = begin  # a chunk must end after this: past the end of the previous chunk
    fresh = begin  # where the chunk would begin without overlap
    while True:
        made = _next_chunk(text, sizes, breaks, begin, low, end_of_text, max_bytes)
        if begin != fresh:
            # The overlap must not cost a worse cut: with no room left after it, or a
            # cut inside a sentence where a fresh start would end one, drop it.
            plain = _next_chunk(text, sizes, breaks, fresh, fresh, end_of_text, max_bytes)
            if made is None or (plain is not None and plain[2] > made[2]):
                begin, low, made = fresh, fresh, plain
        assert made is not None  # from a fresh start there is always room (max_bytes >= 4)
        cut, start, _ = made
        chunks.append(TextChunk(text[begin:cut], begin))
        if cut >= end_of_text:
            return chunks
        fresh = _skip_space(text, start)
        low = cut
        begin = fresh
        if overlap:
            back = _overlap_start(breaks, sizes, begin=chunks[-1].begin, cut=cut,
                                  overlap=overlap, max_bytes=max_bytes)
            if back is not None:
                begin = back
        else:
            low = fresh


_END = 4  # the end of the text: the best place to end a chunk
_INSIDE = 0  # inside a word: the worst


def _next_chunk(
    text: str, sizes: _Bytes, breaks: _Breaks, begin: int, low: int, end_of_text: int,
    max_bytes: int,
) -> tuple[int, int, int] | None:
    """Where the chunk starting at ``begin`` ends, where the next one would start, and
    the level of that break; None when it cannot end past ``low``."""
    if sizes.between(begin, end_of_text) <= max_bytes:
        return end_of_text, end_of_text, _END
    low = max(low, begin)
    high = sizes.farthest(begin, max_bytes, end_of_text)
    found = breaks.best(low, high)
    if found is not None:
        return found
    cut = _inside_word_cut(text, low, high)
    while cut > low and text[cut - 1].isspace():
        cut -= 1
    if cut <= low:
        return None
    return cut, cut, _INSIDE


def _overlap_start(
    breaks: _Breaks, sizes: _Bytes, *, begin: int, cut: int, overlap: int, max_bytes: int
) -> int | None:
    """A sentence start (else a word start) in the chunk ``[begin, cut)`` about
    ``overlap`` characters before ``cut``, carrying at most half of ``max_bytes``."""
    for starts in (breaks.sentence_starts, breaks.word_starts):
        lo = bisect.bisect_left(starts, max(begin + 1, cut - 2 * overlap))
        hi = bisect.bisect_left(starts, cut)
        best: int | None = None
        for start in starts[lo:hi]:
            if sizes.between(start, cut) * 2 > max_bytes:
                continue
            if best is None or abs(cut - start - overlap) < abs(cut - best - overlap):
                best = start
        if best is not None:
            return best
    return None


# --- what the clients return ---------------------------------------------------------

ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class Estimate:
    """What an analysis would send, worked out without sending it (``dry_run=True``):
    the ``chunks`` (one request each) and the billing ``units`` they come to."""

    operation: str
    chunks: list[TextChunk]
    units: int

    @property
    def requests(self) -> int:
        return len(self.chunks)

    @property
    def characters(self) -> int:
        return sum(len(chunk.text) for chunk in self.chunks)


@dataclass(frozen=True)
class AnalysisResult(Generic[ResultT]):
    """The outcome for the text at ``index`` of an ``analyze_many`` input: its
    ``result``, or the ``error`` that ended it after the retries (never both).

    The ``repr`` names the index and the outcome's kind, never the result's content
    (entity texts are clinical text).
    """

    index: int
    result: ResultT | None = None
    error: ComprehendMedicalError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        if self.error is not None:
            return f"AnalysisResult(index={self.index}, error={type(self.error).__name__})"
        return f"AnalysisResult(index={self.index}, result={type(self.result).__name__})"

