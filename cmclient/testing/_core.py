"""The request core: one HTTP request in, one response out, no I/O.

``ServiceCore.handle_request`` is the only path a request takes, whichever way it
came in. It routes (awsJson1_1 or rpcv2Cbor, or, for a request that is not addressed
to Comprehend Medical, a pluggable fallback handler), checks the signature, applies
injected faults and rate limits, decodes, hands the document to the operation
handlers, and encodes the answer or the error as AWS would.

The state it works on (``MockState``) is shared with the test controls
(``ComprehendMedicalMock``), which change it under the same lock; the core never
calls back into them.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cmclient._generated.operations import OPERATIONS
from cmclient.testing import _auth, _wire
from cmclient.testing._exchange import MockRequest, MockResponse, RequestHandler
from cmclient.testing._faults import ServiceFault
from cmclient.testing._handlers import Context, dispatch
from cmclient.testing._jobs import JobStore
from cmclient.testing._quotas import TEXT_OPERATIONS, RateLimiter, TextLimit

__all__ = ["Call", "Fault", "MockState", "ServiceCore"]

_log = logging.getLogger("cmclient.testing")


@dataclass
class Fault:
    """An injected error: the next ``remaining`` requests (of ``operation``) get it."""

    remaining: int
    code: str
    message: str
    operation: str | None


@dataclass
class Call:
    """One recorded request: operation and outcome, never the body (it may be PHI)."""

    operation: str | None
    status: int
    request_id: str
    protocol: str
    error_code: str | None = None


@dataclass
class MockState:
    """Everything the mock remembers. Read and changed only under ``lock``.

    Two clocks, both moved by ``offset`` (``advance``): ``clock`` (wall time, epoch
    seconds) dates jobs; ``monotonic`` paces the rate limits. Signature dates are
    always checked against the real time, as AWS checks them.
    """

    region: str
    credentials: dict[str, str] | None
    jobs: JobStore
    limiter: RateLimiter
    latency: float | dict[str, float]
    text_limits: dict[str, TextLimit]
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    offset: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def now(self) -> float:
        return self.clock() + self.offset

    def monotonic_now(self) -> float:
        return self.monotonic() + self.offset

    def delay_for(self, operation: str | None) -> float:
        latency = self.latency
        if isinstance(latency, dict):
            return float(latency.get(operation or "", 0.0))
        return float(latency)

    def take_fault(self, operation: str) -> None:
        """Raise the first injected fault that applies to ``operation``, if any."""
        for fault in self.faults:
            if fault.operation in (None, operation):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                raise ServiceFault(fault.code, fault.message)


def _characters(document: Mapping[str, Any]) -> int:
    """The characters a text request is metered on (0 for any other request)."""
    text = document.get("Text")
    return len(text) if isinstance(text, (str, bytes)) else 0


class ServiceCore:
    """Comprehend Medical's request path over a ``MockState``; a ``RequestHandler``.

    ``fallback`` receives every request that is not addressed to Comprehend Medical
    (see ``_wire.is_service_request``), untouched: its answer is sent as it is, with
    none of the service's latency, throttling or call records. Without one, such a
    request gets the error AWS's front end would send.
    """

    def __init__(self, state: MockState, fallback: RequestHandler | None = None) -> None:
        self.state = state
        self.fallback = fallback

    def handle_request(self, request: MockRequest) -> MockResponse:
        headers = request.lowered_headers()
        fallback = self.fallback
        if fallback is not None and not _wire.is_service_request(request.path, headers,
                                                                 request.method):
            return fallback.handle_request(request)
        return self._serve(request, headers)

    def _serve(self, request: MockRequest, headers: dict[str, str]) -> MockResponse:
        state = self.state
        request_id = str(uuid.uuid4())
        protocol, operation = _wire.route(request.path, headers)
        delay = state.delay_for(operation)
        try:
            try:
                document = self._answer(request, headers, protocol, operation)
            except ServiceFault:
                raise
            except Exception:
                # A request the mock cannot answer is its own bug, not the caller's:
                # answer as the service answers its internal errors, and keep serving.
                _log.exception("the mock failed to answer %s", operation or "a request")
                raise ServiceFault("InternalServerException") from None
            payload, extra = _wire.encode(protocol, document)
            status, error_code = 200, None
        except ServiceFault as fault:
            payload, extra = _wire.encode_error(protocol, fault.namespace, fault.code,
                                                fault.message)
            status, error_code = fault.status, fault.code
        with state.lock:
            state.calls.append(Call(operation, status, request_id, protocol, error_code))
        return MockResponse(status, [("x-amzn-RequestId", request_id), *extra], payload,
                            delay, operation)

    def _answer(self, request: MockRequest, headers: dict[str, str], protocol: str,
                operation: str | None) -> dict[str, Any]:
        state = self.state
        if request.method.upper() != "POST":
            raise ServiceFault("UnknownOperationException", "Only POST is supported.")
        failure = _auth.check(
            request.method, request.path, headers, request.body, region=state.region,
            credentials=state.credentials, now=datetime.now(timezone.utc),
        )
        if failure is not None:
            raise ServiceFault(*failure)
        if operation is None or operation not in OPERATIONS:
            raise ServiceFault("UnknownOperationException", "")
        with state.lock:
            state.take_fault(operation)
        document = _decode(protocol, operation, request.body)  # pure: outside the lock
        with state.lock:
            if not state.limiter.admit(operation, _characters(document),
                                       state.monotonic_now()):
                raise ServiceFault("TooManyRequestsException")
            return dispatch(operation, document,
                            Context(state.jobs, state.now(), state.text_limits))


def _decode(protocol: str, operation: str, body: bytes) -> dict[str, Any]:
    try:
        return _wire.decode(protocol, body)
    except _wire.DecodeError as exc:
        if exc.encoding and operation in TEXT_OPERATIONS:
            raise ServiceFault("InvalidEncodingException", str(exc)) from None
        raise ServiceFault("SerializationException", str(exc)) from None
