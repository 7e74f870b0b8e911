"""What the adversarial HTTP tests share: clients of both pools (and aiohttp, the
reference) pointed at a ``RawServer``, the classification of each call's outcome, and
the registry of outcomes that ``conftest.py`` prints as a table at the end of the run.

A call's outcome is one of:

* ``right``: the caller got its own answer (``model_version`` is its marker);
* ``wrong``: the caller got another call's answer (the one thing that must never
  happen);
* ``error``: a typed cmclient error (for aiohttp: any exception, or a status that is
  not 200);
* ``untyped``: cmclient raised something outside ``cmclient.errors`` (never allowed).
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cmclient import AsyncComprehendMedical, ComprehendMedical, Credentials, errors
from tests.helpers.rawserver import RawServer, Request, Responder, ServerConnection, ok

CREDS = Credentials("AKIDRAW", "raw-secret")
POOLS = ("sync", "async")
TRANSPORTS = ("tcp", "tls")
#: aiohttp streams a body past this size without keeping it (size cases).
_KEEP = 1 << 20


def marker(prefix: str) -> str:
    """A text unique to one call."""
    return f"{prefix}-{uuid.uuid4().hex}"


# -- outcomes ------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    kind: str  # right | wrong | error | untyped
    detail: str = ""
    exc: BaseException | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind

    @property
    def short(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


def answer_outcome(expected: str, got: str | None) -> Outcome:
    if got == expected:
        return Outcome("right")
    return Outcome("wrong", f"got {got!r}")


def exception_outcome(exc: BaseException) -> Outcome:
    if isinstance(exc, errors.ServiceError):
        return Outcome("error", f"{type(exc).__name__} {exc.status_code}", exc)
    if isinstance(exc, errors.ComprehendMedicalError):
        return Outcome("error", type(exc).__name__, exc)
    return Outcome("untyped", f"{type(exc).__module__}.{type(exc).__name__}: {exc!s:.200}", exc)


def too_large_error() -> type[BaseException]:
    """``cmclient.errors.ResponseTooLargeError`` (looked up when a test runs, so that a
    module using it still imports while the class is being written)."""
    found: type[BaseException] = errors.ResponseTooLargeError  # type: ignore[attr-defined]
    return found


# -- TLS material --------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    """A test CA's bundle (``ca``: the chain and the CA, as tests/tls_certs writes it)
    and the leaf's key."""

    ca: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.ca), str(self.key))
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


# -- clients -------------------------------------------------------------------


def client_options(url: str, tls: Tls | None, options: dict[str, Any]) -> dict[str, Any]:
    """A client's arguments: one attempt, short timeouts, the test CA for TLS, then
    ``options`` on top."""
    kwargs: dict[str, Any] = {
        "region": "us-east-1", "endpoint_url": url, "credentials": CREDS,
        "max_attempts": 1, "timeout": 2.0, "call_timeout": 15.0,
        "quotas": None,  # no client-side pacing: these tests send bursts on purpose
    }
    if tls is not None:
        kwargs["verify"] = str(tls.ca)
    kwargs.update(options)
    return kwargs


def sync_client(url: str, tls: Tls | None = None, **options: Any) -> ComprehendMedical:
    return ComprehendMedical(**client_options(url, tls, options))


def async_client(url: str, tls: Tls | None = None, **options: Any) -> AsyncComprehendMedical:
    return AsyncComprehendMedical(**client_options(url, tls, options))


def call_sync(client: ComprehendMedical, text: str) -> Outcome:
    try:
        result = client.detect_entities_v2(text=text)
    except Exception as exc:
        return exception_outcome(exc)
    return answer_outcome(text, result.model_version)


async def call_async(client: AsyncComprehendMedical, text: str) -> Outcome:
    try:
        result = await client.detect_entities_v2(text=text)
    except Exception as exc:
        return exception_outcome(exc)
    return answer_outcome(text, result.model_version)


