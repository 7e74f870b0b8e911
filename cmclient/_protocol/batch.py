"""The batch job's S3 layout, sans I/O: what goes in, where results come out, what each
object is, and how to read it into typed values.

A Comprehend Medical batch job reads every object under its ``InputDataConfig``
(bucket and key prefix): UTF-8 text, at most 40,000 bytes a file. It writes under its
``OutputDataConfig`` a folder ``<AwsAccountId>-<JobType>-<JobId>/`` holding one
``<input name>.out`` per processed file (the JSON the matching real-time operation
returns), a ``Manifest`` (JSON, ``{"Summary": {...}}``) and, in a ``Manifest_...``
folder, lists of the successful and the unprocessed files; it may also leave a
``ComprehendMedicalS3WriteTestFile`` behind. Nothing here depends on the ``JobType``
word, which AWS does not document for every job kind: the folder is found by the job
id, from what Describe*Job returns (``OutputDataConfig.S3Key`` is the bare output
prefix that was sent, or, as in AWS's own examples, the job folder itself;
``ManifestFilePath`` names the Manifest) or, failing both, among the folders a
delimited listing of the output prefix shows.

The drivers list and fetch; everything they decide comes from here: ``batch_kind``
(the five kinds and their response models), ``document_problem`` and
``encode_document`` (the input rules), ``locate_job_output`` and ``pick_job_folder``
(the folder), ``classify_key`` (an ``.out`` vs the Manifest vs a file list vs the
write test), ``input_name_for_output`` / ``input_name_for_location`` (the name of the
input a result belongs to, relative to the job's input prefix), ``parse_output``,
``parse_manifest`` and ``parse_file_list`` (typed values), and ``check_results_ready``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import AsyncIterator, Callable, Container, Iterable, Iterator
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, Field, ValidationError

from cmclient.errors import (
    BatchResultsError,
    JobFailedError,
    JobNotFinishedError,
    JobOutputNotFoundError,
    JobStoppedError,
    ParamValidationError,
    ResponseParseError,
)
from cmclient.models._base import RESPONSE_CONTEXT, Shape
from cmclient.models._job_properties import JobStatus

__all__ = [
    "DOCUMENT_CONTENT_TYPE",
    "KINDS",
    "MANIFEST_NAME",
    "MAX_DOCUMENT_BYTES",
    "WRITE_TEST_FILE",
    "AsyncJobOutput",
    "BatchKind",
    "BatchResultsError",
    "DataLocation",
    "DocumentResult",
    "FileList",
    "JobLocation",
    "JobNotFinishedError",
    "JobOutput",
    "JobOutputNotFoundError",
    "KeyKind",
    "Kind",
    "ListedFile",
    "Lookup",
    "Manifest",
    "ManifestSummary",
    "PartJoiner",
    "PartSpan",
    "SplitDocument",
    "UnprocessedDocument",
    "UploadPlan",
    "as_folder",
    "batch_kind",
    "check_results_ready",
    "classify_key",
    "document_problem",
    "encode_document",
    "fold_unprocessed",
    "input_folder",
    "input_name_for_location",
    "input_name_for_output",
    "join_parts",
    "locate_job_output",
    "names_job",
    "output_keys",
    "parse_file_list",
    "parse_manifest",
    "parse_output",
    "parse_s3_location",
    "part_name",
    "parts_index_key",
    "parts_record",
    "pick_job_folder",
    "plan_upload",
    "read_parts_record",
    "s3_uri",
    "split_part_name",
    "unprocessed_documents",
]

Kind = Literal["entities-v2", "phi", "icd10-cm", "rx-norm", "snomedct"]

#: The most a batch job reads of one input file; a longer file is not processed.
MAX_DOCUMENT_BYTES = 40_000
#: The most files one job reads, and the most bytes in all (text analysis / ontology).
MAX_INPUT_FILES = 5_000_000
MAX_TEXT_JOB_BYTES = 10 * 1024**3
MAX_ONTOLOGY_JOB_BYTES = 5 * 1024**3
MANIFEST_NAME = "Manifest"
MANIFEST_FOLDER_PREFIX = "Manifest_"
WRITE_TEST_FILE = "ComprehendMedicalS3WriteTestFile"
OUTPUT_SUFFIX = ".out"


# --- the five kinds ------------------------------------------------------------------

class BatchKind(NamedTuple):
    """One kind of batch job: its name, its job operations' stem, the real-time
    operation its ``.out`` files answer as, and that operation's response model."""

    kind: str
    #: The job operations' stem: Start{job}, Describe{job}, Stop{job}, List{job}s.
    job: str
    #: The real-time operation whose response each ``.out`` file holds.
    operation: str
    #: A JobType word for writing a layout (the mock); never used to find one.
    job_type: str
    #: The ceiling on a job's total input, in bytes.
    max_job_bytes: int
    model_module: str
    model_name: str

    @property
    def start_operation(self) -> str:
        return f"Start{self.job}"

    @property
    def describe_operation(self) -> str:
        return f"Describe{self.job}"

    def response_model(self) -> type[Shape]:
        """The typed response model of ``operation``, imported on first use."""
        model: type[Shape] = getattr(import_module(self.model_module), self.model_name)
        return model


