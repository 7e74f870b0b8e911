"""What goes out, and where: header values that would split a request (defect 5),
redirects (defect 9), the server's message in ``str(err)`` (defect 12), and whose
certificates a client trusts (defect 8); through both clients.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import cmclient
from cmclient import AsyncComprehendMedical, ComprehendMedical, Credentials, errors
from tests.helpers.rawserver import RawServer, Request, Responder, ServerConnection, response
from tests.http.adversarial._harness import (
    POOLS,
    Outcome,
    Tls,
    aiohttp_session,
    call_aiohttp,
    call_async,
    call_sync,
    client_options,
    exception_outcome,
    marker,
    record,
)

JSON = ("Content-Type", "application/x-amz-json-1.1")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _texts(exc: BaseException) -> str:
    """Everything an exception (and every exception chained to it) shows."""
    return "\n".join(f"{e!s}\n{e!r}\n{e.args!r}" for e in _chain(exc))


def _call(pool: str, options: dict[str, Any], text: str) -> Outcome:
    if pool == "sync":
        with ComprehendMedical(**options) as client:
            return call_sync(client, text)

    async def call() -> Outcome:
        async with AsyncComprehendMedical(**options) as client:
            return await call_async(client, text)

    result: Outcome = asyncio.run(call())
    return result


# -- defect 5: CR, LF and NUL in header values ------------------------------------------

SECRET = f"SECRET{uuid.uuid4().hex}"
BAD_CREDENTIALS = {
    "session token ending in LF": Credentials("AKIDRAW", "secret", f"{SECRET}\n"),
    "session token ending in CR": Credentials("AKIDRAW", "secret", f"{SECRET}\r"),
    "session token with NUL": Credentials("AKIDRAW", "secret", f"{SECRET}\x00x"),
    "session token injecting a header": Credentials(
        "AKIDRAW", "secret", f"{SECRET}\r\nX-Injected: 1"),
    "access key id ending in LF": Credentials(f"AKID{SECRET}\n", "secret"),
}


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("which", list(BAD_CREDENTIALS))
def test_a_header_value_with_cr_lf_or_nul_fails_before_any_io_without_quoting_it(
    which: str, pool: str
) -> None:
    with RawServer() as server:
        options = client_options(server.url, None, {"max_attempts": 3,
                                                    "credentials": BAD_CREDENTIALS[which]})
        outcome = _call(pool, options, marker("bad"))
        # A well-formed call afterwards: had the bad one connected, the server would
        # have accepted that connection first.
        good = _call(pool, client_options(server.url, None, {}), marker("good"))
        accepted, requests = server.accepted, server.requests
    assert good.kind == "right", good
    assert isinstance(outcome.exc, (errors.ConfigurationError, errors.ParamValidationError)), (
        outcome)
    assert accepted == 1 and len(requests) == 1, "the bad call reached the server"
    assert SECRET not in _texts(outcome.exc), "the error quotes the header value"


# -- defect 9: redirects are never followed ------------------------------------------------


def redirect_to(status: int, location: str) -> Responder:
    def respond(request: Request, conn: ServerConnection) -> bool:
        return conn.send(response(status, b"", [("Location", location), JSON]))

    return respond


@pytest.mark.parametrize("caller_client", [False, True], ids=["own-pool", "follow_redirects-client"])
@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_service_error_and_the_other_origin_gets_nothing(
    status: int, pool: str, caller_client: bool
) -> None:
    with RawServer() as elsewhere, RawServer(redirect_to(status, elsewhere.url + "/")) as server:
        text = marker("redirected")
        options = client_options(server.url, None, {})
        if pool == "sync":
            http_client: Any = httpx.Client(follow_redirects=True) if caller_client else None
            try:
                with ComprehendMedical(**options, http_client=http_client) as client:
                    outcome = call_sync(client, text)
            finally:
                if http_client is not None:
                    http_client.close()
        else:

            async def call() -> Outcome:
                http_client = httpx.AsyncClient(follow_redirects=True) if caller_client else None
                try:
                    async with AsyncComprehendMedical(**options, http_client=http_client) as c:
                        return await call_async(c, text)
                finally:
                    if http_client is not None:
                        await http_client.aclose()

            outcome = asyncio.run(call())
        leaked = elsewhere.requests
        theirs = _aiohttp_redirect(server.url, elsewhere, marker("reference"))
    name = f"{status} redirect to another origin"
    record(name, "tcp", pool, outcome, "9")
    record(name, "tcp", "aiohttp", theirs, "9")
    assert not leaked, "the request (token, date, clinical text) went to the other origin"
    assert isinstance(outcome.exc, errors.ServiceError), outcome
    assert outcome.exc.status_code == status


def _aiohttp_redirect(url: str, elsewhere: RawServer, text: str) -> Outcome:
    async def call() -> Outcome:
        async with aiohttp_session() as session:
            return await call_aiohttp(session, url, text, None)

    outcome: Outcome = asyncio.run(call())
    followed = [r for r in elsewhere.requests if r.text in (text, "")]
    if followed:
        how = "" if followed[0].method == "POST" else f" as a {followed[0].method}"
        return Outcome(outcome.kind, f"followed it to the other origin{how}")
    return outcome


# -- defect 12: the server's message, capped in str(err) -------------------------------------


@pytest.mark.parametrize("pool", POOLS)
def test_str_of_a_service_error_caps_the_servers_message(pool: str) -> None:
    tail = marker("echoed-clinical-text")
    message = "Value at 'text' failed to satisfy constraint: " + "x" * 5000 + tail

    def respond(request: Request, conn: ServerConnection) -> bool:
        body = json.dumps({"__type": "com.amazonaws.comprehendmedical#ValidationException",
                           "message": message}).encode()
        return conn.send(response(400, body, [JSON, ("x-amzn-RequestId", "req-capped")]))

    with RawServer(respond) as server:
        outcome = _call(pool, client_options(server.url, None, {}), marker("bad"))
    exc = outcome.exc
    assert isinstance(exc, errors.ServiceError), outcome
    shown = str(exc)
    assert tail not in shown and "x" * 201 not in shown, f"{len(shown)} characters shown"
    assert "ValidationException" in shown
    assert (exc.code, exc.status_code, exc.request_id) == ("ValidationException", 400,
                                                          "req-capped")
    assert exc.response["Error"]["Message"] == message


# -- defect 8: which certificates a client trusts ---------------------------------------------


def _tls_call(pool: str, tls: Tls, **options: Any) -> Outcome:
    with RawServer(tls=tls.server_context()) as server:
        merged = client_options(server.url, None, options)
        return _call(pool, merged, marker("tls"))


@pytest.mark.parametrize("pool", POOLS)
def test_verify_takes_a_bundle_path_a_context_or_false(pool: str, tls_material: Tls) -> None:
    assert _tls_call(pool, tls_material, verify=str(tls_material.ca)).kind == "right"
    assert _tls_call(pool, tls_material, verify=tls_material.client_context()).kind == "right"
    assert _tls_call(pool, tls_material, verify=False).kind == "right"


@pytest.mark.parametrize("pool", POOLS)
def test_an_untrusted_certificate_is_refused_by_default(pool: str, tls_material: Tls) -> None:
    outcome = _tls_call(pool, tls_material)
    assert isinstance(outcome.exc, errors.EndpointConnectionError), outcome
    context = ssl.create_default_context()  # trusts the system's CAs, not the test CA
    outcome = _tls_call(pool, tls_material, verify=context)
    assert isinstance(outcome.exc, errors.EndpointConnectionError), outcome


@pytest.mark.parametrize("pool", POOLS)
def test_aws_ca_bundle_is_honoured(
    pool: str, tls_material: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tls_material.ca))
    assert _tls_call(pool, tls_material).kind == "right"


@pytest.mark.parametrize("pool", POOLS)
def test_the_profiles_ca_bundle_is_honoured(
    pool: str, tls_material: Tls, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text(f"[default]\nca_bundle = {tls_material.ca}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert _tls_call(pool, tls_material).kind == "right"


def test_a_typed_error_is_never_a_bare_exception() -> None:
    """The classification the suite relies on: only cmclient's tree counts as typed."""
    assert exception_outcome(errors.ConnectionClosedError("x")).kind == "error"
    assert exception_outcome(RuntimeError("x")).kind == "untyped"
    assert issubclass(errors.HTTPClientError, cmclient.ComprehendMedicalError)
