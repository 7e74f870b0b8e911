"""The operations themselves: a decoded request document in, a response document out.

Every handler is a function of the request, the job store and the time; none reads a
clock, takes a lock or knows the wire protocol (the request core does those), so each
can be read, and tested, on its own. Errors are raised as ``ServiceFault``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cmclient.testing import _clinical
from cmclient.testing._buckets import s3_bucket_problem
from cmclient.testing._faults import ServiceFault
from cmclient.testing._jobs import BY_OPERATION, FINAL, JobError, JobKind, JobStore
from cmclient.testing._quotas import TextLimit, text_size_problem
from cmclient.testing._validation import ENUM_RULE, validate, validation_fault

__all__ = ["Context", "dispatch", "text_of"]

_KMS_KEY = re.compile(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|"
    r"alias/[A-Za-z0-9/_-]+|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:"
    r"(?:key/(?:[0-9a-f-]{36}|mrk-[0-9a-f]{32})|alias/[A-Za-z0-9/_-]+))$"
)
_START_MEMBERS = frozenset({
    "InputDataConfig", "OutputDataConfig", "DataAccessRoleArn", "JobName",
    "ClientRequestToken", "KMSKey", "LanguageCode",
})
_STATUSES = FINAL | {"SUBMITTED", "IN_PROGRESS", "STOP_REQUESTED"}


@dataclass(frozen=True)
class Context:
    """What a handler may use besides the request: the jobs, the mock's time (epoch
    seconds) and the text limits in force."""

    jobs: JobStore
    now: float
    text_limits: Mapping[str, TextLimit]


def text_of(request: dict[str, Any]) -> str | None:
    """The request's ``Text`` as a string (UTF-8 bytes from CBOR decoded), or None when
    it has none or it is not text. Raises InvalidEncodingException for invalid UTF-8."""
    text = request.get("Text")
    if isinstance(text, bytes):
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError:
            raise ServiceFault("InvalidEncodingException", "The Text is not valid UTF-8.") from None
    return text if isinstance(text, str) else None


def dispatch(operation: str, request: dict[str, Any], context: Context) -> dict[str, Any]:
    """Answer one known operation."""
    if operation in _clinical.DETECTORS:
        return _detect(operation, request, context)
    verb, kind = BY_OPERATION[operation]
    return _JOB_HANDLERS[verb](operation, kind, request, context)


def _detect(operation: str, request: dict[str, Any], context: Context) -> dict[str, Any]:
    text = text_of(request)
    limit = context.text_limits.get(operation)
    if text is not None and limit is not None:
        problem = text_size_problem(text, limit)
        if problem:
            raise ServiceFault("TextSizeLimitExceededException", problem)
    validate(operation, {**request, "Text": text} if text is not None else request)
    assert text is not None  # validation requires a non-empty string
    return _clinical.DETECTORS[operation](text)


def _job_error(exc: JobError) -> ServiceFault:
    return ServiceFault(exc.code, exc.message)


def _start(operation: str, kind: JobKind, request: dict[str, Any],
           context: Context) -> dict[str, Any]:
    validate(operation, request)
    for member in ("InputDataConfig", "OutputDataConfig"):
        problem = s3_bucket_problem(request[member]["S3Bucket"])
        if problem:
            raise ServiceFault("InvalidRequestException",
                               f"{member}.S3Bucket is not a valid bucket name: {problem}.")
    kms_key = request.get("KMSKey")
    if kms_key is not None and not _KMS_KEY.match(kms_key):
        raise ServiceFault("InvalidRequestException",
                           "KMSKey must be a KMS key id, key ARN, alias name or alias ARN.")
    kept = {k: v for k, v in request.items() if k in _START_MEMBERS}
    try:
        job = context.jobs.start(kind, kept, context.now)
    except JobError as exc:
        raise _job_error(exc) from None
    return {"JobId": job.id}


def _describe(operation: str, kind: JobKind, request: dict[str, Any],
              context: Context) -> dict[str, Any]:
    validate(operation, request)
    try:
        job = context.jobs.get(kind, request["JobId"])
    except JobError as exc:
        raise _job_error(exc) from None
    return {"ComprehendMedicalAsyncJobProperties": job.properties(
        context.now, context.jobs.stop_seconds)}


def _stop(operation: str, kind: JobKind, request: dict[str, Any],
          context: Context) -> dict[str, Any]:
    validate(operation, request)
    try:
        job = context.jobs.stop(kind, request["JobId"], context.now)
    except JobError as exc:
        raise _job_error(exc) from None
    return {"JobId": job.id}


def _list(operation: str, kind: JobKind, request: dict[str, Any],
          context: Context) -> dict[str, Any]:
    model = validate(operation, request)
    filter_: dict[str, Any] = {}
    if model.filter is not None:
        f = model.filter
        if f.job_status is not None:
            status = getattr(f.job_status, "value", f.job_status)
            if status not in _STATUSES:
                rule = ENUM_RULE.format(", ".join(sorted(_STATUSES)))
                raise validation_fault([("filter.jobStatus", rule)])
            filter_["JobStatus"] = status
        if f.job_name is not None:
            filter_["JobName"] = f.job_name
        if f.submit_time_before is not None:
            filter_["SubmitTimeBefore"] = f.submit_time_before
        if f.submit_time_after is not None:
            filter_["SubmitTimeAfter"] = f.submit_time_after
    try:
        page, token = context.jobs.list(kind, filter_, model.max_results or 100,
                                        model.next_token, context.now)
    except JobError as exc:
        raise _job_error(exc) from None
    doc: dict[str, Any] = {"ComprehendMedicalAsyncJobPropertiesList": page}
    if token is not None:
        doc["NextToken"] = token
    return doc


_JobHandler = Callable[[str, JobKind, dict[str, Any], Context], dict[str, Any]]
_JOB_HANDLERS: dict[str, _JobHandler] = {
    "start": _start, "describe": _describe, "stop": _stop, "list": _list,
}