KINDS: dict[str, BatchKind] = {
    k.kind: k for k in (
        BatchKind("entities-v2", "EntitiesDetectionV2Job", "DetectEntitiesV2",
                  "EntitiesDetection", MAX_TEXT_JOB_BYTES,
                  "cmclient.models._detect_entities_v2", "DetectEntitiesV2Response"),
        BatchKind("phi", "PHIDetectionJob", "DetectPHI", "PHIDetection", MAX_TEXT_JOB_BYTES,
                  "cmclient.models._detect_phi", "DetectPHIResponse"),
        BatchKind("icd10-cm", "ICD10CMInferenceJob", "InferICD10CM", "ICD10CMInference",
                  MAX_ONTOLOGY_JOB_BYTES,
                  "cmclient.models._infer_icd10_cm", "InferICD10CMResponse"),
        BatchKind("rx-norm", "RxNormInferenceJob", "InferRxNorm", "RxNormInference",
                  MAX_ONTOLOGY_JOB_BYTES,
                  "cmclient.models._infer_rx_norm", "InferRxNormResponse"),
        BatchKind("snomedct", "SNOMEDCTInferenceJob", "InferSNOMEDCT", "SNOMEDCTInference",
                  MAX_ONTOLOGY_JOB_BYTES,
                  "cmclient.models._infer_snomedct", "InferSNOMEDCTResponse"),
    )
}
# The spellings the mock's job store and the AWS CLI's command names use.
_ALIASES = {"icd10cm": "icd10-cm", "rxnorm": "rx-norm", "entities": "entities-v2",
            "entities-detection-v2": "entities-v2", "icd10-cm-inference": "icd10-cm",
            "rx-norm-inference": "rx-norm", "snomedct-inference": "snomedct",
            "phi-detection": "phi"}


def batch_kind(kind: str, *, operation_name: str = "job_results") -> BatchKind:
    """The kind named ``kind`` (``entities-v2``, ``phi``, ``icd10-cm``, ``rx-norm``,
    ``snomedct``; underscores and a few other spellings accepted), else
    ``ParamValidationError``."""
    name = str(kind).strip().lower().replace("_", "-")
    found = KINDS.get(_ALIASES.get(name, name))
    if found is None:
        raise ParamValidationError(
            operation_name, [("kind", f"must be one of {', '.join(KINDS)}")])
    return found


# --- errors -------------------------------------------------------------------------
# BatchResultsError, JobNotFinishedError and JobOutputNotFoundError live in
# cmclient.errors, in its tree; they are re-exported here.

_FINAL_OK = frozenset({JobStatus.COMPLETED.value, JobStatus.PARTIAL_SUCCESS.value})


def check_results_ready(
    job_id: str, status: JobStatus | str | None, message: str | None = None
) -> str:
    """The job's status as a string when it has results to read (COMPLETED or
    PARTIAL_SUCCESS); raises ``JobFailedError``, ``JobStoppedError`` or
    ``JobNotFinishedError`` otherwise."""
    value = None if status is None else str(getattr(status, "value", status))
    if value in _FINAL_OK:
        return value
    if value == JobStatus.FAILED.value:
        raise JobFailedError(job_id, value, message)
    if value == JobStatus.STOPPED.value:
        raise JobStoppedError(job_id, value, message)
    raise JobNotFinishedError(job_id, value)


# --- the input rules -------------------------------------------------------------------

class InputProblem(NamedTuple):
    """Why the service would not process a file: an error code and a message that
    says nothing of the text."""

    code: str
    message: str


def document_problem(data: bytes) -> InputProblem | None:
    """Why a batch job would leave ``data`` unprocessed (longer than 40,000 bytes, or
    not UTF-8), or None."""
    if len(data) > MAX_DOCUMENT_BYTES:
        return InputProblem(
            "TextSizeLimitExceededException",
            f"The file is {len(data)} bytes; a batch job reads files of at most "
            f"{MAX_DOCUMENT_BYTES} bytes.")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return InputProblem("InvalidEncodingException",
                            f"The file is not valid UTF-8 (byte {exc.start}).")
    return None


