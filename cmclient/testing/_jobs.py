"""Batch jobs: the five job kinds, their lifecycle on a clock the test controls, and
listing with filters and page tokens. Pure state: the caller passes the time in.

A job is SUBMITTED for ``queue_seconds``, then IN_PROGRESS for its kind's duration,
then COMPLETED. A stop request makes a running job STOP_REQUESTED and, ``stop_seconds``
later, STOPPED. ``force`` puts a job in any final state at once. The status is derived
from the time whenever a job is read, so jobs move whether the clock is real (the
command-line server) or advanced by hand (``mock.advance``).

A store given ``files`` (a ``JobFiles``: the mock's S3) tells it when a job starts and
when it first ends with results (COMPLETED or PARTIAL_SUCCESS), so the job reads its
inputs and writes its outputs there; the outcome may then change the final status.
A job's outputs go to ``<output prefix><account>-<JobType>-<job id>/``, which Describe
reports as ``OutputDataConfig.S3Key`` (as AWS's own examples show it), with the
Manifest's location as ``ManifestFilePath``; the account is the one of the job's data
access role.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from cmclient._protocol.batch import MANIFEST_NAME, as_folder, batch_kind
from cmclient.testing._s3 import DEFAULT_ACCOUNT

FINAL = frozenset({"COMPLETED", "PARTIAL_SUCCESS", "FAILED", "STOPPED"})
RETENTION = timedelta(days=90)
_ROLE_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):")


@dataclass(frozen=True)
class JobKind:
    """One family of batch operations (Start/Describe/List/Stop) and its output model."""

    key: str
    suffix: str  # the operation name without its verb: "EntitiesDetectionV2Job"
    list_suffix: str
    model_version: str

    @property
    def start(self) -> str:
        return f"Start{self.suffix}"

    @property
    def describe(self) -> str:
        return f"Describe{self.suffix}"

    @property
    def stop(self) -> str:
        return f"Stop{self.suffix}"

    @property
    def list(self) -> str:
        return f"List{self.list_suffix}"


KINDS = (
    JobKind("entities-v2", "EntitiesDetectionV2Job", "EntitiesDetectionV2Jobs", "2.4.0"),
    JobKind("phi", "PHIDetectionJob", "PHIDetectionJobs", "2.4.0"),
    JobKind("icd10cm", "ICD10CMInferenceJob", "ICD10CMInferenceJobs", "1.0.0"),
    JobKind("rxnorm", "RxNormInferenceJob", "RxNormInferenceJobs", "1.0.0"),
    JobKind("snomedct", "SNOMEDCTInferenceJob", "SNOMEDCTInferenceJobs", "1.0.0"),
)
#: operation name -> (verb, kind)
BY_OPERATION: dict[str, tuple[str, JobKind]] = {}
for _kind in KINDS:
    for _verb in ("start", "describe", "stop", "list"):
        BY_OPERATION[getattr(_kind, _verb)] = (_verb, _kind)


class JobError(Exception):
    """An error the service answers with: code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class JobFiles(Protocol):
    """What a job does in S3 (the mock's store): ``started`` when the job is created
    (it reads its inputs), ``finished`` when it first ends with results (it writes its
    outputs and may change ``job.final`` and ``job.message`` to what they say;
    ``forced`` is the status a test forced, which stays)."""

    def started(self, job: Job) -> None: ...

    def finished(self, job: Job, forced: str | None) -> None: ...


