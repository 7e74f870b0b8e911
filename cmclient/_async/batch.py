"""``AsyncBatch``: batch jobs end to end for the asynchronous client: documents in
(``upload_documents``), results out (``job_results``), and the whole path in one call
(``run_batch``), over cmclient's own S3 driver (``cmclient._s3``), with no boto3.

A mixin, as ``AsyncDocuments`` is: the client lists it among its bases, calls
``_init_batch`` from its constructor (with its ``s3_endpoint_url=``) and
``_close_batch`` from ``aclose``. It needs from the client ``_invoke`` (the one method
every operation goes through) and, to build the S3 driver on first use, its core
(configuration and credentials), HTTP client, timeout and retry settings; it never
imports the client.

Every decision is in ``cmclient._protocol.batch`` (pure): the input rules and the upload plan,
where a job's outputs are, what each object is, how to parse it, how a split
document's parts are joined. S3's requests are built, signed and parsed by
``cmclient._protocol.s3``. What is left here is reading files, sending, and fanning
out through ``_fanout`` (asyncio tasks in the async client, a thread pool in the sync
one).

The async mixin is the source, and ``tools/unasync.py`` generates the sync one from
it (see ``PAIRS`` there). It is imported with the client, so the batch machinery
(``_batch``, ``_s3``, the fan-out) is imported when one of its methods is first
called: a process that never uses it never loads it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, overload

from cmclient.errors import ParamValidationError

if TYPE_CHECKING:
    import httpx

    from cmclient import models
    from cmclient._async.s3 import AsyncS3
    from cmclient._http.tls import Verify
    from cmclient._protocol.batch import (
        AsyncJobOutput,
        BatchKind,
        DocumentResult,
        JobLocation,
        SplitDocument,
    )
    from cmclient._protocol.call import ClientCore
    from cmclient._protocol.operation import Operation, OutputT
    from cmclient._protocol.retry import RetryPolicy

__all__ = ["DEFAULT_RESULTS_CONCURRENCY", "DEFAULT_UPLOAD_CONCURRENCY", "AsyncBatch"]

#: Objects uploaded at once by ``upload_documents``.
DEFAULT_UPLOAD_CONCURRENCY = 16
#: Result objects fetched at once by ``iter_results``.
DEFAULT_RESULTS_CONCURRENCY = 16
#: ``run_batch``'s wait for the job, as the ``wait_for_*`` methods wait.
DEFAULT_WAIT_TIMEOUT = 3600.0
DEFAULT_POLL_INTERVAL = 5.0

#: What ``upload_documents`` takes: a mapping of name to text, or an iterable of
#: (name, text) pairs or of paths to files (each named after its file). A text is a
#: ``str`` or UTF-8 ``bytes``.
Documents = (Mapping[str, str | bytes]
             | Iterable[tuple[str, str | bytes] | str | os.PathLike[str]])

_SETUP = threading.Lock()


class AsyncBatch:
    """Batch jobs end to end: ``upload_documents``, ``job_results``, ``run_batch``."""

    _cm_s3: AsyncS3 | None
    _cm_s3_http: httpx.AsyncClient | None
    _cm_s3_options: tuple[str | None, Verify | None, int]

    if TYPE_CHECKING:
        # The client provides these.
        _core: ClientCore
        _http: httpx.AsyncClient
        _own_transport: httpx.AsyncBaseTransport | None
        _owns_http: bool
        _timeout: httpx.Timeout
        _retry: RetryPolicy

        async def _invoke(
            self, operation: Operation[Any, OutputT], params: dict[str, Any]
        ) -> OutputT: ...

    # --- S3, built on first use ---------------------------------------------------------

    def _init_batch(
        self,
        s3_endpoint_url: str | None = None,
        *,
        verify: Verify | None = None,
        max_connections: int = 100,
    ) -> None:
        """Keep the client's S3 settings; nothing is resolved or built until S3 is
        first needed."""
        self._cm_s3_options = (s3_endpoint_url, verify, max_connections)
        self._cm_s3 = None
        self._cm_s3_http = None

    def _s3(self) -> AsyncS3:
        """The S3 driver, built on first use: its endpoint is resolved as the SDKs
        resolve S3's (``s3_endpoint_url=``, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the
        profile's ``services`` section, else S3's regional endpoint), and it shares the
        client's credentials, timeout and connection pool; it has a retry policy of
        its own with the client's settings (its own retry quota, as boto3's S3 client
        has). When the client built its own pool and S3's scheme differs from the
        service endpoint's, S3 gets a pool of its own, set up for its scheme."""
        s3: AsyncS3 | None = getattr(self, "_cm_s3", None)
        if s3 is not None:
            return s3
        with _SETUP:
            s3 = getattr(self, "_cm_s3", None)
            if s3 is None:
                s3 = self._cm_s3 = self._build_s3()
            return s3

    def _build_s3(self) -> AsyncS3:
        from urllib.parse import urlsplit

        from cmclient._async.s3 import AsyncS3
        from cmclient._http.client import async_http_client
        from cmclient._http.tls import ca_bundle, tls_context
        from cmclient._protocol.retry import RetryPolicy
        from cmclient._protocol.s3_endpoint import resolve_s3_endpoint

        url, verify, max_connections = getattr(self, "_cm_s3_options", (None, None, 100))
        config = self._core.config
        endpoint = resolve_s3_endpoint(config, s3_endpoint_url=url)
        http, transport = self._http, self._own_transport
        if self._owns_http and urlsplit(endpoint.url).scheme != urlsplit(self._core.url).scheme:
            http, transport = async_http_client(self._timeout, max_connections, tls_context(
                endpoint.url, verify, ca_bundle(os.environ, config.settings)))
            self._cm_s3_http = http
        return AsyncS3(http, endpoint=endpoint, credentials=self._core.credentials,
                       retry=RetryPolicy(self._retry.config), timeout=self._timeout,
                       transport=transport)

    async def _close_batch(self) -> None:
        """Close S3's own HTTP client, if it has one (else the client's is S3's)."""
        http = getattr(self, "_cm_s3_http", None)
        if http is not None:
            self._cm_s3_http = None
            self._cm_s3 = None
            await http.aclose()

    # --- documents in -------------------------------------------------------------------

    async def upload_documents(
        self,
        documents: Documents,
        *,
        bucket: str,
        prefix: str,
        max_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY,
    ) -> models.InputDataConfig:
        """Upload notes as a batch job's input and return the ``InputDataConfig`` to
        start the job with (``S3Bucket`` = ``bucket``, ``S3Key`` = ``prefix`` as a
        folder, ``notes/`` for ``notes``).

        ``documents`` is a mapping of name to text, or an iterable of ``(name, text)``
        pairs or of paths to files (each named after its file, its bytes uploaded as
        they are). A text is a ``str`` or UTF-8 ``bytes``; each document goes to
        ``<prefix><name>``. Every document is checked against the service's input
        rules before anything is sent, and ``ParamValidationError`` lists every
        problem by name (never quoting the text): not UTF-8, empty, a bad or repeated
        name. A note over 40,000 bytes is not refused: it is cut at paragraph, then
        sentence, breaks (``cmclient.text.split_text``) into ``<name>.part-001``,
        ``<name>.part-002``, ..., and the record of its parts goes beside the input
        folder (``notes.cmclient-parts.json`` for ``notes/``), never under it, so that
        ``job_results`` gives the note's result joined back, offsets on the whole note.

        Objects are uploaded ``max_concurrency`` at a time; the first failure (after
        its retries) fails the call. All documents are held in memory until they are
        sent. A job reads every object under its prefix: give each batch a prefix of
        its own.
        """
        from cmclient._fanout import aimap
        from cmclient._protocol import batch as _batch

        _check_concurrency("upload_documents", max_concurrency)
        config = _input_config("upload_documents", bucket, prefix)
        plan = _batch.plan_upload(_document_items(documents, "upload_documents"),
                                  bucket=bucket, prefix=prefix)
        s3 = self._s3()
        put = partial(self._put_document, s3, bucket)
        async with aclosing(aimap(put, plan.objects, max_concurrency)) as sent:
            async for _ in sent:
                pass
        if plan.parts_key is not None and plan.parts_record is not None:
            await s3.put_object(bucket, plan.parts_key, plan.parts_record,
                                content_type="application/json")
        return config

    async def _put_document(self, s3: AsyncS3, bucket: str, item: tuple[str, bytes]) -> None:
        from cmclient._protocol.batch import DOCUMENT_CONTENT_TYPE

        key, data = item
        await s3.put_object(bucket, key, data, content_type=DOCUMENT_CONTENT_TYPE)

    # --- results out --------------------------------------------------------------------

    @overload
    async def job_results(
        self, job_id: str, *, kind: Literal["entities-v2"], max_concurrency: int = ...
    ) -> AsyncJobOutput[models.DetectEntitiesV2Response]: ...

    @overload
    async def job_results(
        self, job_id: str, *, kind: Literal["phi"], max_concurrency: int = ...
    ) -> AsyncJobOutput[models.DetectPHIResponse]: ...

    @overload
    async def job_results(
        self, job_id: str, *, kind: Literal["icd10-cm"], max_concurrency: int = ...
    ) -> AsyncJobOutput[models.InferICD10CMResponse]: ...

    @overload
    async def job_results(
        self, job_id: str, *, kind: Literal["rx-norm"], max_concurrency: int = ...
    ) -> AsyncJobOutput[models.InferRxNormResponse]: ...

    @overload
    async def job_results(
        self, job_id: str, *, kind: Literal["snomedct"], max_concurrency: int = ...
    ) -> AsyncJobOutput[models.InferSNOMEDCTResponse]: ...

    @overload
    async def job_results(
        self, job_id: str, *, kind: str, max_concurrency: int = ...
    ) -> AsyncJobOutput[Any]: ...

    async def job_results(
        self, job_id: str, *, kind: str, max_concurrency: int = DEFAULT_RESULTS_CONCURRENCY
    ) -> AsyncJobOutput[Any]:
        """The output of a finished batch job of ``kind`` (``entities-v2``, ``phi``,
        ``icd10-cm``, ``rx-norm`` or ``snomedct``).

        The job is described, and must have ended COMPLETED or PARTIAL_SUCCESS
        (``JobNotFinishedError`` while it runs, ``JobFailedError`` or
        ``JobStoppedError`` when it ended without results). Its output folder is found
        by its id, from the description (or a listing of the output prefix), never by
        a word in the folder's name; its Manifest and list of unprocessed files are
        read (``JobOutputNotFoundError`` when the Manifest is not where the job says).

        The ``JobOutput`` has ``status``, ``manifest`` (typed), ``unprocessed`` (the
        files the service did not process, with its reasons) and ``iter_results()``,
        which streams a ``DocumentResult(input_name, result)`` per processed document:
        ``input_name`` relative to the job's input prefix, ``result`` the real-time
        operation's typed response (``DetectEntitiesV2Response`` for entities-v2,
        ...). Results are fetched ``max_concurrency`` at a time, page after page of
        the listing, so a job of any size streams in bounded memory. The parts of a
        note ``upload_documents`` split come back as one result, offsets re-based on
        the whole note; a note with a part unprocessed is listed in ``unprocessed``.
        """
        from cmclient._generated.operations import OPERATIONS
        from cmclient._protocol import batch as _batch

        found = _batch.batch_kind(kind)
        _check_concurrency("job_results", max_concurrency)
        if not isinstance(job_id, str) or not job_id:
            raise ParamValidationError("job_results", [("job_id", "must be a non-empty str")])
        described = await self._invoke(OPERATIONS[found.describe_operation], {"job_id": job_id})
        return await self._job_output(
            found, job_id, described.comprehend_medical_async_job_properties, max_concurrency)

    async def _job_output(
        self,
        found: BatchKind,
        job_id: str,
        props: models.ComprehendMedicalAsyncJobProperties | None,
        limit: int,
    ) -> AsyncJobOutput[Any]:
        from cmclient._protocol import batch as _batch
        from cmclient.errors import AccessDenied, JobOutputNotFoundError, NoSuchBucket, NoSuchKey

        if props is None:
            raise JobOutputNotFoundError(job_id, "its description (no job properties)")
        status = _batch.check_results_ready(job_id, props.job_status, props.message)
        output, source = props.output_data_config, props.input_data_config
        if output is None or source is None:
            raise JobOutputNotFoundError(job_id, "its description (no S3 locations)")
        s3 = self._s3()
        where = _batch.locate_job_output(job_id, output.s3_bucket, output.s3_key,
                                         props.manifest_file_path)
        if isinstance(where, _batch.Lookup):
            folders: list[str] = []
            async for page in s3.list_pages(where.bucket, prefix=where.prefix or None,
                                            delimiter=where.delimiter):
                folders.extend(page.common_prefixes)
            where = _batch.pick_job_folder(job_id, where, folders)
        try:
            data = (await s3.get_object(where.bucket, where.manifest_key)).body
        except (NoSuchKey, NoSuchBucket):
            raise JobOutputNotFoundError(
                job_id, _batch.s3_uri(where.bucket, where.manifest_key)) from None
        manifest = _batch.parse_manifest(data, key=where.manifest_key)
        summary = manifest.summary
        lists = [_batch.parse_s3_location(location, default_bucket=where.bucket)
                 for location in (summary.successful_files_list_location,
                                  summary.unprocessed_files_list_location) if location]
        input_prefix = source.s3_key
        unprocessed: list[_batch.UnprocessedDocument] = []
        if summary.unprocessed_files_list_location:
            bucket, key = _batch.parse_s3_location(summary.unprocessed_files_list_location,
                                                   default_bucket=where.bucket)
            try:
                listed = (await s3.get_object(bucket, key)).body
            except NoSuchKey:
                if summary.unprocessed_files_count:
                    raise JobOutputNotFoundError(job_id, _batch.s3_uri(bucket, key)) from None
            else:
                unprocessed = _batch.unprocessed_documents(
                    _batch.parse_file_list(listed, key=key), source.s3_bucket, input_prefix)
        # The record of split documents' parts, if upload_documents wrote one.
        split: dict[str, SplitDocument] = {}
        skip: frozenset[str] = frozenset()
        if _batch.as_folder(input_prefix) not in ("", "/"):
            record_key = _batch.parts_index_key(input_prefix or "")
            try:
                record = (await s3.get_object(source.s3_bucket, record_key)).body
            except (NoSuchKey, NoSuchBucket, AccessDenied):
                pass
            else:
                split = _batch.read_parts_record(record, key=record_key)
            # A job given "in" rather than "in/" reads the record too: not a document.
            if input_prefix and record_key.startswith(input_prefix):
                skip = frozenset({record_key[len(_batch.input_folder(input_prefix)):]})
                unprocessed = [u for u in unprocessed if u.input_name not in skip]
        unprocessed, failed = _batch.fold_unprocessed(unprocessed, split)
        list_keys = frozenset(key for bucket, key in lists if bucket == where.bucket)
        results = partial(self._iter_results, s3, found, where, input_prefix, list_keys,
                          split, failed, skip, limit)
        manifest_status = summary.status
        return _batch.AsyncJobOutput(
            job_id=job_id, kind=found,
            status=str(getattr(manifest_status, "value", manifest_status) or status),
            manifest=manifest, location=where, unprocessed=unprocessed, results=results)

    async def _iter_results(
        self,
        s3: AsyncS3,
        found: BatchKind,
        where: JobLocation,
        input_prefix: str | None,
        list_keys: frozenset[str],
        split: dict[str, SplitDocument],
        failed: frozenset[str],
        skip: frozenset[str],
        limit: int,
    ) -> AsyncIterator[DocumentResult[Any]]:
        from cmclient._fanout import aimap
        from cmclient._protocol import batch as _batch

        joiner = _batch.PartJoiner(found, split, failed)
        fetch = partial(self._fetch_result, s3, found, where.bucket)
        async for page in s3.list_pages(where.bucket, prefix=where.folder):
            keys = [(key, name) for key, name in _batch.output_keys(
                        (entry.key for entry in page.objects), where, input_prefix,
                        file_lists=list_keys)
                    if name not in skip]
            async with aclosing(aimap(fetch, keys, limit)) as fetched:
                async for result in fetched:
                    joined = joiner.feed(result)
                    if joined is not None:
                        yield joined
        for result in joiner.leftovers():
            yield result

    async def _fetch_result(
        self, s3: AsyncS3, found: BatchKind, bucket: str, item: tuple[str, str]
    ) -> DocumentResult[Any]:
        from cmclient._protocol.batch import DocumentResult, parse_output

        key, name = item
        body = (await s3.get_object(bucket, key)).body
        return DocumentResult(name, parse_output(found, body, key=key), key)

    # --- the whole path -----------------------------------------------------------------

    @overload
    async def run_batch(
        self, documents: Documents, *, kind: Literal["entities-v2"], bucket: str,
        input_prefix: str, output_prefix: str, data_access_role_arn: str,
        language_code: str = ..., kms_key: str | None = ..., job_name: str | None = ...,
        output_bucket: str | None = ..., client_request_token: str | None = ...,
        on_progress: Callable[[models.ComprehendMedicalAsyncJobProperties], Any] | None = ...,
        timeout: float = ..., poll_interval: float = ..., max_concurrency: int = ...,
    ) -> AsyncJobOutput[models.DetectEntitiesV2Response]: ...

    @overload
    async def run_batch(
        self, documents: Documents, *, kind: Literal["phi"], bucket: str,
        input_prefix: str, output_prefix: str, data_access_role_arn: str,
        language_code: str = ..., kms_key: str | None = ..., job_name: str | None = ...,
        output_bucket: str | None = ..., client_request_token: str | None = ...,
        on_progress: Callable[[models.ComprehendMedicalAsyncJobProperties], Any] | None = ...,
        timeout: float = ..., poll_interval: float = ..., max_concurrency: int = ...,
    ) -> AsyncJobOutput[models.DetectPHIResponse]: ...

    @overload
    async def run_batch(
        self, documents: Documents, *, kind: Literal["icd10-cm"], bucket: str,
        input_prefix: str, output_prefix: str, data_access_role_arn: str,
        language_code: str = ..., kms_key: str | None = ..., job_name: str | None = ...,
        output_bucket: str | None = ..., client_request_token: str | None = ...,
        on_progress: Callable[[models.ComprehendMedicalAsyncJobProperties], Any] | None = ...,
        timeout: float = ..., poll_interval: float = ..., max_concurrency: int = ...,
    ) -> AsyncJobOutput[models.InferICD10CMResponse]: ...

    @overload
    async def run_batch(
        self, documents: Documents, *, kind: Literal["rx-norm"], bucket: str,
        input_prefix: str, output_prefix: str, data_access_role_arn: str,
        language_code: str = ..., kms_key: str | None = ..., job_name: str | None = ...,
        output_bucket: str | None = ..., client_request_token: str | None = ...,
        on_progress: Callable[[models.ComprehendMedicalAsyncJobProperties], Any] | None = ...,
        timeout: float = ..., poll_interval: float = ..., max_concurrency: int = ...,
    ) -> AsyncJobOutput[models.InferRxNormResponse]: ...

    @overload
    async def run_batch(
        self, documents: Documents, *, kind: Literal["snomedct"], bucket: str,
        input_prefix: str, output_prefix: str, data_access_role_arn: str,
        language_code: str = ..., kms_key: str | None = ..., job_name: str | None = ...,
        output_bucket: str | None = ..., client_request_token: str | None = ...,
        on_progress: Callable[[models.ComprehendMedicalAsyncJobProperties], Any] | None = ...,
        timeout: float = ..., poll_interval: float = ..., max_concurrency: int = ...,
    ) -> AsyncJobOutput[models.InferSNOMEDCTResponse]: ...

    @overload
    async def run_batch(
        self, documents: Documents, *, kind: str, bucket: str,
        input_prefix: str, output_prefix: str, data_access_role_arn: str,
        language_code: str = ..., kms_key: str | None = ..., job_name: str | None = ...,
        output_bucket: str | None = ..., client_request_token: str | None = ...,
        on_progress: Callable[[models.ComprehendMedicalAsyncJobProperties], Any] | None = ...,
        timeout: float = ..., poll_interval: float = ..., max_concurrency: int = ...,
    ) -> AsyncJobOutput[Any]: ...

    async def run_batch(
        self,
        documents: Documents,
        *,
        kind: str,
        bucket: str,
        input_prefix: str,
        output_prefix: str,
        data_access_role_arn: str,
        language_code: str = "en",
        kms_key: str | None = None,
        job_name: str | None = None,
        output_bucket: str | None = None,
        client_request_token: str | None = None,
        on_progress: Callable[[models.ComprehendMedicalAsyncJobProperties], Any] | None = None,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_concurrency: int = DEFAULT_RESULTS_CONCURRENCY,
    ) -> AsyncJobOutput[Any]:
        """The whole batch path in one call: ``upload_documents(documents,
        bucket=bucket, prefix=input_prefix)``, start a job of ``kind`` reading them and
        writing under ``output_prefix`` (in ``output_bucket``, else ``bucket``), wait
        for it as ``wait_for_*`` waits (``timeout``, ``poll_interval``,
        ``on_progress(props)`` after the first poll and on each change of status;
        PARTIAL_SUCCESS is a result, FAILED raises ``JobFailedError``), and return its
        ``JobOutput`` (see ``job_results``).

        The start call carries one ClientRequestToken (``client_request_token``, else
        one made for the call) through its retries, so a retried start never starts a
        second job. Every parameter, the start call's included, is checked before the
        first upload; the output prefix may not be inside the input prefix (the job
        reads everything under that).
        """
        from cmclient._async.waiters import wait_for_job
        from cmclient._generated.operations import OPERATIONS
        from cmclient._protocol import batch as _batch

        found = _batch.batch_kind(kind, operation_name="run_batch")
        target = output_bucket if output_bucket is not None else bucket
        problems = []
        if not isinstance(output_prefix, str):
            problems.append(("output_prefix", "must be a str (a key prefix such as 'out/')"))
        elif (isinstance(input_prefix, str) and target == bucket
              and _batch.as_folder(output_prefix).startswith(_batch.as_folder(input_prefix))):
            problems.append(("output_prefix", "must not be inside input_prefix: the job "
                                              "reads every object under input_prefix"))
        if problems:
            raise ParamValidationError("run_batch", problems)
        config = _input_config("run_batch", bucket, input_prefix)
        output: dict[str, Any] = {"S3Bucket": target}
        if output_prefix:
            output["S3Key"] = output_prefix
        params = {
            "input_data_config": config, "output_data_config": output,
            "data_access_role_arn": data_access_role_arn, "language_code": language_code,
            "kms_key": kms_key, "job_name": job_name,
            "client_request_token": client_request_token,
        }
        params = {name: value for name, value in params.items() if value is not None}
        start = OPERATIONS[found.start_operation]
        self._core.prepare(start, params)  # checks the start call now: nothing is sent
        await self.upload_documents(documents, bucket=bucket, prefix=input_prefix,
                                    max_concurrency=max_concurrency)
        job_id = (await self._invoke(start, params)).job_id
        props = await wait_for_job(
            self, OPERATIONS[found.describe_operation], job_id, timeout=timeout,
            poll_interval=poll_interval, on_progress=on_progress, allow_partial=True)
        return await self._job_output(found, job_id, props, max_concurrency)