def encode_document(
    name: str, document: str | bytes, *, operation_name: str = "upload_documents"
) -> bytes:
    """The bytes to upload for one document, checked against the input rules and the
    name rules before anything is sent. ``ParamValidationError`` names the document
    and the broken rule, never its text. (A note longer than 40,000 bytes is split by
    the caller first, into ``part_name`` parts.)"""
    problems = [(f"documents[{name!r}]", rule) for rule in name_problems(name)]
    try:
        data = document.encode("utf-8") if isinstance(document, str) else bytes(document)
    except UnicodeEncodeError:
        problems.append((f"documents[{name!r}]", "the text is not valid Unicode (a lone "
                                                 "surrogate): it cannot be UTF-8"))
        data = b""
    problem = document_problem(data)
    if problem is not None:
        problems.append((f"documents[{name!r}]", problem.message))
    if problems:
        raise ParamValidationError(operation_name, problems)
    return data


def name_problems(name: str) -> list[str]:
    """The rules a document name breaks as part of an S3 key under the input prefix:
    not empty, no leading '/', no '//' (the service refuses such paths), no '.' or
    '..' segment, at most 1,024 bytes."""
    if not isinstance(name, str) or not name:
        return ["the name must be a non-empty string"]
    problems = []
    if name.startswith("/") or "//" in name:
        problems.append("the name must not start with '/' or contain '//'")
    if any(segment in (".", "..") for segment in name.split("/")):
        problems.append("the name must not have '.' or '..' path segments")
    if len(name.encode("utf-8", "surrogatepass")) > 1024:
        problems.append("the name must be at most 1,024 bytes in UTF-8")
    return problems


_PART = re.compile(r"^(?P<name>.+)\.part-(?P<index>\d{3,})$", re.DOTALL)


def part_name(name: str, index: int) -> str:
    """The name of part ``index`` (from 1) of a document split to fit the input rules:
    ``name.part-001``."""
    if index < 1:
        raise ValueError("parts are numbered from 1")
    return f"{name}.part-{index:03d}"


def split_part_name(name: str) -> tuple[str, int] | None:
    """``("note.txt", 2)`` for ``note.txt.part-002``; None for a name that is not a part."""
    match = _PART.match(name)
    return None if match is None else (match["name"], int(match["index"]))


PARTS_INDEX_SUFFIX = ".cmclient-parts.json"


def parts_index_key(input_prefix: str, *, operation_name: str = "upload_documents") -> str:
    """Where ``upload_documents`` records how split documents map to their parts: a key
    beside the input folder, never under it (a job reads every key that starts with its
    S3Key): ``in/`` -> ``in.cmclient-parts.json``. This holds when the job is given the
    folder form of the prefix (``as_folder``, ``in/`` for ``in``) as its S3Key, as
    ``upload_documents`` returns it. The bucket's root has no beside, so an empty prefix
    is ``ParamValidationError``."""
    folder = as_folder(input_prefix)
    if not folder or folder == "/":
        raise ParamValidationError(operation_name, [(
            "prefix", "must name a folder (such as 'notes/') when documents are split: the "
                      "record of their parts must be kept outside what the job reads")])
    return f"{folder[:-1]}{PARTS_INDEX_SUFFIX}"


# --- S3 locations -------------------------------------------------------------------------

def as_folder(prefix: str | None) -> str:
    """A key prefix as a folder: '' for none, else ending with one '/'."""
    if not prefix:
        return ""
    return prefix if prefix.endswith("/") else f"{prefix}/"


def input_folder(prefix: str | None) -> str:
    """The folder input names are relative to: the prefix up to its last '/' (a job
    reads every key that starts with its S3Key, which need not end with '/')."""
    if not prefix:
        return ""
    cut = prefix.rfind("/")
    return prefix[: cut + 1] if cut >= 0 else ""


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def parse_s3_location(text: str, *, default_bucket: str | None = None) -> tuple[str, str]:
    """(bucket, key) from the forms the service writes locations in: ``s3://b/k``,
    ``b/k`` (ManifestFilePath), or a bare key (then ``default_bucket``)."""
    value = text.strip()
    if value.lower().startswith("s3://"):
        bucket, _, key = value[5:].partition("/")
        return bucket, key
    if default_bucket is not None and value.startswith(f"{default_bucket}/"):
        return default_bucket, value[len(default_bucket) + 1:]
    if default_bucket is not None:
        return default_bucket, value
    bucket, _, key = value.partition("/")
    return bucket, key


