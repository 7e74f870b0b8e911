"""The types of the batch path, for annotations: what ``upload_documents``,
``job_results`` and ``run_batch`` (on both clients) take and return.

``JobOutput`` (``AsyncJobOutput`` from the async client) is a finished job's output:
``status``, ``manifest`` (a ``Manifest``: its ``summary`` is a ``ManifestSummary``),
``unprocessed`` (``UnprocessedDocument``s) and ``iter_results()``, which streams
``DocumentResult(input_name, result)``. ``Kind`` names the five kinds of job. The
exceptions are in ``cmclient.errors`` (``BatchResultsError`` and its subclasses).
"""

from __future__ import annotations

from cmclient._async.batch import Documents
from cmclient._protocol.batch import (
    KINDS,
    AsyncJobOutput,
    DocumentResult,
    FileList,
    JobLocation,
    JobOutput,
    Kind,
    ListedFile,
    Manifest,
    ManifestSummary,
    UnprocessedDocument,
)

__all__ = [
    "KINDS",
    "AsyncJobOutput",
    "DocumentResult",
    "Documents",
    "FileList",
    "JobLocation",
    "JobOutput",
    "Kind",
    "ListedFile",
    "Manifest",
    "ManifestSummary",
    "UnprocessedDocument",
]