# --- pure helpers --------------------------------------------------------------------------

def _check_concurrency(caller: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ParamValidationError(caller, [("max_concurrency", "must be an int of at least 1")])


def _input_config(caller: str, bucket: Any, prefix: Any) -> models.InputDataConfig:
    """The InputDataConfig a job reading ``prefix`` (as a folder) in ``bucket`` is given."""
    from pydantic import ValidationError

    from cmclient._protocol.batch import as_folder
    from cmclient.models import InputDataConfig

    if not isinstance(prefix, str):
        raise ParamValidationError(caller, [(
            "prefix", "must be a str (a key prefix such as 'notes/', or '')")])
    try:
        return InputDataConfig.model_validate(
            {"S3Bucket": bucket, "S3Key": as_folder(prefix) or None})
    except ValidationError:
        raise ParamValidationError(caller, [(
            "bucket", "must be a bucket name a job can read: 3 to 63 characters, lower-case "
                      "letters, digits, '.', '-' and '_'")]) from None


def _document_items(documents: Any, caller: str) -> list[tuple[Any, Any]]:
    """``documents`` as (name, content) pairs; the files named by paths are read here."""
    if isinstance(documents, Mapping):
        return list(documents.items())
    if isinstance(documents, (str, bytes)) or not isinstance(documents, Iterable):
        raise ParamValidationError(caller, [(
            "documents", "must be a mapping of name to text, or an iterable of (name, text) "
                         "pairs or of file paths")])
    from pathlib import Path

    items: list[tuple[Any, Any]] = []
    problems: list[tuple[str, str]] = []
    for item in documents:
        if isinstance(item, (str, os.PathLike)):
            path = Path(item)
            try:
                items.append((path.name, path.read_bytes()))
            except OSError as exc:
                problems.append((f"documents[{str(item)!r}]",
                                 f"the file cannot be read ({exc.strerror or type(exc).__name__})"))
        elif isinstance(item, tuple) and len(item) == 2:
            items.append(item)
        else:
            problems.append(("documents", f"an item is a {type(item).__name__}: each must be "
                                          "a (name, text) pair or a file path"))
    if problems:
        raise ParamValidationError(caller, problems)
    return items