async def call_aiohttp(session: Any, url: str, text: str, tls: Tls | None) -> Outcome:
    """One plain ``aiohttp.ClientSession.post``, classified. A body past ``_KEEP`` bytes
    is counted, not kept: accepting it whole counts as a right answer (lenient)."""
    body = json.dumps({"Text": text}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1",
               "X-Amz-Target": "ComprehendMedical_20181030.DetectEntitiesV2"}
    ssl_option: Any = tls.client_context() if tls is not None else True
    try:
        async with session.post(url + "/", data=body, headers=headers, ssl=ssl_option) as resp:
            kept = bytearray()
            total = 0
            async for chunk in resp.content.iter_chunked(65536):
                total += len(chunk)
                if len(kept) < _KEEP:
                    kept += chunk
            status = resp.status
    except Exception as exc:  # the reference: whatever it raises is its refusal
        return Outcome("error", type(exc).__name__, exc)
    if status != 200:
        return Outcome("error", f"status {status}")
    if total > _KEEP:
        prefix = b'{"Entities": [], "ModelVersion": ' + json.dumps(text).encode()
        if bytes(kept).startswith(prefix):
            return Outcome("right", f"accepted {total >> 20} MiB")
        return Outcome("wrong", "a large body not its own")
    try:
        document = json.loads(kept)
    except ValueError:
        return Outcome("error", "body not JSON")
    got = document.get("ModelVersion") if isinstance(document, dict) else None
    return answer_outcome(text, got if isinstance(got, str) else None)


def aiohttp_session() -> Any:
    import aiohttp

    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15, sock_read=2))


def run_calls(
    pool: str, url: str, texts: Sequence[str], tls: Tls | None, **options: Any
) -> list[Outcome]:
    """Each text as one call, one after another, on one client of ``pool`` (sync,
    async or aiohttp), closed afterwards."""
    if pool == "sync":
        with sync_client(url, tls, **options) as client:
            return [call_sync(client, text) for text in texts]

    async def many() -> list[Outcome]:
        if pool == "aiohttp":
            async with aiohttp_session() as session:
                return [await call_aiohttp(session, url, text, tls) for text in texts]
        async with async_client(url, tls, **options) as client:
            return [await call_async(client, text) for text in texts]

    return asyncio.run(many())


# -- the raw cases, run the same way through every pool ---------------------------


@dataclass(frozen=True)
class RawCase:
    """A misbehaviour on the answer to one request (the one whose text starts with
    ``bad-``); every other request is answered well."""

    name: str
    answer: Responder
    #: What cmclient may do with the misbehaving answer: {"right"}, {"error"} or both.
    expect: frozenset[str]
    #: The defect of issue 12 it is about ("" for the cases that already held).
    defect: str = ""
    tls: bool = True
    #: An error must come from parsing, not from waiting the read timeout out.
    prompt: bool = True
    #: Why cmclient may accept what aiohttp refuses ("" when it may not).
    lenient_ok: str = ""
    follow_ups: int = 2

    def __str__(self) -> str:
        return self.name


@dataclass
class CaseRun:
    first: Outcome
    follow_ups: list[Outcome]
    violations: list[str]

    @property
    def overall(self) -> Outcome:
        """One outcome for the table: ``wrong`` if any call got another's answer or a
        connection with unread bytes was reused; else the misbehaving call's outcome,
        noting a later call that failed."""
        for later in self.follow_ups:
            if later.kind == "wrong":
                return Outcome("wrong", f"a later call {later.detail}")
        if self.violations:
            return Outcome("wrong", "reused a connection with unread bytes")
        failed = [later for later in self.follow_ups if later.kind != "right"]
        if failed:
            note = f"then a later call: {failed[0]}"
            detail = f"{self.first.detail}; {note}" if self.first.detail else note
            return Outcome(self.first.kind, detail)
        return self.first


def case_responder(case: RawCase) -> Responder:
    def respond(request: Request, conn: ServerConnection) -> bool:
        if request.text.startswith("bad-"):
            return case.answer(request, conn)
        return conn.send(ok(request.text))

    return respond