@dataclass
class Job:
    id: str
    kind: JobKind
    request: dict[str, Any]
    submit_time: float
    duration: float
    queue_seconds: float
    final: str | None = None
    end_time: float | None = None
    message: str | None = None
    stop_requested_at: float | None = None
    fingerprint: str = ""
    files: JobFiles | None = field(default=None, repr=False, compare=False)
    #: The (key, bytes) of the inputs read when the job started; None when it had no
    #: S3 to read from (then it writes nothing either).
    inputs: list[tuple[str, bytes]] | None = field(default=None, repr=False, compare=False)
    outputs_written: bool = False

    @property
    def account(self) -> str:
        """The account the job runs in: its data access role's (else
        ``DEFAULT_ACCOUNT``)."""
        found = _ROLE_ACCOUNT.match(str(self.request.get("DataAccessRoleArn", "")))
        return found.group(1) if found else DEFAULT_ACCOUNT

    @property
    def output_folder(self) -> str:
        """Where the job writes: ``<output prefix><account>-<JobType>-<job id>/``."""
        prefix = as_folder(self.request["OutputDataConfig"].get("S3Key"))
        job_type = batch_kind(self.kind.key, operation_name=self.kind.start).job_type
        return f"{prefix}{self.account}-{job_type}-{self.id}/"

    def end(self, forced: str | None) -> None:
        """The job has just ended COMPLETED or PARTIAL_SUCCESS: write its outputs, once."""
        if self.files is not None and not self.outputs_written:
            self.outputs_written = True
            self.files.finished(self, forced)

    def status(self, now: float, stop_seconds: float) -> str:
        """The status at ``now``; reaching a final state records it (and EndTime)."""
        if self.final is None:
            if self.stop_requested_at is not None:
                stopped_at = self.stop_requested_at + stop_seconds
                if now < stopped_at:
                    return "STOP_REQUESTED"
                self.final, self.end_time = "STOPPED", stopped_at
            else:
                done_at = self.submit_time + self.queue_seconds + self.duration
                if now >= done_at:
                    self.final, self.end_time = "COMPLETED", done_at
                    self.end(None)
                elif now >= self.submit_time + self.queue_seconds:
                    return "IN_PROGRESS"
                else:
                    return "SUBMITTED"
        return self.final

    def properties(self, now: float, stop_seconds: float) -> dict[str, Any]:
        status = self.status(now, stop_seconds)
        request = self.request
        output = dict(request["OutputDataConfig"])
        output["S3Key"] = self.output_folder
        props: dict[str, Any] = {
            "JobId": self.id,
            "JobStatus": status,
            "SubmitTime": _time(self.submit_time),
            "ExpirationTime": _time(self.submit_time + RETENTION.total_seconds()),
            "InputDataConfig": dict(request["InputDataConfig"]),
            "OutputDataConfig": output,
            "LanguageCode": request["LanguageCode"],
            "DataAccessRoleArn": request["DataAccessRoleArn"],
            "ModelVersion": self.kind.model_version,
        }
        if "JobName" in request:
            props["JobName"] = request["JobName"]
        if "KMSKey" in request:
            props["KMSKey"] = request["KMSKey"]
        if self.message:
            props["Message"] = self.message
        if self.end_time is not None and status in FINAL:
            props["EndTime"] = _time(self.end_time)
        if status in ("COMPLETED", "PARTIAL_SUCCESS"):
            props["ManifestFilePath"] = (
                f"{output['S3Bucket']}/{output['S3Key']}{MANIFEST_NAME}")
        return props


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(seconds, 3), timezone.utc)


