"""The mock service's one core: a request in, a response out, no I/O.

``ComprehendMedicalMock.handle`` decides every response. The httpx transports, the
respx helper, the loopback server and the command line only move bytes to and from
it, and sleep for ``MockResponse.delay`` when latency is configured.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from cmclient._operations import OPERATIONS
from cmclient.models._base import RESPONSE_CONTEXT
from cmclient.testing import _auth, _clinical, _wire
from cmclient.testing._jobs import BY_OPERATION, FINAL, JobError, JobKind, JobStore

if TYPE_CHECKING:
    import httpx

    from cmclient.testing._transport import MockTransport

__all__ = ["SERVICE_QUOTAS", "ComprehendMedicalMock", "MockResponse"]

#: Comprehend Medical's default request quotas (transactions per second, per account
#: and region), from the service's "Guidelines and quotas" page. Pass
#: ``rate_limits=SERVICE_QUOTAS`` (or ``"aws"``) to throttle as the service does.
SERVICE_QUOTAS: dict[str, float] = {
    **{name: 100.0 for name in _clinical.DETECTORS},
    **{kind.start: 5.0 for _, kind in BY_OPERATION.values()},
    **{kind.stop: 5.0 for _, kind in BY_OPERATION.values()},
    **{kind.describe: 10.0 for _, kind in BY_OPERATION.values()},
    **{kind.list: 10.0 for _, kind in BY_OPERATION.values()},
}

# Status code and __type namespace of every error the mock can send.
_STATUS = {
    "InvalidRequestException": 400, "ValidationException": 400,
    "InvalidEncodingException": 400, "TextSizeLimitExceededException": 400,
    "ResourceNotFoundException": 404, "TooManyRequestsException": 429,
    "InternalServerException": 500, "ServiceUnavailableException": 503,
    "MissingAuthenticationTokenException": 400, "IncompleteSignatureException": 400,
    "InvalidSignatureException": 400, "UnrecognizedClientException": 400,
    "AccessDeniedException": 400, "ExpiredTokenException": 400,
    "ThrottlingException": 400, "RequestTimeTooSkewed": 400,
    "UnknownOperationException": 400, "SerializationException": 400,
}
_MODELED = frozenset({
    "InvalidRequestException", "InvalidEncodingException", "TextSizeLimitExceededException",
    "ResourceNotFoundException", "TooManyRequestsException", "InternalServerException",
    "ServiceUnavailableException",
})
_DEFAULT_MESSAGES = {
    "TooManyRequestsException": "You have sent too many requests in a given amount of time.",
    "InternalServerException": "An internal server error occurred. Retry your request.",
    "ServiceUnavailableException": "The service is temporarily unavailable.",
    "ThrottlingException": "Rate exceeded",
}
_KMS_KEY = re.compile(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|"
    r"alias/[A-Za-z0-9/_-]+|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:"
    r"(?:key/(?:[0-9a-f-]{36}|mrk-[0-9a-f]{32})|alias/[A-Za-z0-9/_-]+))$"
)


class ServiceFault(Exception):
    """An error response: the code decides the status and the namespace."""

    def __init__(self, code: str, message: str = "", *, namespace: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message or _DEFAULT_MESSAGES.get(code, "")
        if namespace is None:
            namespace = _wire.SERVICE_NAMESPACE if code in _MODELED else _wire.FRONT_END_NAMESPACE
        self.namespace = namespace


@dataclass(frozen=True)
class MockResponse:
    """What the mock answers: status, headers, body, and the latency the I/O layer
    should add before sending it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    delay: float = 0.0
    operation: str | None = None


@dataclass
class _Bucket:
    rate: float
    tokens: float
    stamp: float


@dataclass
class _Fault:
    remaining: int
    code: str
    message: str
    operation: str | None


@dataclass
class _Call:
    """One recorded request: operation and outcome, never the body (it may be PHI)."""

    operation: str | None
    status: int
    request_id: str
    protocol: str
    error_code: str | None = None


@dataclass
class _Options:
    region: str
    credentials: dict[str, str] | None
    latency: float | dict[str, float]
    rate_limits: dict[str, float]
    calls: list[_Call] = field(default_factory=list)