def run_case(case: RawCase, pool: str, tls: Tls | None, **options: Any) -> CaseRun:
    """The case's misbehaving call, then ``follow_ups`` well-answered calls, on one
    client of ``pool``, against a fresh server."""
    texts = [marker("bad"), *(marker("good") for _ in range(case.follow_ups))]
    context = tls.server_context() if tls is not None else None
    with RawServer(case_responder(case), tls=context) as server:
        outcomes = run_calls(pool, server.url, texts, tls, **options)
        violations = server.violations
    return CaseRun(outcomes[0], outcomes[1:], violations)


# -- the registry of outcomes ----------------------------------------------------


@dataclass
class Row:
    case: str
    transport: str
    defect: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)


TABLE: dict[tuple[str, str], Row] = {}
_REFERENCE: dict[tuple[str, str], CaseRun] = {}


def record(case: str, transport: str, pool: str, outcome: Outcome, defect: str = "") -> None:
    row = TABLE.setdefault((case, transport), Row(case, transport, defect))
    row.outcomes[pool] = outcome
    row.defect = row.defect or defect


def reference(case: RawCase, transport: str, tls: Tls | None) -> CaseRun:
    """aiohttp's run of ``case`` over ``transport`` (computed once per session)."""
    key = (case.name, transport)
    if key not in _REFERENCE:
        run = run_case(case, "aiohttp", tls)
        _REFERENCE[key] = run
        record(case.name, transport, "aiohttp", run.overall, case.defect)
    return _REFERENCE[key]


def check_case(case: RawCase, pool: str, transport: str, tls: Tls | None,
               **options: Any) -> None:
    """Run ``case`` through ``pool`` and aiohttp; assert cmclient's rules (the right
    answer or a typed error, never another's answer, no reuse of a connection with
    unread bytes, the misbehaving call's outcome among ``case.expect``) and that it is
    never more lenient than aiohttp."""
    ours = run_case(case, pool, tls, **options)
    record(case.name, transport, pool, ours.overall, case.defect)
    theirs = reference(case, transport, tls)
    problems = []
    if ours.first.kind not in case.expect:
        problems.append(f"the misbehaving call: {ours.first}, expected {sorted(case.expect)}")
    if case.prompt and ours.first.kind == "error" and "Timeout" in ours.first.detail:
        problems.append(f"the misbehaving call waited for a timeout ({ours.first.detail}) "
                        "instead of rejecting the response")
    for index, later in enumerate(ours.follow_ups, 1):
        if later.kind != "right":
            problems.append(f"well-answered call {index}: {later}")
    problems += ours.violations
    if theirs.first.kind == "error" and ours.first.kind == "right" and not case.lenient_ok:
        problems.append(f"more lenient than aiohttp, which refused it ({theirs.first})")
    assert not problems, f"{case.name} [{pool}/{transport}]: " + "; ".join(problems)


def tls_for(transport: str, material: Tls) -> Tls | None:
    return material if transport == "tls" else None


def transports(tls_cases: bool = True) -> list[str]:
    return list(TRANSPORTS) if tls_cases else ["tcp"]


def case_params(cases: Iterable[RawCase]) -> list[Any]:
    """pytest params: every case x pool x transport (TLS only where it makes sense)."""
    return [pytest.param(case, pool, transport, id=f"{case.name}-{pool}-{transport}")
            for case in cases for transport in transports(case.tls) for pool in POOLS]


# -- descriptors ------------------------------------------------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def client_sockets(port: int) -> int:
    """How many of this process's descriptors are TCP sockets connected to ``port`` on
    loopback (the client's side of its connections to a server on that port; the
    server's own sockets have it as their local port, not the remote one)."""
    inodes = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port:
                inodes.add(fields[9])
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            count += 1
    return count


needs_proc_fd = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc/self/fd (Linux)"
)
needs_fork = pytest.mark.skipif(
    not hasattr(os, "fork") or sys.platform == "darwin", reason="needs os.fork()"
)

