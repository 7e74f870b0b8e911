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

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from cmclient._protocol.quota import Usage
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
# From a run's first line break to its end: where paragraph breaks and line ends are.
_LINE_RUN = re.compile(r"[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]\s*")
# A character that can end a sentence (_SENTENCE_END's last one), then a whole run.
_AFTER_MARK = re.compile(r"[.!?\u2026\"')\]\u2019\u201d\u00bb]\s+")
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
    """The candidate cut points of one text, found lazily near each cut.

    A break is a whitespace run (its first character is where a chunk may end, the
    character after it where the next one starts) or a full stop that takes no space
    after it; its level says how good a place to cut it is. A chunk needs only the
    best break within the last stretch that fits, and the overlap only the breaks just
    before a cut, so only the runs that can be a better break than a word's (those with
    a line break in them, and those after a character that ends a sentence) are looked
    for, by regular expressions, there, and each is classified at most once: a long
    note has a break every few characters and only a handful of chunks.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._levels: dict[int, int] = {}  # a run's first character: its level

    def _level_of(self, begin: int, end: int) -> int:
        level = self._levels.get(begin)
        if level is None:
            level = self._levels[begin] = _level(self.text, begin, self.text[begin:end])
        return level

    def _run_begin(self, position: int) -> int:
        """The first character of the whitespace run ending just before ``position``
        (``position`` itself when none does)."""
        text = self.text
        while position > 0 and text[position - 1].isspace():
            position -= 1
        return position

    def _run_end(self, position: int) -> int:
        """Just past the whitespace run holding ``position``, or past ``position``."""
        run = _WHITESPACE.match(self.text, position)
        return position + 1 if run is None else run.end()

    def best(self, low: int, high: int) -> tuple[int, int, int] | None:
        """The last break of the best level whose cut is in ``(low, high]``: its cut,
        where the next chunk starts, and its level. ``high`` is before the text's
        trailing whitespace."""
        text = self.text
        n = len(text)
        # Searches end with the run that ``high`` is in, so that a run starting in the
        # window is seen whole (its level depends on all of it) and nothing after it is.
        stop = self._run_end(high)
        paragraph: tuple[int, int] | None = None
        sentence: tuple[int, int] | None = None
        for match in _LINE_RUN.finditer(text, low + 1, stop):
            end = match.end()
            begin = self._run_begin(match.start())
            if begin <= low or end == n:
                continue  # it began before the window; trailing whitespace
            if self._level_of(begin, end) == _PARAGRAPH:
                paragraph = begin, end
            else:
                sentence = begin, end
        if paragraph is not None:
            return paragraph[0], paragraph[1], _PARAGRAPH
        for match in _TIGHT_END.finditer(text, low, min(n, high + 1)):
            cut = match.end()
            if low < cut <= high and (sentence is None or cut > sentence[0]):
                sentence = cut, cut
        # Runs after a sentence's last character, the last first: a stretch at the end
        # of the window, then ever longer ones, until one ends a sentence.
        upper = stop
        size = 256
        while upper > low and (sentence is None or sentence[0] < upper):
            lower = max(low, upper - size)
            found = []
            for match in _AFTER_MARK.finditer(text, lower, stop):
                if match.start() >= upper:
                    break
                found.append((match.start() + 1, match.end()))
            for begin, end in reversed(found):
                if sentence is not None and begin <= sentence[0]:
                    break
                if end != n and self._level_of(begin, end) == _SENTENCE:
                    sentence = begin, end
                    break
            upper = lower
            size *= 4
        if sentence is not None:
            return sentence[0], sentence[1], _SENTENCE
        # No better break in the window: every run in it is a word break.
        word: tuple[int, int] | None = None
        for match in _WHITESPACE.finditer(text, low + 1, stop):
            begin, end = match.span()
            if end != n and (begin > low + 1 or not text[low].isspace()):
                word = begin, end  # (the first match may be the end of an earlier run)
        return None if word is None else (word[0], word[1], _WORD)

    def sentence_starts(self, low: int, high: int) -> list[int]:
        """Where sentences (and paragraphs) start in ``[low, high)``, in order."""
        text = self.text
        n = len(text)
        first = self._run_begin(low)  # the first character of a run ending at low or later
        found: set[int] = set()
        # (A run reaching ``high`` is cut short by the search, and is not in range.)
        for match in _LINE_RUN.finditer(text, first, high):
            end = match.end()
            begin = self._run_begin(match.start())
            if low <= end < high and begin != 0 and end != n:
                found.add(end)  # a line break ends a sentence or a paragraph
        for match in _AFTER_MARK.finditer(text, max(0, first - 1), high):
            begin, end = match.start() + 1, match.end()
            if low <= end < high and end != n and self._level_of(begin, end) != _WORD:
                found.add(end)
        for match in _TIGHT_END.finditer(text, max(0, low - 1), high):
            if match.end() >= low:
                found.add(match.end())
        return sorted(found)

    def word_starts(self, low: int, high: int, sentences: list[int]) -> list[int]:
        """Where words after a word break start in ``[low, high)``, in order, given the
        ``sentence_starts`` there: every other run is a word break."""
        text = self.text
        n = len(text)
        other = set(sentences)
        starts = []
        for match in _WHITESPACE.finditer(text, self._run_begin(low), high):
            begin, end = match.span()
            if low <= end < high and begin != 0 and end != n and end not in other:
                starts.append(end)
        return starts


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
    """UTF-8 sizes of pieces of a text, to find how far a chunk may go.

    A piece is measured by encoding it when asked, which is done in C and only for the
    pieces near a cut, rather than by a table of every code point's offset built in
    Python for the whole text up front. An ASCII text needs neither: a character is a
    byte.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.isascii()

    def between(self, begin: int, end: int) -> int:
        if self.ascii:
            return end - begin
        return len(self.text[begin:end].encode("utf-8", "surrogatepass"))

    def fits(self, begin: int, end: int, budget: int) -> bool:
        """Whether ``text[begin:end]`` is within ``budget`` bytes (a piece of more code
        points than that is not, whatever they are: each takes a byte at least)."""
        return end - begin <= budget and self.between(begin, end) <= budget

    def farthest(self, begin: int, budget: int, limit: int) -> int:
        """The largest ``end <= limit`` with ``text[begin:end]`` within ``budget`` bytes."""
        stop = min(limit, begin + budget)  # no more code points than bytes fit
        if self.ascii:
            return stop
        encoded = self.text[begin:stop].encode("utf-8", "surrogatepass")
        if len(encoded) <= budget:
            return stop
        cut = budget  # back to the first byte of the code point that does not fit
        while encoded[cut] & 0xC0 == 0x80:
            cut -= 1
        return begin + len(encoded[:cut].decode("utf-8", "surrogatepass"))

    def to_end(self, starts: list[int], end: int) -> list[int]:
        """The size of ``text[start:end]`` for each of the ascending ``starts``, each
        piece encoded once."""
        if self.ascii:
            return [end - start for start in starts]
        sizes: list[int] = []
        total = 0
        for start in reversed(starts):
            total += self.between(start, end)
            end = start
            sizes.append(total)
        sizes.reverse()
        return sizes


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
    if sizes.fits(0, n, max_bytes):
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
    if sizes.fits(begin, end_of_text, max_bytes):
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
    low = max(begin + 1, cut - 2 * overlap)
    sentences = breaks.sentence_starts(low, cut)
    for level in (_SENTENCE, _WORD):
        starts = sentences if level == _SENTENCE else breaks.word_starts(low, cut, sentences)
        best: int | None = None
        for start, size in zip(starts, sizes.to_end(starts, cut), strict=True):
            if size * 2 > max_bytes:
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