@dataclass
class JobStore:
    """Every job the mock has started, by id and by kind, in submission order."""

    queue_seconds: float = 1.0
    stop_seconds: float = 1.0
    durations: dict[str, float] = field(default_factory=dict)
    default_duration: float = 60.0
    jobs: dict[str, Job] = field(default_factory=dict)
    by_kind: dict[str, list[Job]] = field(default_factory=dict)
    tokens: dict[tuple[str, str], Job] = field(default_factory=dict)
    #: The S3 side of every job, if any (see ``JobFiles``).
    files: JobFiles | None = None

    def clear(self) -> None:
        """Forget every job (the settings stay)."""
        self.jobs.clear()
        self.by_kind.clear()
        self.tokens.clear()

    def start(self, kind: JobKind, request: dict[str, Any], now: float) -> Job:
        """Create a job, or return the one this ClientRequestToken already created."""
        token = request.get("ClientRequestToken")
        fingerprint = hashlib.sha256(json.dumps(
            {k: v for k, v in request.items() if k != "ClientRequestToken"}, sort_keys=True,
            default=str).encode()).hexdigest()
        if token is not None:
            existing = self.tokens.get((kind.key, token))
            if existing is not None:
                if existing.fingerprint != fingerprint:
                    raise JobError("InvalidRequestException",
                                   "The ClientRequestToken was already used with different "
                                   "parameters.")
                return existing
        job = Job(
            id=uuid.uuid4().hex,
            kind=kind,
            request=request,
            submit_time=now,
            duration=self.durations.get(kind.key, self.default_duration),
            queue_seconds=self.queue_seconds,
            fingerprint=fingerprint,
            files=self.files,
        )
        if self.files is not None:
            self.files.started(job)
        self.jobs[job.id] = job
        self.by_kind.setdefault(kind.key, []).append(job)
        if token is not None:
            self.tokens[(kind.key, token)] = job
        return job

    def get(self, kind: JobKind | None, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or (kind is not None and job.kind != kind):
            raise JobError("ResourceNotFoundException",
                           f"Job with id {job_id} does not exist.")
        return job

    def stop(self, kind: JobKind, job_id: str, now: float) -> Job:
        job = self.get(kind, job_id)
        status = job.status(now, self.stop_seconds)
        if status in FINAL:
            raise JobError("InvalidRequestException",
                           f"Job {job_id} is {status} and cannot be stopped.")
        if job.stop_requested_at is None:
            job.stop_requested_at = now
        return job

    def force(
        self, job_id: str, status: str, message: str | None, now: float, *,
        as_inputs_say: bool = False,
    ) -> Job:
        """End a job now with ``status`` and ``message``. A job that ends with results
        writes its outputs (once); with ``as_inputs_say`` its status and message are
        then what its outputs say (``complete``: COMPLETED unless files could not be
        processed), otherwise ``status`` stays."""
        job = self.get(None, job_id)
        job.final, job.end_time, job.message = status, now, message
        if status in ("COMPLETED", "PARTIAL_SUCCESS"):
            job.end(None if as_inputs_say else status)
        return job

    def list(
        self, kind: JobKind, filter_: dict[str, Any], max_results: int, token: str | None,
        now: float,
    ) -> tuple[list[dict[str, Any]], str | None]:
        jobs = self.by_kind.get(kind.key, [])
        marker = hashlib.sha256(
            json.dumps([kind.key, filter_], sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        start = 0
        if token is not None:
            start = _read_token(token, marker)
        page: list[dict[str, Any]] = []
        index = start
        while index < len(jobs) and len(page) < max_results:
            job = jobs[index]
            index += 1
            props = job.properties(now, self.stop_seconds)
            if _matches(props, filter_):
                page.append(props)
        more = any(
            _matches(job.properties(now, self.stop_seconds), filter_) for job in jobs[index:]
        )
        return page, (_make_token(index, marker) if more else None)


def _matches(props: dict[str, Any], filter_: dict[str, Any]) -> bool:
    name = filter_.get("JobName")
    if name is not None and props.get("JobName") != name:
        return False
    status = filter_.get("JobStatus")
    if status is not None and props["JobStatus"] != status:
        return False
    before: datetime | None = filter_.get("SubmitTimeBefore")
    if before is not None and not props["SubmitTime"] < before:
        return False
    after: datetime | None = filter_.get("SubmitTimeAfter")
    return not (after is not None and not props["SubmitTime"] > after)


def _make_token(index: int, marker: str) -> str:
    raw = json.dumps({"i": index, "m": marker}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: str, marker: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        index, seen = data["i"], data["m"]
    except (ValueError, KeyError, TypeError):
        raise JobError("ValidationException", "The NextToken is not valid.") from None
    if seen != marker or not isinstance(index, int) or index < 0:
        raise JobError("ValidationException",
                       "The NextToken is not valid for this request's filter.")
    return index