# --- finding the job's folder ---------------------------------------------------------------

def names_job(segment: str, job_id: str) -> bool:
    """Whether a folder name is this job's output folder: ``<account>-<JobType>-<id>``
    (whatever the JobType word) or the bare id; never the ``Manifest_...`` folder."""
    segment = segment.rstrip("/")
    if not job_id or segment.startswith(MANIFEST_FOLDER_PREFIX):
        return False
    return segment == job_id or segment.endswith(f"-{job_id}")


class JobLocation(NamedTuple):
    """Where a job's outputs are: the bucket, the job folder (a key prefix ending with
    '/'), and the Manifest's key."""

    bucket: str
    folder: str
    manifest_key: str


class Lookup(NamedTuple):
    """The folder is not known from the description: list ``prefix`` in ``bucket``
    with ``delimiter`` and give the common prefixes to ``pick_job_folder``."""

    bucket: str
    prefix: str
    delimiter: str = "/"
    manifest: tuple[str, str] | None = None


def _last_segment(folder: str) -> str:
    return folder.rstrip("/").rsplit("/", 1)[-1]


def locate_job_output(
    job_id: str,
    output_bucket: str,
    output_key: str | None,
    manifest_file_path: str | None = None,
) -> JobLocation | Lookup:
    """The job's output folder from its description (``OutputDataConfig`` and
    ``ManifestFilePath``), or the listing that will find it."""
    manifest = (parse_s3_location(manifest_file_path) if manifest_file_path else None)
    folder = as_folder(output_key)
    if folder and names_job(_last_segment(folder), job_id):
        manifest_key = (manifest[1] if manifest is not None and manifest[0] == output_bucket
                        else f"{folder}{MANIFEST_NAME}")
        return JobLocation(output_bucket, folder, manifest_key)
    if manifest is not None:
        bucket, key = manifest
        parent = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        if parent and names_job(_last_segment(parent), job_id):
            return JobLocation(bucket, parent, key)
    return Lookup(output_bucket, folder, manifest=manifest)


def pick_job_folder(job_id: str, lookup: Lookup, common_prefixes: Iterable[str]) -> JobLocation:
    """The job's folder among the common prefixes a delimited listing of
    ``lookup.prefix`` returned; ``JobOutputNotFoundError`` when none names the job."""
    found = sorted(p for p in common_prefixes
                   if p.startswith(lookup.prefix) and names_job(p[len(lookup.prefix):], job_id))
    if not found:
        raise JobOutputNotFoundError(job_id, s3_uri(lookup.bucket, lookup.prefix))
    folder = as_folder(found[0])
    manifest = lookup.manifest
    if manifest is not None and manifest[0] == lookup.bucket:
        return JobLocation(lookup.bucket, folder, manifest[1])
    return JobLocation(lookup.bucket, folder, f"{folder}{MANIFEST_NAME}")


# --- what each object is ---------------------------------------------------------------------

class KeyKind(enum.Enum):
    OUTPUT = "output"          # <input name>.out
    MANIFEST = "manifest"      # the job's summary
    FILE_LIST = "file_list"    # successful or unprocessed files
    WRITE_TEST = "write_test"  # ComprehendMedicalS3WriteTestFile
    OTHER = "other"


def classify_key(
    key: str, folder: str, *, file_lists: Container[str] = (), manifest_key: str | None = None
) -> KeyKind:
    """What the object at ``key`` (listed under the job folder) is. ``file_lists`` are
    the list locations the Manifest names (keys), so a list is never read as a result
    whatever it is called."""
    if not key.startswith(folder):
        return KeyKind.OTHER
    if key in file_lists:
        return KeyKind.FILE_LIST
    relative = key[len(folder):]
    if relative == MANIFEST_NAME or key == manifest_key:
        return KeyKind.MANIFEST
    if relative.rsplit("/", 1)[-1] == WRITE_TEST_FILE:
        return KeyKind.WRITE_TEST
    if relative.endswith(OUTPUT_SUFFIX) and len(relative) > len(OUTPUT_SUFFIX):
        return KeyKind.OUTPUT
    if relative.startswith(MANIFEST_FOLDER_PREFIX) and "/" in relative:
        return KeyKind.FILE_LIST
    return KeyKind.OTHER