class ComprehendMedicalMock:
    """A stateful, in-memory Comprehend Medical, strict like the real service.

    It answers all 26 operations over awsJson1_1 and rpcv2Cbor, checks SigV4 like
    AWS, keeps batch jobs in memory on a clock the test controls, and returns
    deterministic entities from a small clinical vocabulary.

    Ways in (all share this object's state):

    * ``mock.transport()``: an httpx transport, for ``httpx.Client(transport=...)``
      and ``httpx.AsyncClient(transport=...)``;
    * ``mock.install_respx(router)``: route a respx router's Comprehend Medical
      traffic here;
    * ``with mock.serve() as url``: a loopback HTTP/1.1 server (keep-alive, many
      concurrent clients), for boto3 or any SDK; ``python -m cmclient.testing`` runs
      the same server from the command line.

    Arguments:

    * ``region``: the one region served; a signature scoped to another region is
      ``InvalidSignatureException``.
    * ``credentials``: ``{access_key_id: secret}``. When given, signatures are
      verified and unknown keys are ``UnrecognizedClientException``; when None, any
      well-formed, in-scope, current signature is accepted.
    * ``job_duration``: seconds a job spends IN_PROGRESS, one number or a dict by
      job kind (``"entities-v2"``, ``"phi"``, ``"icd10cm"``, ``"rxnorm"``,
      ``"snomedct"``); ``queue_seconds`` before that it is SUBMITTED, and a stop
      request becomes STOPPED ``stop_seconds`` after it was made.
    * ``rate_limits``: requests per second by operation name (a token bucket with
      one second of burst); ``"aws"`` means ``SERVICE_QUOTAS``. Off by default.
    * ``latency``: seconds added to every response, or a dict by operation name.
    * ``clock``: the wall clock job times derive from (``time.time``);
      ``advance(seconds)`` moves the mock's clock ahead of it. Signature dates are
      always checked against the real time.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        credentials: Mapping[str, str] | None = None,
        job_duration: float | Mapping[str, float] = 60.0,
        queue_seconds: float = 1.0,
        stop_seconds: float = 1.0,
        rate_limits: Mapping[str, float] | str | None = None,
        latency: float | Mapping[str, float] = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(rate_limits, str):
            if rate_limits != "aws":
                raise ValueError("rate_limits must be a mapping, 'aws' or None")
            rate_limits = SERVICE_QUOTAS
        self._options = _Options(
            region=region,
            credentials=dict(credentials) if credentials is not None else None,
            latency=latency if isinstance(latency, (int, float)) else dict(latency),
            rate_limits=dict(rate_limits or {}),
        )
        durations = dict(job_duration) if isinstance(job_duration, Mapping) else {}
        default = float(job_duration) if not isinstance(job_duration, Mapping) else 60.0
        self._jobs = JobStore(queue_seconds=queue_seconds, stop_seconds=stop_seconds,
                              durations=durations, default_duration=default)
        self._clock = clock
        self._offset = 0.0
        self._lock = threading.RLock()
        self._buckets: dict[str, _Bucket] = {}
        self._faults: list[_Fault] = []

    # --- configuration and test controls ---------------------------------------

    @property
    def region(self) -> str:
        return self._options.region

    @property
    def credentials(self) -> dict[str, str] | None:
        return self._options.credentials

    def now(self) -> float:
        """The mock's clock, in epoch seconds: the wall clock plus every ``advance``."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the mock's clock forward; jobs progress accordingly."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

    def complete(self, job_id: str) -> None:
        """Finish a job now with COMPLETED."""
        self._force(job_id, "COMPLETED", None)

    def fail(self, job_id: str, message: str = "The job failed.") -> None:
        """Finish a job now with FAILED and this message."""
        self._force(job_id, "FAILED", message)

    def partial(self, job_id: str, message: str = "Some documents could not be processed.") -> None:
        """Finish a job now with PARTIAL_SUCCESS."""
        self._force(job_id, "PARTIAL_SUCCESS", message)

    def _force(self, job_id: str, status: str, message: str | None) -> None:
        with self._lock:
            try:
                self._jobs.force(job_id, status, message, self.now())
            except JobError:
                raise KeyError(job_id) from None

    def job_status(self, job_id: str) -> str:
        """A job's status now (KeyError for an unknown id)."""
        with self._lock:
            try:
                return self._jobs.get(None, job_id).status(self.now(), self._jobs.stop_seconds)
            except JobError:
                raise KeyError(job_id) from None

    def jobs(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every job started so far (of one kind, if given), as Describe returns them."""
        with self._lock:
            now = self.now()
            return [job.properties(now, self._jobs.stop_seconds)
                    for job in self._jobs.jobs.values() if kind in (None, job.kind.key)]

    def fail_next(
        self, n: int = 1, code: str = "InternalServerException", message: str = "",
        *, operation: str | None = None,
    ) -> None:
        """Answer the next ``n`` authenticated requests (of ``operation``, if given)
        with the error ``code`` instead of handling them. Nothing else changes."""
        if operation is not None and operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        with self._lock:
            self._faults.append(_Fault(n, code, message or _DEFAULT_MESSAGES.get(code, code),
                                       operation))

    def set_rate_limit(self, operation: str, per_second: float | None) -> None:
        """Throttle one operation to ``per_second`` requests (None removes the limit)."""
        with self._lock:
            self._buckets.pop(operation, None)
            if per_second is None:
                self._options.rate_limits.pop(operation, None)
            else:
                self._options.rate_limits[operation] = per_second

    def set_latency(self, seconds: float | Mapping[str, float]) -> None:
        """Seconds to add to every response, or a dict by operation name."""
        self._options.latency = seconds if isinstance(seconds, (int, float)) else dict(seconds)

    @property
    def calls(self) -> list[_Call]:
        """Requests answered so far: operation, status, request id, error code."""
        with self._lock:
            return list(self._options.calls)

    def reset(self) -> None:
        """Forget every job, fault, rate-limit bucket and recorded call."""
        with self._lock:
            self._jobs.jobs.clear()
            self._jobs.by_kind.clear()
            self._jobs.tokens.clear()
            self._faults.clear()
            self._buckets.clear()
            self._options.calls.clear()

    # --- the ways in (thin I/O shells) ------------------------------------------

    def transport(self) -> MockTransport:
        """An httpx transport for both ``httpx.Client`` and ``httpx.AsyncClient``."""
        from cmclient.testing._transport import MockTransport

        return MockTransport(self)

    def install_respx(self, router: Any, url: str | None = None) -> Any:
        """Route ``router``'s (a ``respx.MockRouter``) requests for the service endpoint
        (default: this region's AWS endpoint) to the mock; returns the route."""
        from cmclient.testing._transport import install_respx

        return install_respx(self, router, url)

    def respx_side_effect(self, request: httpx.Request) -> httpx.Response:
        """A respx ``side_effect``: answer an httpx request from the mock."""
        from cmclient.testing._transport import answer

        return answer(self, request)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0
    ) -> AbstractContextManager[str]:
        """Run a loopback HTTP/1.1 server in a background thread:
        ``with mock.serve() as url: ...``. Port 0 picks a free port."""
        from cmclient.testing._server import serve

        return serve(self, host, port)

    def client(self, **kwargs: Any) -> Any:
        """A ``cmclient.ComprehendMedical`` wired to this mock in-process."""
        import httpx

        from cmclient import ComprehendMedical, Credentials

        creds = kwargs.pop("credentials", None)
        if creds is None:
            key, secret = next(iter((self.credentials or {"AKIDMOCK": "mock-secret"}).items()))
            creds = Credentials(key, secret)
        return ComprehendMedical(
            region=kwargs.pop("region", self.region),
            endpoint_url=kwargs.pop("endpoint_url", f"https://comprehendmedical.{self.region}.amazonaws.com"),
            credentials=creds,
            http_client=kwargs.pop("http_client", None) or httpx.Client(transport=self.transport()),
            **kwargs,
        )

    # --- the core ---------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        headers: Iterable[tuple[str, str]] | Mapping[str, str],
        body: bytes,
    ) -> MockResponse:
        """Answer one HTTP request. ``path`` includes any query string; header names
        may be in any case (repeated names are joined with commas, as HTTP allows)."""
        lowered: dict[str, str] = {}
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        for name, value in pairs:
            key = name.lower()
            lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
        request_id = str(uuid.uuid4())
        protocol, operation = _wire.route(path, lowered)
        delay = self._delay(operation)
        try:
            if method.upper() != "POST":
                raise ServiceFault("UnknownOperationException", "Only POST is supported.")
            failure = _auth.check(
                method, path, lowered, body, region=self.region,
                credentials=self._options.credentials, now=datetime.now(timezone.utc),
            )
            if failure is not None:
                raise ServiceFault(*failure)
            if operation is None or operation not in OPERATIONS:
                raise ServiceFault("UnknownOperationException", "")
            with self._lock:
                self._take_fault(operation)
                self._throttle(operation)
                document = self._dispatch(protocol, operation, body)
            payload, extra = _wire.encode(protocol, document)
            status = 200
            error_code = None
        except ServiceFault as fault:
            payload, extra = _wire.encode_error(protocol, fault.namespace, fault.code,
                                                fault.message)
            status = _STATUS.get(fault.code, 400)
            error_code = fault.code
        with self._lock:
            self._options.calls.append(_Call(operation, status, request_id, protocol, error_code))
        return MockResponse(status, [("x-amzn-RequestId", request_id), *extra], payload,
                            delay, operation)

    def _delay(self, operation: str | None) -> float:
        latency = self._options.latency
        if isinstance(latency, dict):
            return float(latency.get(operation or "", 0.0))
        return float(latency)

    def _take_fault(self, operation: str) -> None:
        for fault in self._faults:
            if fault.operation in (None, operation):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                raise ServiceFault(fault.code, fault.message)

    def _throttle(self, operation: str) -> None:
        rate = self._options.rate_limits.get(operation)
        if not rate:
            return
        now = time.monotonic()
        bucket = self._buckets.get(operation)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[operation] = _Bucket(rate, max(1.0, rate), now)
        bucket.tokens = min(max(1.0, rate), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens < 1.0:
            raise ServiceFault("TooManyRequestsException")
        bucket.tokens -= 1.0

    def _dispatch(self, protocol: str, operation: str, body: bytes) -> dict[str, Any]:
        try:
            request = _wire.decode(protocol, body)
        except _wire.DecodeError as exc:
            if exc.encoding and operation in _clinical.DETECTORS:
                raise ServiceFault("InvalidEncodingException", str(exc)) from None
            raise ServiceFault("SerializationException", str(exc)) from None
        if operation in _clinical.DETECTORS:
            return self._detect(operation, request)
        verb, kind = BY_OPERATION[operation]
        handler = {"start": self._start, "describe": self._describe, "stop": self._stop,
                   "list": self._list}[verb]
        return handler(operation, kind, request)

    # --- operations ---------------------------------------------------------------

    def _detect(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        text = request.get("Text")
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise ServiceFault("InvalidEncodingException",
                                   "The Text is not valid UTF-8.") from None
        if isinstance(text, str) and len(text) > _clinical.TEXT_LIMITS[operation]:
            raise ServiceFault(
                "TextSizeLimitExceededException",
                f"The size of the input text exceeds the limit of "
                f"{_clinical.TEXT_LIMITS[operation]} characters. Use a smaller document.",
            )
        _validate(operation, {**request, "Text": text} if text is not None else request)
        assert isinstance(text, str)
        return _clinical.DETECTORS[operation](text)

    def _start(self, operation: str, kind: JobKind, request: dict[str, Any]) -> dict[str, Any]:
        _validate(operation, request)
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
            job = self._jobs.start(kind, kept, self.now())
        except JobError as exc:
            raise ServiceFault(exc.code, exc.message) from None
        return {"JobId": job.id}

    def _describe(self, operation: str, kind: JobKind, request: dict[str, Any]) -> dict[str, Any]:
        _validate(operation, request)
        try:
            job = self._jobs.get(kind, request["JobId"])
        except JobError as exc:
            raise ServiceFault(exc.code, exc.message) from None
        return {"ComprehendMedicalAsyncJobProperties": job.properties(
            self.now(), self._jobs.stop_seconds)}

    def _stop(self, operation: str, kind: JobKind, request: dict[str, Any]) -> dict[str, Any]:
        _validate(operation, request)
        try:
            job = self._jobs.stop(kind, request["JobId"], self.now())
        except JobError as exc:
            raise ServiceFault(exc.code, exc.message) from None
        return {"JobId": job.id}

    def _list(self, operation: str, kind: JobKind, request: dict[str, Any]) -> dict[str, Any]:
        model = _validate(operation, request)
        filter_: dict[str, Any] = {}
        if model.filter is not None:
            f = model.filter
            if f.job_status is not None:
                status = getattr(f.job_status, "value", f.job_status)
                if status not in _STATUSES:
                    rule = _ENUM_RULE.format(", ".join(sorted(_STATUSES)))
                    raise _validation_fault([("filter.jobStatus", rule)])
                filter_["JobStatus"] = status
            if f.job_name is not None:
                filter_["JobName"] = f.job_name
            if f.submit_time_before is not None:
                filter_["SubmitTimeBefore"] = f.submit_time_before
            if f.submit_time_after is not None:
                filter_["SubmitTimeAfter"] = f.submit_time_after
        try:
            page, token = self._jobs.list(kind, filter_, model.max_results or 100,
                                          model.next_token, self.now())
        except JobError as exc:
            raise ServiceFault(exc.code, exc.message) from None
        doc: dict[str, Any] = {"ComprehendMedicalAsyncJobPropertiesList": page}
        if token is not None:
            doc["NextToken"] = token
        return doc


_START_MEMBERS = frozenset({
    "InputDataConfig", "OutputDataConfig", "DataAccessRoleArn", "JobName",
    "ClientRequestToken", "KMSKey", "LanguageCode",
})
_STATUSES = FINAL | {"SUBMITTED", "IN_PROGRESS", "STOP_REQUESTED"}
_ENUM_RULE = "Member must satisfy enum value set: [{}]"


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:] if name else name


def _rule(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing" or (kind.endswith("_type") and error.get("input") is None):
        return "Member must not be null"
    if kind == "string_too_long":
        return f"Member must have length less than or equal to {ctx['max_length']}"
    if kind == "string_too_short":
        return f"Member must have length greater than or equal to {ctx['min_length']}"
    if kind == "string_pattern_mismatch":
        return f"Member must satisfy regular expression pattern: {ctx['pattern']}"
    if kind == "less_than_equal":
        return f"Member must have value less than or equal to {ctx['le']}"
    if kind == "greater_than_equal":
        return f"Member must have value greater than or equal to {ctx['ge']}"
    return "Member has the wrong type"


def _validation_fault(problems: list[tuple[str, str]]) -> ServiceFault:
    """Coral's message: the member path and the broken rule; the value is not repeated
    (the service does, but here it could be clinical text)."""
    count = len(problems)
    details = "; ".join(f"Value at '{path}' failed to satisfy constraint: {rule}"
                        for path, rule in problems)
    return ServiceFault(
        "ValidationException",
        f"{count} validation error{'s' if count != 1 else ''} detected: {details}",
        namespace=_wire.VALIDATION_NAMESPACE,
    )


def _validate(operation: str, request: dict[str, Any]) -> Any:
    """Check the request against the generated input model: lengths, patterns,
    ranges and required members, as the service's front end does. Unknown members
    are ignored, as AWS ignores them."""
    model = OPERATIONS[operation].input_model
    try:
        parsed = model.model_validate(request, context=RESPONSE_CONTEXT)
    except ValidationError as exc:
        problems = []
        seen = set()
        for error in exc.errors(include_url=False):
            # Union members report once per alternative; keep the first per path.
            loc = [str(p) for p in error["loc"] if not _is_union_tag(p)]
            path = ".".join(_camel(p) for p in loc)
            if path not in seen:
                seen.add(path)
                problems.append((path, _rule(error)))
        raise _validation_fault(problems) from None
    if "language_code" in model.model_fields and request.get("LanguageCode") != "en":
        raise _validation_fault([("languageCode", _ENUM_RULE.format("en"))])
    return parsed


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (part == "str" or part.startswith(("str-enum[", "function-")))


def s3_bucket_problem(name: str) -> str | None:
    """Why ``name`` breaks the S3 bucket naming rules (beyond the model's pattern and
    length), or None."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name):
        return "it must use lower-case letters, digits, dots and hyphens, and begin and " \
               "end with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "it must not have adjacent dots, or a dot next to a hyphen"
    try:
        ip_address(name)
    except ValueError:
        pass
    else:
        return "it must not be formatted as an IP address"
    if name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3")):
        return "it uses a reserved prefix or suffix"
    return None
