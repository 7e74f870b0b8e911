"""The per-client state both drivers share, and the sans-I/O steps of one call.

A driver asks the core to ``prepare`` a call (validate and serialise, once), to
``sign`` each attempt (fresh X-Amz-Date, the same body), and to ``finish`` with the
response (parse or raise). The core never sends, sleeps or reads files; it is handed
the time, and adds to it the clock offset learnt from a clock-skew rejection.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Generic

import httpx

from cmclient._generated.operations import SIGNING_NAME
from cmclient._protocol import awsjson as _protocol
from cmclient._protocol.config import resolve_config, unsupported_region_hint
from cmclient._protocol.operation import Operation, OutputT
from cmclient.credentials import CredentialProvider, Credentials, resolve_provider
from cmclient.errors import ConfigurationError
from cmclient.sigv4 import SigningTemplate

logger = logging.getLogger("cmclient")


class PreparedCall(Generic[OutputT]):
    """A validated, serialised call: everything but the signature, which each attempt
    adds. Every attempt sends ``body`` as is (so a Start*Job call keeps its
    ClientRequestToken) and ``invocation_id`` as ``amz-sdk-invocation-id``.

    A plain class with slots: a dataclass would exec its generated methods at import,
    on every cold start. The drivers only read it.
    """

    __slots__ = ("body", "headers", "invocation_id", "operation", "template", "url")

    def __init__(
        self,
        operation: Operation[Any, OutputT],
        url: httpx.URL,
        headers: Mapping[str, str],
        template: SigningTemplate,
        body: bytes,
        invocation_id: str,
    ) -> None:
        self.operation = operation
        self.url = url
        self.headers = headers
        self.template = template
        self.body = body
        self.invocation_id = invocation_id


class ClientCore:
    """Configuration resolved into plain values, and the pure steps of a call."""

    def __init__(
        self,
        *,
        region: str | None,
        endpoint_url: str | None,
        credentials: Credentials | CredentialProvider | None,
        profile: str | None = None,
        use_fips: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = resolve_config(
            region=region, endpoint_url=endpoint_url, profile=profile, use_fips=use_fips,
            environ=environ,
        )
        self.region = self.config.region
        self.endpoint_url = self.config.endpoint_url
        # The operation is POSTed to the endpoint's own path: "/" for AWS, "/custom/"
        # for an endpoint configured as https://host/custom (Smithy AwsJson11HostWithPath).
        self._http_url = httpx.URL(self.endpoint_url + "/")  # parsed once, not per call
        self.url = str(self._http_url)
        self.credentials = resolve_provider(credentials, config=self.config, environ=environ)
        #: Added to connection errors when the service's own endpoint for a region
        #: that does not host it cannot be reached.
        self.region_hint = None if self.config.endpoint_configured else (
            unsupported_region_hint(self.region))
        #: Seconds to add to the local clock when signing, learnt from the Date header
        #: of a clock-skew rejection and kept for the client's later calls.
        self.clock_offset = 0.0
        #: Per operation, built on its first call: its protocol headers, and the signing
        #: template holding the fixed part of its canonical request.
        self._shapes: dict[str, tuple[Mapping[str, str], SigningTemplate]] = {}

    def prepare(
        self, operation: Operation[Any, OutputT], params: Mapping[str, Any]
    ) -> PreparedCall[OutputT]:
        token = operation.idempotency_token
        if token and params.get(token) is None:
            # Made once per call, before the body is serialised: every retry of this
            # call sends the same token, so the service starts at most one job.
            params = {**params, token: uuid4()}
        body = _protocol.serialize(operation, params)
        shape = self._shapes.get(operation.name)
        if shape is None:
            headers = _protocol.request_headers(operation)
            shape = self._shapes[operation.name] = (
                headers, SigningTemplate("POST", self.url, headers)
            )
        return PreparedCall(operation, self._http_url, shape[0], shape[1], body, uuid4())

    def sign(
        self,
        call: PreparedCall[Any],
        credentials: Credentials,
        now: datetime,
        *,
        attempt: int = 1,
        max_attempts: int = 1,
    ) -> dict[str, str]:
        """The headers of one attempt: the protocol headers, a fresh signature over
        them, then the unsigned SDK headers (``amz-sdk-invocation-id``, one per call,
        and ``amz-sdk-request: attempt=N; max=M``). ``now`` is the local time; the
        learnt clock offset is added here."""
        if self.clock_offset:
            now += timedelta(seconds=self.clock_offset)
        headers = call.template.sign(
            call.body, credentials=credentials, region=self.region, service=SIGNING_NAME,
            timestamp=now,
        )
        headers.update(call.headers)
        headers["amz-sdk-invocation-id"] = call.invocation_id
        headers["amz-sdk-request"] = f"attempt={attempt}; max={max_attempts}"
        for name, value in headers.items():
            if not value.isprintable():  # fast for the usual all-printable values
                _check_header(name, value)
        return headers

    def finish(
        self,
        call: PreparedCall[OutputT],
        response: httpx.Response,
        *,
        attempt: int,
        latency: float,
        body: bytes | None = None,
    ) -> OutputT:
        """Log the attempt and return the parsed result, or raise the service's error.

        ``body`` is the response body when the driver read it itself (streaming, to
        keep to a deadline); by default it is ``response.content``."""
        request_id = response.headers.get("x-amzn-requestid")
        logger.debug(
            "%s status=%s request_id=%s attempt=%d latency_ms=%.1f",
            call.operation.name, response.status_code, request_id, attempt, latency * 1000,
        )
        return _protocol.parse_response(
            call.operation, response.status_code, response.headers,
            response.content if body is None else body,
            retry_attempts=attempt - 1,
        )


def _check_header(name: str, value: str) -> None:
    """Refuse, before any I/O, a header value that would end the header early and
    start another: CR, LF or NUL, from credentials (a session token read from a file
    with its newline, say). The error names the header, never the value."""
    if "\r" in value or "\n" in value or "\0" in value:
        source = {
            "x-amz-security-token": "the credentials' session token",
            "authorization": "the credentials' access key id",
        }.get(name.lower(), "the client's configuration")
        raise ConfigurationError(
            f"The {name} header (from {source}) contains CR, LF or NUL, which no HTTP "
            "header may carry; nothing was sent"
        )


def uuid4() -> str:
    """A random (version 4) UUID in its string form, for invocation ids and tokens.

    ``uuid`` costs nothing at import here: ``from pydantic import BaseModel`` has
    already imported it (and ``platform``).
    """
    return str(uuid.uuid4())