def input_name_for_output(out_key: str, folder: str, input_prefix: str | None) -> str:
    """The input name (relative to the job's input prefix) an ``.out`` key answers for.
    The output is named after the input relative to the input folder; should it carry
    the input's whole key instead, the input folder is cut off too."""
    relative = out_key[len(folder):] if out_key.startswith(folder) else out_key
    relative = relative.removesuffix(OUTPUT_SUFFIX)
    base = input_folder(input_prefix)
    return relative[len(base):] if base and relative.startswith(base) else relative


def input_name_for_location(
    location: str, input_bucket: str | None, input_prefix: str | None
) -> str:
    """The input name (relative to the input prefix) of a file list's ``Input``."""
    _bucket, key = parse_s3_location(location, default_bucket=input_bucket)
    base = input_folder(input_prefix)
    return key[len(base):] if base and key.startswith(base) else key


def output_keys(
    keys: Iterable[str],
    location: JobLocation,
    input_prefix: str | None,
    *,
    file_lists: Iterable[str] = (),
) -> Iterator[tuple[str, str]]:
    """(key, input name) for each result among listed keys, lazily (keys may come from
    a listing of millions, page by page)."""
    lists = frozenset(file_lists)
    for key in keys:
        kind = classify_key(key, location.folder, file_lists=lists,
                            manifest_key=location.manifest_key)
        if kind is KeyKind.OUTPUT:
            yield key, input_name_for_output(key, location.folder, input_prefix)


# --- the documents ------------------------------------------------------------------------------

class DataLocation(Shape):
    """A Manifest's input or output location."""

    bucket: str | None = Field(default=None, alias="Bucket")
    path: str | None = Field(default=None, alias="Path")


class ManifestSummary(Shape):
    """The Manifest's ``Summary``. Every member is optional and unknown ones are
    ignored: a Manifest that gains a field never breaks a reader."""

    status: JobStatus | str | None = Field(default=None, alias="Status",
                                           union_mode="left_to_right")
    job_type: str | None = Field(default=None, alias="JobType")
    input_data_configuration: DataLocation | None = Field(
        default=None, alias="InputDataConfiguration")
    output_data_configuration: DataLocation | None = Field(
        default=None, alias="OutputDataConfiguration")
    input_file_count: int | None = Field(default=None, alias="InputFileCount")
    total_metered_characters: int | None = Field(default=None, alias="TotalMeteredCharacters")
    success_files_count: int | None = Field(default=None, alias="SuccessFilesCount")
    unprocessed_files_count: int | None = Field(default=None, alias="UnprocessedFilesCount")
    total_duration_seconds: float | None = Field(default=None, alias="TotalDurationSeconds")
    successful_files_list_location: str | None = Field(
        default=None, alias="SuccessfulFilesListLocation")
    unprocessed_files_list_location: str | None = Field(
        default=None, alias="UnprocessedFilesListLocation")
    failed_job_error_message: str | None = Field(default=None, alias="FailedJobErrorMessage")


class Manifest(Shape):
    """A batch job's ``Manifest``."""

    summary: ManifestSummary = Field(alias="Summary")


class ListedFile(Shape):
    """One entry of a file list: ``Input``, and ``Output`` and ``InputSize`` for a
    processed file, ``ErrorCode`` and ``ErrorMessage`` for an unprocessed one."""

    input: str | None = Field(default=None, alias="Input")
    output: str | None = Field(default=None, alias="Output")
    input_size: int | None = Field(default=None, alias="InputSize")
    error_code: str | None = Field(default=None, alias="ErrorCode")
    error_message: str | None = Field(default=None, alias="ErrorMessage")


class FileList(Shape):
    """The successful or the unprocessed files list: ``{"Files": [...]}``."""

    files: list[ListedFile] = Field(default_factory=list, alias="Files")


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], data: bytes, what: str, key: str | None) -> M:
    try:
        return model.model_validate_json(data, context=RESPONSE_CONTEXT)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        named = f" at {key}" if key else ""
        raise ResponseParseError(
            f"the object{named} is not {what}: {exc.error_count()} problem(s), first at "
            f"{where}: {first['msg']}",
            operation_name="GetObject", status_code=200, request_id=None,
        ) from None


def parse_manifest(data: bytes, *, key: str | None = None) -> Manifest:
    return _parse(Manifest, data, "a batch Manifest", key)


def parse_file_list(data: bytes, *, key: str | None = None) -> FileList:
    return _parse(FileList, data, "a batch file list", key)


