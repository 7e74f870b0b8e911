"""awsJson1_1, sans I/O: turn parameters into a request body and a response into a model
or an exception. Nothing here sends, sleeps or reads a clock, so the sync client, the
async client and the tests drive exactly the same code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from cmclient._generated.operations import TARGET_PREFIX
from cmclient._protocol.operation import Operation, OutputT
from cmclient.errors import ParamValidationError, ResponseParseError, ServiceError, error_class_for
from cmclient.models._base import RESPONSE_CONTEXT

CONTENT_TYPE = "application/x-amz-json-1.1"


def request_headers(operation: Operation[Any, Any]) -> dict[str, str]:
    """The protocol headers every request of this operation carries (all of them signed)."""
    return {"Content-Type": CONTENT_TYPE, "X-Amz-Target": f"{TARGET_PREFIX}.{operation.name}"}


def serialize(operation: Operation[Any, Any], params: Mapping[str, Any]) -> bytes:
    """Validate ``params`` against the operation's input model and return the JSON body.

    Raises ``ParamValidationError`` naming each parameter and the rule it breaks.
    Members left as ``None`` are not sent (awsJson1_1 never serialises nulls), and
    timestamps go out as epoch seconds.
    """
    model = operation.input_model
    try:
        request = model.model_validate(params)
    except ValidationError as exc:
        raise ParamValidationError(operation.name, _problems(exc, model)) from None
    body: bytes = request.model_dump_json(by_alias=True, exclude_none=True).encode()
    return body


def _problems(exc: ValidationError, model: type[BaseModel]) -> list[tuple[str, str]]:
    """Readable (parameter, rule) pairs; the rejected value itself is never repeated,
    since it may be clinical text."""
    problems = []
    for error in exc.errors(include_url=False, include_context=True):
        path = ".".join(str(part) for part in error["loc"]) or "(parameters)"
        problems.append((_parameter_name(path, model), _rule(error)))
    return problems


def _parameter_name(path: str, model: type[BaseModel]) -> str:
    """Show the snake_case name a caller wrote, with the AWS name beside it."""
    head, _, rest = path.partition(".")
    for name, field in model.model_fields.items():
        if head in (name, field.alias):
            shown = f"{name} ({field.alias})" if field.alias and field.alias != name else name
            return f"{shown}.{rest}" if rest else shown
    return path


def _rule(error: Any) -> str:
    """The broken rule in words. The rejected value is measured but never quoted."""
    ctx = error.get("ctx") or {}
    kind = error["type"]
    value = error.get("input")
    if kind == "string_too_long":
        return f"length {len(value)} is more than the maximum of {ctx['max_length']} characters"
    if kind == "string_too_short":
        return f"length {len(value)} is less than the minimum of {ctx['min_length']} characters"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx['pattern']}"
    if kind == "missing" or value is None:
        return "is required"
    message: str = error["msg"]
    return message.removeprefix("Value error, ")


def error_code(headers: Mapping[str, str], document: Any) -> str | None:
    """Smithy's awsJson1_1 rule: the X-Amzn-ErrorType header, else the body's ``code``,
    else its ``__type``; cut at the first ':' and keep what follows the last '#'."""
    candidates = [headers.get("x-amzn-errortype")]
    if isinstance(document, dict):
        candidates += [document.get("code"), document.get("__type")]
    for raw in candidates:
        if isinstance(raw, str) and raw:
            return raw.split(":", 1)[0].rsplit("#", 1)[-1] or None
    return None


def parse_response(
    operation: Operation[Any, OutputT],
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    retry_attempts: int = 0,
) -> OutputT:
    """Return the output model for a 2xx response; raise the matching error otherwise.

    ``headers`` must look names up case-insensitively (``httpx.Headers`` does).
    """
    request_id = headers.get("x-amzn-requestid")
    if 200 <= status < 300:
        try:
            # An empty 200 body is a response with no members (Smithy's
            # json_1_1_service_responds_with_no_payload).
            return operation.output_model.model_validate_json(
                body if body.strip() else b"{}", context=RESPONSE_CONTEXT
            )
        except ValidationError as exc:
            raise ResponseParseError(
                _describe_parse_failure(exc),
                operation_name=operation.name,
                status_code=status,
                request_id=request_id,
            ) from None
    raise service_error(operation.name, status, headers, body, retry_attempts=retry_attempts)


def _describe_parse_failure(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{exc.error_count()} problem(s), first at {where}: {first['msg']}"


def service_error(
    operation_name: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    retry_attempts: int = 0,
) -> ServiceError:
    """Build the exception for an error response, whatever its body holds: JSON from AWS,
    an HTML page from a proxy, or nothing at all."""
    try:
        document = json.loads(body) if body.strip() else None
    except ValueError:
        document = None
    code = error_code(headers, document)
    message = ""
    if isinstance(document, dict):
        found = document.get("message", document.get("Message"))
        message = found if isinstance(found, str) else ""
    if code is None:
        # No code anywhere: name the error after the status, as botocore does.
        code = str(status)
        message = message or httpx.codes.get_reason_phrase(status)
    return error_class_for(code)(
        code=code,
        message=message,
        status_code=status,
        request_id=headers.get("x-amzn-requestid"),
        operation_name=operation_name,
        headers=dict(headers.items()),
        retry_attempts=retry_attempts,
    )

