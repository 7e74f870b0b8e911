"""``AsyncDocuments``: long notes, many notes, de-identification, usage and the quota
limiter, for the asynchronous client.

A mixin: the client class lists it among its bases and calls ``_init_documents``
from its constructor (with its ``quotas=``) and ``_admit`` once per call, before the
first attempt. All it needs from the client is ``_invoke(operation, params)``, the
one method every operation goes through; it never imports the client. The decisions
are pure and live elsewhere: cutting and merging in ``_documents``, pacing and
counting in ``_quota``, redaction in ``phi``. What is left here is sending, waiting
and fanning out.

The async mixin is the source, and ``tools/unasync.py`` generates the sync one from
it (see ``PAIRS`` there). Fanning out goes through ``_fanout`` (asyncio tasks
for the async client, a thread pool for the sync one) and waiting through
``_http.client``, so the two files differ only in keywords. The mixin is imported
with the client, so what only the document methods need (splitting, merging, fanning
out, redaction) is imported when one of them is first called.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sized
from contextlib import aclosing
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, overload

from cmclient._http.client import asleep
from cmclient._protocol import quota as _quota
from cmclient.errors import ComprehendMedicalError, ParamValidationError

if TYPE_CHECKING:
    from cmclient import models
    from cmclient._protocol import documents as _documents
    from cmclient._protocol.operation import Operation, OutputT
    from cmclient._protocol.quota import Quota, Usage
    from cmclient.phi import Redaction, Strategy
    from cmclient.text import AnalysisResult, Estimate, TextChunk

__all__ = ["DEFAULT_DOCUMENT_CONCURRENCY", "DEFAULT_MANY_CONCURRENCY", "DEFAULT_OVERLAP",
           "AsyncDocuments"]

#: Characters of context carried from one chunk into the next: none by default, since
#: the cuts already keep sentences whole and every carried character is billed twice.
DEFAULT_OVERLAP = 0
#: Chunks of one document in flight at once: a note of five times the service's limit
#: goes out in one wave (the quota limiter still sets the pace).
DEFAULT_DOCUMENT_CONCURRENCY = 8
#: Texts of ``analyze_many`` in flight at once; the quota limiter sets the pace.
DEFAULT_MANY_CONCURRENCY = 16

class AsyncDocuments:
    """Analysis of real clinical text: ``analyze_document`` (one note of any length),
    ``analyze_many`` (any number of notes), ``deidentify``, ``usage``, and the
    client-side quota limiter every call goes through."""

    _cm_admission: _quota.Admission
    _cm_admission_lock: threading.Lock

    if TYPE_CHECKING:
        # The client provides it: the one method every operation goes through.
        async def _invoke(
            self, operation: Operation[Any, OutputT], params: dict[str, Any]
        ) -> OutputT: ...

    # --- the limiter and the meter --------------------------------------------------

    def _init_documents(
        self, quotas: Mapping[str, Quota | None] | None = _quota.DEFAULT_QUOTAS
    ) -> None:
        """Set up the limiter and the meter from the client's ``quotas=``."""
        resolved = _quota.resolve_quotas(quotas, owner=type(self).__name__)
        self._cm_admission_lock = threading.Lock()
        self._cm_admission = _quota.Admission(resolved)

    def _admission(self) -> tuple[threading.Lock, _quota.Admission]:
        return self._cm_admission_lock, self._cm_admission

    async def _admit(self, operation: Operation[Any, Any], params: Mapping[str, Any]) -> None:
        """Count one call and wait for its quota slot: once per call, before its first
        attempt, so a call's retries count once. The lock is held only to book the
        slot, never while waiting for it."""
        lock, admission = self._admission()
        with lock:
            delay = admission.admit(operation.name, params.get("text"), time.monotonic())
        if delay > 0:
            await asleep(delay)

    @property
    def usage(self) -> dict[str, Usage]:
        """What this client has sent so far, by method name: ``requests`` (a call and
        its retries count once), ``characters`` (code points) and billing ``units``.
        A snapshot: later calls do not change it."""
        lock, admission = self._admission()
        with lock:
            return admission.usage()

    @property
    def quotas(self) -> dict[str, Quota] | None:
        """The quotas this client paces itself to, by method name (None: no limiter)."""
        return self._admission()[1].quotas

    # --- one document -----------------------------------------------------------------

    @overload
    async def analyze_document(
        self, text: str, *, operation: Literal["detect_entities_v2"] = ...,
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        dry_run: Literal[False] = ...,
    ) -> models.DetectEntitiesV2Response: ...

    @overload
    async def analyze_document(
        self, text: str, *, operation: Literal["detect_entities"],
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        dry_run: Literal[False] = ...,
    ) -> models.DetectEntitiesResponse: ...

    @overload
    async def analyze_document(
        self, text: str, *, operation: Literal["detect_phi"],
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        dry_run: Literal[False] = ...,
    ) -> models.DetectPHIResponse: ...

    @overload
    async def analyze_document(
        self, text: str, *, operation: Literal["infer_icd10_cm"],
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        dry_run: Literal[False] = ...,
    ) -> models.InferICD10CMResponse: ...

    @overload
    async def analyze_document(
        self, text: str, *, operation: Literal["infer_rx_norm"],
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        dry_run: Literal[False] = ...,
    ) -> models.InferRxNormResponse: ...

    @overload
    async def analyze_document(
        self, text: str, *, operation: Literal["infer_snomedct"],
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        dry_run: Literal[False] = ...,
    ) -> models.InferSNOMEDCTResponse: ...

    @overload
    async def analyze_document(
        self, text: str, *, operation: _documents.TextOperation = ...,
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        dry_run: Literal[True],
    ) -> Estimate: ...

    @overload
    async def analyze_document(
        self, text: str, *, operation: str = ...,
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        dry_run: bool = ...,
    ) -> Any: ...

    async def analyze_document(
        self,
        text: str,
        *,
        operation: str = "detect_entities_v2",
        overlap: int = DEFAULT_OVERLAP,
        max_concurrency: int = DEFAULT_DOCUMENT_CONCURRENCY,
        max_bytes: int | None = None,
        dry_run: bool = False,
    ) -> Any:
        """Analyze one note of any length with ``operation`` (the method name of a text
        operation: ``detect_entities_v2``, ``detect_entities``, ``detect_phi``,
        ``infer_icd10_cm``, ``infer_rx_norm`` or ``infer_snomedct``).

        Returns that operation's own response model, as if the service had taken the
        whole note: a note within the operation's limit (``cmclient.text.TEXT_LIMITS``,
        or ``max_bytes``) is one call and its result as is; a longer one is cut at
        paragraph breaks, then sentence ends (``cmclient.text.split_text``, with
        ``overlap`` characters of context carried across each cut), the chunks are
        sent at most ``max_concurrency`` at a time (tasks in the async client, a thread
        pool in the sync one), and the answers are merged: offsets re-based onto the
        whole text, ids renumbered unique, an entity found by two overlapping chunks
        kept once (the higher score).

        An empty or whitespace-only text is a ``ParamValidationError``. A chunk that
        fails after its retries fails the call (the other chunks are cancelled).
        ``dry_run=True`` sends nothing and returns an ``Estimate``: the chunks and the
        billing units they would cost.
        """
        from cmclient._protocol import documents as _documents

        checked = _documents.options(
            "analyze_document", operation=operation, overlap=overlap,
            max_concurrency=max_concurrency, max_bytes=max_bytes,
        )
        return await self._analyze(_documents.plan("analyze_document", text, checked), dry_run)

    async def _analyze(self, planned: _documents.Plan, dry_run: bool) -> Any:
        from cmclient._fanout import aimap
        from cmclient._protocol import documents as _documents

        if dry_run:
            return _documents.estimate(planned)
        send = partial(self._send_chunk, planned.options.row)
        if len(planned.chunks) == 1:
            return _documents.merge(planned, [await send(planned.chunks[0])])
        fan_out = aimap(send, planned.chunks, planned.options.max_concurrency)
        async with aclosing(fan_out) as sent:
            responses = [response async for response in sent]
        return _documents.merge(planned, responses)

    async def _send_chunk(self, row: Operation[Any, OutputT], chunk: TextChunk) -> OutputT:
        return await self._invoke(row, {"text": chunk.text})

    # --- many documents ---------------------------------------------------------------

    @overload
    def analyze_many(
        self, texts: Iterable[str], *, operation: Literal["detect_entities_v2"] = ...,
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        on_progress: Callable[[int, int | None], object] | None = ...,
        dry_run: Literal[False] = ...,
    ) -> AsyncIterator[AnalysisResult[models.DetectEntitiesV2Response]]: ...

    @overload
    def analyze_many(
        self, texts: Iterable[str], *, operation: Literal["detect_entities"],
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        on_progress: Callable[[int, int | None], object] | None = ...,
        dry_run: Literal[False] = ...,
    ) -> AsyncIterator[AnalysisResult[models.DetectEntitiesResponse]]: ...

    @overload
    def analyze_many(
        self, texts: Iterable[str], *, operation: Literal["detect_phi"],
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        on_progress: Callable[[int, int | None], object] | None = ...,
        dry_run: Literal[False] = ...,
    ) -> AsyncIterator[AnalysisResult[models.DetectPHIResponse]]: ...

    @overload
    def analyze_many(
        self, texts: Iterable[str], *, operation: Literal["infer_icd10_cm"],
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        on_progress: Callable[[int, int | None], object] | None = ...,
        dry_run: Literal[False] = ...,
    ) -> AsyncIterator[AnalysisResult[models.InferICD10CMResponse]]: ...

    @overload
    def analyze_many(
        self, texts: Iterable[str], *, operation: Literal["infer_rx_norm"],
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        on_progress: Callable[[int, int | None], object] | None = ...,
        dry_run: Literal[False] = ...,
    ) -> AsyncIterator[AnalysisResult[models.InferRxNormResponse]]: ...

    @overload
    def analyze_many(
        self, texts: Iterable[str], *, operation: Literal["infer_snomedct"],
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        on_progress: Callable[[int, int | None], object] | None = ...,
        dry_run: Literal[False] = ...,
    ) -> AsyncIterator[AnalysisResult[models.InferSNOMEDCTResponse]]: ...

    @overload
    def analyze_many(
        self, texts: Iterable[str], *, operation: _documents.TextOperation = ...,
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        on_progress: Callable[[int, int | None], object] | None = ...,
        dry_run: Literal[True],
    ) -> AsyncIterator[AnalysisResult[Estimate]]: ...

    @overload
    def analyze_many(
        self, texts: Iterable[str], *, operation: str = ...,
        overlap: int = ..., max_concurrency: int = ..., max_bytes: int | None = ...,
        on_progress: Callable[[int, int | None], object] | None = ...,
        dry_run: bool = ...,
    ) -> AsyncIterator[AnalysisResult[Any]]: ...

    def analyze_many(
        self,
        texts: Iterable[str],
        *,
        operation: str = "detect_entities_v2",
        overlap: int = DEFAULT_OVERLAP,
        max_concurrency: int = DEFAULT_MANY_CONCURRENCY,
        max_bytes: int | None = None,
        on_progress: Callable[[int, int | None], object] | None = None,
        dry_run: bool = False,
    ) -> AsyncIterator[AnalysisResult[Any]]:
        """Analyze every text of ``texts`` with ``operation``, at most
        ``max_concurrency`` at a time, and yield one ``AnalysisResult`` per text, in
        input order: its ``index`` and its ``result`` or, if it failed after the
        retries, its ``error`` (the others go on). Texts over the limit go through
        ``analyze_document``.

        ``texts`` may be any iterable, a generator of millions included: it is read
        as the work goes, a bounded number of texts ahead of what has been yielded.
        ``on_progress(done, total)`` is called as each result is yielded (``total`` is
        ``len(texts)`` when it has one, else None), and once with ``done=0`` first.
        The pace is the client's quota limiter's, not the concurrency's.
        ``dry_run=True`` sends nothing and yields an ``Estimate`` per text.

        The options are checked here, before anything is read from ``texts``.
        """
        from cmclient._protocol import documents as _documents

        checked = _documents.options(
            "analyze_many", operation=operation, overlap=overlap,
            max_concurrency=max_concurrency, max_bytes=max_bytes,
        )
        problems = []
        if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
            problems.append(("texts", "must be an iterable of str (not one str)"))
        if on_progress is not None and not callable(on_progress):
            problems.append(("on_progress", "must be None or a callable(done, total)"))
        if problems:
            raise ParamValidationError("analyze_many", problems)
        total = len(texts) if isinstance(texts, Sized) else None
        return self._analyze_many(texts, checked, on_progress, total, dry_run)

    async def _analyze_many(
        self,
        texts: Iterable[str],
        checked: _documents.Options,
        on_progress: Callable[[int, int | None], object] | None,
        total: int | None,
        dry_run: bool,
    ) -> AsyncIterator[AnalysisResult[Any]]:
        from cmclient._fanout import aimap

        # A long text's chunks fan out too, but no wider than one document's default.
        inner = checked._replace(
            max_concurrency=min(checked.max_concurrency, DEFAULT_DOCUMENT_CONCURRENCY))
        analyze = partial(self._analyze_one, inner, dry_run)
        limit = 1 if dry_run else checked.max_concurrency  # a dry run is pure: no fan-out
        if on_progress is not None:
            on_progress(0, total)
        done = 0
        async with aclosing(aimap(analyze, enumerate(texts), limit)) as results:
            async for result in results:
                done += 1
                if on_progress is not None:
                    on_progress(done, total)
                yield result

    async def _analyze_one(
        self, checked: _documents.Options, dry_run: bool, item: tuple[int, str]
    ) -> AnalysisResult[Any]:
        from cmclient._protocol import documents as _documents
        from cmclient.text import AnalysisResult

        index, text = item
        try:
            planned = _documents.plan("analyze_many", text, checked)
            return AnalysisResult(index, await self._analyze(planned, dry_run))
        except ComprehendMedicalError as error:
            return AnalysisResult(index, error=error)

    # --- de-identification ------------------------------------------------------------

    @overload
    async def deidentify(
        self, text: str, *, strategy: Strategy = ..., types: Iterable[str] | None = ...,
        min_score: float = ..., key: bytes | str | None = ..., overlap: int = ...,
        max_concurrency: int = ..., max_bytes: int | None = ..., dry_run: Literal[False] = ...,
    ) -> Redaction: ...

    @overload
    async def deidentify(
        self, text: str, *, strategy: Strategy = ..., types: Iterable[str] | None = ...,
        min_score: float = ..., key: bytes | str | None = ..., overlap: int = ...,
        max_concurrency: int = ..., max_bytes: int | None = ..., dry_run: Literal[True],
    ) -> Estimate: ...

    async def deidentify(
        self,
        text: str,
        *,
        strategy: Strategy = "label",
        types: Iterable[str] | None = None,
        min_score: float = 0.0,
        key: bytes | str | None = None,
        overlap: int = DEFAULT_OVERLAP,
        max_concurrency: int = DEFAULT_DOCUMENT_CONCURRENCY,
        max_bytes: int | None = None,
        dry_run: bool = False,
    ) -> Redaction | Estimate:
        """``analyze_document(text, operation="detect_phi")``, then
        ``cmclient.phi.redact`` with ``strategy``, ``types``, ``min_score`` and ``key``.
        The redaction options are checked before anything is sent."""
        from cmclient._protocol import documents as _documents
        from cmclient.phi import check_options, redact
        from cmclient.text import Estimate

        check_options(strategy=strategy, types=types, min_score=min_score, key=key,
                      caller="deidentify")
        checked = _documents.options(
            "deidentify", operation="detect_phi", overlap=overlap,
            max_concurrency=max_concurrency, max_bytes=max_bytes,
        )
        result = await self._analyze(_documents.plan("deidentify", text, checked), dry_run)
        if dry_run:
            assert isinstance(result, Estimate)
            return result
        return redact(text, result.entities or [], strategy=strategy, types=types,
                      min_score=min_score, key=key)