def parse_output(kind: BatchKind | str, data: bytes, *, key: str | None = None) -> Shape:
    """An ``.out`` file as the kind's response model (``DetectEntitiesV2Response`` for
    entities-v2, ``DetectPHIResponse`` for phi, ``InferICD10CMResponse``,
    ``InferRxNormResponse``, ``InferSNOMEDCTResponse``); ``ResponseParseError``, naming
    the key but quoting nothing of the content, when it is not one."""
    found = kind if isinstance(kind, BatchKind) else batch_kind(kind)
    return _parse(found.response_model(), data, f"a {found.operation} result", key)


# --- results ------------------------------------------------------------------------------------

R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class DocumentResult(Generic[R]):
    """One document's result: its name relative to the job's input prefix, and the
    real-time operation's typed response (``output_key`` is the ``.out`` it came from)."""

    input_name: str
    result: R
    output_key: str = ""


@dataclass(frozen=True)
class UnprocessedDocument:
    """A file the job did not process, with the service's reason where it gives one."""

    input_name: str
    error_code: str | None = None
    error_message: str | None = None
    input_location: str | None = None


def unprocessed_documents(
    files: FileList, input_bucket: str | None, input_prefix: str | None
) -> list[UnprocessedDocument]:
    return [
        UnprocessedDocument(
            input_name=input_name_for_location(entry.input, input_bucket, input_prefix),
            error_code=entry.error_code, error_message=entry.error_message,
            input_location=entry.input,
        )
        for entry in files.files if entry.input
    ]


class _JobOutputBase:
    def __init__(
        self,
        *,
        job_id: str,
        kind: BatchKind,
        status: str,
        manifest: Manifest,
        location: JobLocation,
        unprocessed: list[UnprocessedDocument],
    ) -> None:
        self.job_id = job_id
        self.kind = kind
        self.status = status
        self.manifest = manifest
        self.location = location
        self.unprocessed = unprocessed

    @property
    def partial(self) -> bool:
        return self.status == JobStatus.PARTIAL_SUCCESS.value

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(job_id={self.job_id!r}, kind={self.kind.kind!r}, "
                f"status={self.status!r}, unprocessed={len(self.unprocessed)})")


