"""``ComprehendMedicalMock``: the mock's public face, the controls a test turns.

It builds the shared state, hands requests to the request core (``_core``), and
offers the ways in (``_transport``, ``_server``), imported on first use. Everything
here is configuration and test control; what an answer is lives in the core and the
operation handlers, so this module can change how a test drives the mock without
touching how the mock behaves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from cmclient._generated.operations import OPERATIONS
from cmclient.testing._core import Call, Fault, MockState, ServiceCore
from cmclient.testing._exchange import MockRequest, MockResponse, RequestHandler
from cmclient.testing._faults import DEFAULT_MESSAGES
from cmclient.testing._job_files import S3JobFiles
from cmclient.testing._jobs import JobError, JobStore
from cmclient.testing._quotas import (
    SERVICE_CHARACTER_QUOTAS,
    SERVICE_QUOTAS,
    TEXT_LIMITS,
    RateLimit,
    RateLimiter,
    TextLimit,
)
from cmclient.testing._s3 import MockS3, S3Store

if TYPE_CHECKING:
    import httpx

    from cmclient.testing._transport import MockTransport

__all__ = ["SERVICE_QUOTAS", "ComprehendMedicalMock", "MockResponse"]


def _known(operation: str) -> str:
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}")
    return operation


def _rate_limits(
    rate_limits: Mapping[str, float | RateLimit] | str | None,
) -> dict[str, RateLimit]:
    if isinstance(rate_limits, str):
        if rate_limits != "aws":
            raise ValueError("rate_limits must be a mapping, 'aws' or None")
        return {name: RateLimit(tps, SERVICE_CHARACTER_QUOTAS.get(name))
                for name, tps in SERVICE_QUOTAS.items()}
    return {_known(name): limit if isinstance(limit, RateLimit) else RateLimit(float(limit))
            for name, limit in (rate_limits or {}).items()}


def _latency(seconds: float | Mapping[str, float]) -> float | dict[str, float]:
    values = [seconds] if isinstance(seconds, (int, float)) else list(seconds.values())
    if any(not value >= 0 for value in values):
        raise ValueError("latency must be zero or more seconds")
    return float(seconds) if isinstance(seconds, (int, float)) else dict(seconds)


class ComprehendMedicalMock:
    """A stateful, in-memory Comprehend Medical, strict like the real service.

    It answers all 26 operations over awsJson1_1 and rpcv2Cbor, checks SigV4 like
    AWS, keeps batch jobs in memory on a clock the test controls, and returns
    deterministic entities from a small clinical vocabulary.

    It also speaks S3 (``mock.s3``, a ``MockS3`` over an in-memory ``S3Store``):
    PutObject, GetObject, HeadObject, DeleteObject, ListObjectsV2 and the bucket calls,
    path-style (``{url}/{bucket}/{key}``), on the same ways in, with S3's XML and
    signatures checked against the same credentials. A request is S3's when it is not
    addressed to Comprehend Medical. A batch job whose input bucket exists there reads
    its input objects when it starts and, when it ends with results, writes its
    outputs as the service does: one ``<input name>.out`` per processed file (this
    mock's own real-time analysis of it), the Manifest and both file lists, under
    ``<output prefix><account>-<JobType>-<job id>/``; a file over 40,000 bytes or not
    UTF-8 is unprocessed and the job ends PARTIAL_SUCCESS. A job whose input bucket
    does not exist writes nothing and just follows its clock.

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
    * ``rate_limits``: quotas by operation name, each a number (transactions per
      second) or a ``RateLimit(tps=..., chars_per_second=...)``; ``"aws"`` means the
      service's defaults (``SERVICE_QUOTAS`` and ``SERVICE_CHARACTER_QUOTAS``). A
      request over its quota is ``TooManyRequestsException`` (HTTP 400, as the service
      sends it). Off by default; see ``set_rate_limit``.
    * ``latency``: seconds added to every response, or a dict by operation name
      (S3's included: ``GetObject``, ``ListObjectsV2``, ...).
    * ``text_limits``: the most text each text operation accepts, in that
      operation's unit (UTF-8 bytes for the Detect operations, characters for the
      Infer ones), overriding the service's figures; over it the answer is
      ``TextSizeLimitExceededException``.
    * ``clock``: the wall clock job times derive from (``time.time``);
      ``monotonic``: the clock rate limits are paced by (``time.monotonic``). A test
      may pass its own. ``advance(seconds)`` moves both ahead. Signature dates are
      always checked against the real time.
    * ``fallback``: a ``RequestHandler`` for every request that is not addressed to
      Comprehend Medical (no ``X-Amz-Target``, no rpcv2Cbor marker), answered by it
      as it is; by default the mock's own S3 (``mock.s3``). Jobs use ``mock.s3``'s
      store whatever the fallback.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        credentials: Mapping[str, str] | None = None,
        job_duration: float | Mapping[str, float] = 60.0,
        queue_seconds: float = 1.0,
        stop_seconds: float = 1.0,
        rate_limits: Mapping[str, float | RateLimit] | str | None = None,
        latency: float | Mapping[str, float] = 0.0,
        text_limits: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        fallback: RequestHandler | None = None,
    ) -> None:
        durations = dict(job_duration) if isinstance(job_duration, Mapping) else {}
        default = float(job_duration) if not isinstance(job_duration, Mapping) else 60.0
        limits = dict(TEXT_LIMITS)
        for name, amount in (text_limits or {}).items():
            if name not in TEXT_LIMITS:
                raise ValueError(f"{name!r} takes no text")
            limits[name] = TextLimit(int(amount), TEXT_LIMITS[name].unit)
        kept_credentials = dict(credentials) if credentials is not None else None
        store = S3Store(clock=lambda: self.now())
        self._state = MockState(
            region=region,
            credentials=kept_credentials,
            jobs=JobStore(queue_seconds=queue_seconds, stop_seconds=stop_seconds,
                          durations=durations, default_duration=default,
                          files=S3JobFiles(store)),
            limiter=RateLimiter(_rate_limits(rate_limits)),
            latency=_latency(latency),
            text_limits=limits,
            clock=clock,
            monotonic=monotonic,
        )
        #: The mock's S3: its store is where jobs read and write.
        self.s3 = MockS3(store, region=region, credentials=kept_credentials,
                         latency=self._state.delay_for)
        self._core = ServiceCore(self._state, fallback if fallback is not None else self.s3)

    # --- configuration ------------------------------------------------------------

    @property
    def region(self) -> str:
        return self._state.region

    @property
    def credentials(self) -> dict[str, str] | None:
        return self._state.credentials

    @property
    def fallback(self) -> RequestHandler | None:
        """The handler for requests not addressed to Comprehend Medical (settable)."""
        return self._core.fallback

    @fallback.setter
    def fallback(self, handler: RequestHandler | None) -> None:
        self._core.fallback = handler

    @property
    def rate_limits(self) -> dict[str, RateLimit]:
        """The quotas in force, by operation name."""
        with self._state.lock:
            return self._state.limiter.limits

    def set_rate_limit(
        self, operation: str, tps: float | None = None, chars_per_second: float | None = None,
    ) -> None:
        """Throttle one operation to ``tps`` requests and ``chars_per_second``
        characters of text per second (None: no limit on that axis; both None removes
        the quota). Each is a token bucket holding one second's worth, starting full;
        a request that does not fit is ``TooManyRequestsException``."""
        limit = RateLimit(tps, chars_per_second)
        with self._state.lock:
            self._state.limiter.set(_known(operation), limit)

    def set_latency(self, seconds: float | Mapping[str, float]) -> None:
        """Seconds to add to every response, or a dict by operation name. The way in
        waits (asyncio in the server and the async transport), so other connections
        are served meanwhile."""
        latency = _latency(seconds)
        with self._state.lock:
            self._state.latency = latency

    # --- the clock and the jobs -----------------------------------------------------

    def now(self) -> float:
        """The mock's clock, in epoch seconds: the wall clock plus every ``advance``."""
        return self._state.now()

    def advance(self, seconds: float) -> None:
        """Move the mock's clocks forward: jobs progress and rate-limit buckets refill
        accordingly."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._state.lock:
            self._state.offset += seconds

    def complete(self, job_id: str) -> None:
        """Finish a job now, as it would have finished: COMPLETED, or, for a job with
        inputs in ``mock.s3``, what its outputs say (PARTIAL_SUCCESS when some files
        could not be processed, FAILED when none could)."""
        self._force(job_id, "COMPLETED", None, as_inputs_say=True)

    def fail(self, job_id: str, message: str = "The job failed.") -> None:
        """Finish a job now with FAILED and this message."""
        self._force(job_id, "FAILED", message)

    def partial(self, job_id: str, message: str = "Some documents could not be processed.") -> None:
        """Finish a job now with PARTIAL_SUCCESS (its outputs, if it has inputs in
        ``mock.s3``, are written all the same)."""
        self._force(job_id, "PARTIAL_SUCCESS", message)

    def _force(
        self, job_id: str, status: str, message: str | None, *, as_inputs_say: bool = False
    ) -> None:
        with self._state.lock:
            try:
                self._state.jobs.force(job_id, status, message, self.now(),
                                       as_inputs_say=as_inputs_say)
            except JobError:
                raise KeyError(job_id) from None

    def job_status(self, job_id: str) -> str:
        """A job's status now (KeyError for an unknown id)."""
        state = self._state
        with state.lock:
            try:
                return state.jobs.get(None, job_id).status(self.now(), state.jobs.stop_seconds)
            except JobError:
                raise KeyError(job_id) from None

    def jobs(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every job started so far (of one kind, if given), as Describe returns them."""
        state = self._state
        with state.lock:
            now = self.now()
            return [job.properties(now, state.jobs.stop_seconds)
                    for job in state.jobs.jobs.values() if kind in (None, job.kind.key)]

    # --- faults and records ---------------------------------------------------------

    def fail_next(
        self, n: int = 1, code: str = "InternalServerException", message: str = "",
        *, operation: str | None = None,
    ) -> None:
        """Answer the next ``n`` authenticated requests (of ``operation``, if given)
        with the error ``code`` instead of handling them. Nothing else changes."""
        if operation is not None:
            _known(operation)
        with self._state.lock:
            self._state.faults.append(
                Fault(n, code, message or DEFAULT_MESSAGES.get(code, code), operation))

    @property
    def calls(self) -> list[Call]:
        """Requests answered so far: operation, status, request id, error code."""
        with self._state.lock:
            return list(self._state.calls)

    def reset(self) -> None:
        """Forget every job, fault, recorded call and S3 object and bucket, and refill
        every rate-limit bucket. Settings (credentials, quotas, latency) stay."""
        state = self._state
        with state.lock:
            self.s3.store.clear()
            state.jobs.clear()
            state.faults.clear()
            state.limiter.reset()
            state.calls.clear()

    # --- the core -------------------------------------------------------------------

    def handle_request(self, request: MockRequest) -> MockResponse:
        """Answer one request (``RequestHandler``): what every way in calls."""
        return self._core.handle_request(request)

    def handle(
        self,
        method: str,
        path: str,
        headers: Iterable[tuple[str, str]] | Mapping[str, str],
        body: bytes,
    ) -> MockResponse:
        """Answer one HTTP request. ``path`` includes any query string; header names
        may be in any case (repeated names are joined with commas, as HTTP allows)."""
        return self._core.handle_request(MockRequest.build(method, path, headers, body))

    # --- the ways in (thin I/O shells) ------------------------------------------------

    def _endpoint(self) -> str:
        return f"https://comprehendmedical.{self.region}.amazonaws.com"

    def transport(self) -> MockTransport:
        """An httpx transport for both ``httpx.Client`` and ``httpx.AsyncClient``."""
        from cmclient.testing._transport import MockTransport

        return MockTransport(self)

    def install_respx(self, router: Any, url: str | None = None) -> Any:
        """Route ``router``'s (a ``respx.MockRouter``) requests for the service endpoint
        (default: this region's AWS endpoint) to the mock; returns the route."""
        from cmclient.testing._transport import install_respx

        return install_respx(self, router, url or self._endpoint())

    def respx_side_effect(self, request: httpx.Request) -> httpx.Response:
        """A respx ``side_effect``: answer an httpx request from the mock."""
        from cmclient.testing._transport import answer

        return answer(self, request)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, read_timeout: float | None = None,
    ) -> AbstractContextManager[str]:
        """Run a loopback HTTP/1.1 server in a background thread:
        ``with mock.serve() as url: ...``. Port 0 picks a free port.
        ``read_timeout``: seconds a request may stall mid-way before it is answered
        408 and its connection closed (default 10)."""
        from cmclient.testing._server import DEFAULT_READ_TIMEOUT, serve

        return serve(self, host, port,
                     read_timeout=DEFAULT_READ_TIMEOUT if read_timeout is None else read_timeout)

    def client(self, **kwargs: Any) -> Any:
        """A ``cmclient.ComprehendMedical`` wired to this mock in-process, S3 included
        (``s3_endpoint_url`` is the mock's endpoint, path-style). Its client-side quota
        limiter is off (``quotas=None``) unless ``quotas=`` says otherwise: the mock
        enforces no quota until ``set_rate_limit`` asks it to, and a test should not
        wait on the account's pace."""
        import httpx

        from cmclient import ComprehendMedical, Credentials

        creds = kwargs.pop("credentials", None)
        if creds is None:
            key, secret = next(iter((self.credentials or {"AKIDMOCK": "mock-secret"}).items()))
            creds = Credentials(key, secret)
        return ComprehendMedical(
            region=kwargs.pop("region", self.region),
            endpoint_url=kwargs.pop("endpoint_url", self._endpoint()),
            s3_endpoint_url=kwargs.pop("s3_endpoint_url", self._endpoint()),
            credentials=creds,
            http_client=kwargs.pop("http_client", None) or httpx.Client(transport=self.transport()),
            quotas=kwargs.pop("quotas", None),
            **kwargs,
        )