class JobOutput(_JobOutputBase, Generic[R]):
    """A finished job's output: ``status``, ``manifest`` (typed), ``unprocessed``
    (the files the service could not process, with its reasons) and
    ``iter_results()``, which streams ``DocumentResult``s as the driver fetches them."""

    def __init__(
        self, *, results: Callable[[], Iterator[DocumentResult[R]]], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._results = results

    def iter_results(self) -> Iterator[DocumentResult[R]]:
        return self._results()


class AsyncJobOutput(_JobOutputBase, Generic[R]):
    """``JobOutput`` for the async client: ``iter_results()`` is an async iterator."""

    def __init__(
        self, *, results: Callable[[], AsyncIterator[DocumentResult[R]]], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._results = results

    def iter_results(self) -> AsyncIterator[DocumentResult[R]]:
        return self._results()


# --- documents in: the upload plan -------------------------------------------------------

#: The longest S3 key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
#: The content type of every uploaded document.
DOCUMENT_CONTENT_TYPE = "text/plain; charset=utf-8"
PARTS_RECORD_VERSION = 1


class PartSpan(NamedTuple):
    """One part of a split document: its name and its span in the document, in code
    points (``text[begin:end]``)."""

    name: str
    begin: int
    end: int


class SplitDocument(NamedTuple):
    """A document uploaded in parts: its length in code points and its parts, in order."""

    characters: int
    parts: tuple[PartSpan, ...]


class UploadPlan(NamedTuple):
    """What ``upload_documents`` sends: ``objects`` ((key, bytes), in input order, the
    parts of a split document in place of it), and, when a document was split, the
    record of its parts (``parts_record`` at ``parts_key``, beside the input folder).
    ``prefix`` is the input folder (``as_folder``), the S3Key a job is given."""

    bucket: str
    prefix: str
    objects: list[tuple[str, bytes]]
    split: dict[str, SplitDocument]
    parts_key: str | None
    parts_record: bytes | None

    @property
    def documents(self) -> int:
        """How many documents the plan uploads (a split one counts once)."""
        return len(self.objects) - sum(len(d.parts) - 1 for d in self.split.values())


def plan_upload(
    documents: Iterable[tuple[str, str | bytes]],
    *,
    bucket: str,
    prefix: str,
    operation_name: str = "upload_documents",
) -> UploadPlan:
    """Check every document against the input rules and plan its upload, before
    anything is sent: ``ParamValidationError`` lists every problem (by document name,
    never quoting its text).

    A document is its name (relative to ``prefix``: an S3 key's tail, so no leading
    '/', no '//', no '.' or '..' segment) and its text (a ``str``, or ``bytes`` that
    must be UTF-8). A text over ``MAX_DOCUMENT_BYTES`` in UTF-8 is cut with
    ``cmclient.text.split_text`` at paragraph, then sentence, breaks into parts named
    ``name.part-001``, ``name.part-002``, ...; the record of the parts (which document,
    which spans) goes to ``parts_index_key(prefix)``, outside what the job reads, so
    ``job_results`` can join the parts' results back. Empty documents, repeated names
    and a part name that another document already has are refused."""
    problems: list[tuple[str, str]] = []
    if not isinstance(bucket, str) or not bucket or "/" in bucket:
        problems.append(("bucket", "must be a bucket name"))
    if not isinstance(prefix, str):
        problems.append(("prefix", "must be a str (a key prefix such as 'notes/', or '')"))
        prefix = ""
    elif prefix.startswith("/") or "//" in prefix:
        problems.append(("prefix", "must not start with '/' or contain '//'"))
    folder = as_folder(prefix)
    objects: list[tuple[str, bytes]] = []
    split: dict[str, SplitDocument] = {}
    names: set[str] = set()
    for name, document in documents:
        where = f"documents[{name!r}]"
        for rule in name_problems(name):
            problems.append((where, rule))
        if not isinstance(name, str):
            continue
        if name in names:
            problems.append((where, "the name is given more than once"))
        names.add(name)
        text, data, problem = _document_text(document)
        if problem is not None:
            problems.append((where, problem))
            continue
        if not data:
            problems.append((where, "the document is empty"))
            continue
        if len(data) <= MAX_DOCUMENT_BYTES:
            objects.append((f"{folder}{name}", data))
            if len(objects[-1][0].encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
                problems.append((where, f"the prefix and the name make a key of more "
                                        f"than {MAX_KEY_BYTES} bytes"))
            continue
        assert text is not None
        from cmclient.text import split_text

        chunks = split_text(text, max_bytes=MAX_DOCUMENT_BYTES)
        if not chunks:  # only whitespace: nothing a job could analyse
            problems.append((where, "the document is only whitespace"))
            continue
        spans = tuple(PartSpan(part_name(name, i), c.begin, c.end)
                      for i, c in enumerate(chunks, 1))
        if len(f"{folder}{spans[-1].name}".encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            problems.append((where, f"the prefix and the name of its parts make keys of "
                                    f"more than {MAX_KEY_BYTES} bytes"))
        split[name] = SplitDocument(len(text), spans)
        objects.extend((f"{folder}{span.name}", chunk.text.encode("utf-8"))
                       for span, chunk in zip(spans, chunks, strict=True))
    for name, whole in split.items():
        for span in whole.parts:
            if span.name in names:
                problems.append((f"documents[{span.name!r}]", (
                    f"the name is also the name of a part of {name!r}, which is over "
                    f"{MAX_DOCUMENT_BYTES} bytes and is uploaded in parts")))
    parts_key = record = None
    if split and not problems:
        parts_key = parts_index_key(prefix, operation_name=operation_name)
        record = parts_record(folder, split)
    if problems:
        raise ParamValidationError(operation_name, problems)
    return UploadPlan(bucket, folder, objects, split, parts_key, record)


def _document_text(document: Any) -> tuple[str | None, bytes, str | None]:
    """(text or None, UTF-8 bytes, problem or None) for one document's content."""
    if isinstance(document, str):
        try:
            return document, document.encode("utf-8"), None
        except UnicodeEncodeError:
            return None, b"", ("the text is not valid Unicode (a lone surrogate): it "
                               "cannot be UTF-8")
    if isinstance(document, (bytes, bytearray, memoryview)):
        data = bytes(document)
        if len(data) <= MAX_DOCUMENT_BYTES:
            problem = document_problem(data)
            return None, data, None if problem is None else problem.message
        try:
            return data.decode("utf-8"), data, None
        except UnicodeDecodeError as exc:
            return None, b"", f"the file is not valid UTF-8 (byte {exc.start})"
    return None, b"", f"the document must be str or bytes, not {type(document).__name__}"


def parts_record(prefix: str, split: dict[str, SplitDocument]) -> bytes:
    """The JSON record of split documents' parts (``read_parts_record`` reads it)."""
    import json

    return json.dumps({
        "Version": PARTS_RECORD_VERSION,
        "Prefix": prefix,
        "Documents": {
            name: {"Characters": document.characters,
                   "Parts": [{"Name": p.name, "Begin": p.begin, "End": p.end}
                             for p in document.parts]}
            for name, document in split.items()
        },
    }, ensure_ascii=False, indent=1).encode("utf-8")


def read_parts_record(data: bytes, *, key: str | None = None) -> dict[str, SplitDocument]:
    """The split documents a parts record names; ``ResponseParseError`` (naming the
    key, quoting nothing) when it is not one."""
    import json

    try:
        loaded = json.loads(data)
        documents = {}
        for name, entry in loaded["Documents"].items():
            spans = tuple(PartSpan(str(p["Name"]), int(p["Begin"]), int(p["End"]))
                          for p in entry["Parts"])
            if not isinstance(name, str) or not spans:
                raise ValueError("a document with no parts")
            documents[name] = SplitDocument(int(entry["Characters"]), spans)
    except (ValueError, KeyError, TypeError, AttributeError):
        named = f" at {key}" if key else ""
        raise ResponseParseError(
            f"the object{named} is not a record of split documents' parts",
            operation_name="GetObject", status_code=200, request_id=None) from None
    return documents


# --- results out: split documents joined back ----------------------------------------------

def fold_unprocessed(
    unprocessed: list[UnprocessedDocument], split: dict[str, SplitDocument]
) -> tuple[list[UnprocessedDocument], frozenset[str]]:
    """The unprocessed list with each unprocessed part replaced by its document (once,
    with the first part's reason), and the names of those documents: their other
    parts' results are not given, since a document with a part missing has no result."""
    by_part = {span.name: (name, index, len(document.parts))
               for name, document in split.items()
               for index, span in enumerate(document.parts, 1)}
    out: list[UnprocessedDocument] = []
    failed: set[str] = set()
    for entry in unprocessed:
        hit = by_part.get(entry.input_name)
        if hit is None:
            out.append(entry)
            continue
        name, index, count = hit
        if name in failed:
            continue
        failed.add(name)
        out.append(UnprocessedDocument(
            input_name=name, error_code=entry.error_code,
            error_message=f"part {index} of {count}: {entry.error_message or 'not processed'}",
            input_location=entry.input_location))
    return out, frozenset(failed)


class PartJoiner:
    """Joins the results of a split document's parts as they stream in, in any order:
    ``feed`` returns a result to give now (a whole document's, or a joined one) or None
    (a part kept until its document is complete); ``leftovers`` gives, at the end, the
    parts of documents that never came back whole, as they are. Only the parts of
    documents still incomplete are held."""

    def __init__(
        self, kind: BatchKind, split: dict[str, SplitDocument], failed: Container[str] = ()
    ) -> None:
        self._kind = kind
        self._split = split
        self._failed = failed
        self._by_part = {span.name: (name, index)
                         for name, document in split.items()
                         for index, span in enumerate(document.parts)}
        self._pending: dict[str, dict[int, DocumentResult[Any]]] = {}

    def feed(self, result: DocumentResult[Any]) -> DocumentResult[Any] | None:
        hit = self._by_part.get(result.input_name)
        if hit is None:
            return result
        name, index = hit
        if name in self._failed:
            return None
        got = self._pending.setdefault(name, {})
        got[index] = result
        document = self._split[name]
        if len(got) < len(document.parts):
            return None
        del self._pending[name]
        parts = [got[i] for i in range(len(document.parts))]
        joined = join_parts(self._kind, document, [p.result for p in parts])
        return DocumentResult(name, joined, parts[0].output_key)

    def leftovers(self) -> list[DocumentResult[Any]]:
        out = [r for got in self._pending.values() for _, r in sorted(got.items())]
        self._pending.clear()
        return out


def join_parts(kind: BatchKind, document: SplitDocument, results: list[Any]) -> Any:
    """One response for a split document from its parts' responses, in order: offsets
    re-based onto the whole document, ids renumbered, findings at the cuts merged, as
    ``analyze_document`` does (``cmclient._protocol.documents.merge``)."""
    from cmclient._protocol import documents as _documents
    from cmclient.text import TextChunk

    method = next(name for name, row in _documents.TEXT_OPERATIONS.items()
                  if row.name == kind.operation)
    checked = _documents.options("job_results", operation=method, overlap=0,
                                 max_concurrency=1, max_bytes=None)
    # merge reads only each chunk's span and the text's length: stand-ins of the right
    # lengths take the place of texts that are not at hand (they are in S3).
    chunks = [TextChunk("\0" * (p.end - p.begin), p.begin) for p in document.parts]
    planned = _documents.Plan(checked, "\0" * document.characters, chunks)
    return _documents.merge(planned, results)
