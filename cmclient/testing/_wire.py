"""The two wire protocols the mock speaks, as pure functions over bytes.

* awsJson1_1: ``POST /`` with ``X-Amz-Target: ComprehendMedical_20181030.<Op>`` and
  ``application/x-amz-json-1.1`` bodies; timestamps are epoch seconds.
* rpcv2Cbor: ``POST /service/ComprehendMedical_20181030/operation/<Op>`` with
  ``smithy-protocol: rpc-v2-cbor`` and ``application/cbor`` bodies; timestamps are
  CBOR tag 1 (epoch seconds). cbor2 is imported on first CBOR request only.

Errors carry ``__type`` as a shape id with its namespace, as AWS's Coral front end
sends it (``com.amazonaws.comprehendmedical#ResourceNotFoundException`` for the
service's modeled errors, ``com.amazon.coral.service#...`` for the authentication and
routing errors the front end raises itself), plus ``message``; JSON errors also carry
the ``X-Amzn-ErrorType`` header. Clients keep what follows the last ``#`` (Smithy's
rule), so both the short and the namespaced forms are understood by every SDK.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from cmclient._generated.operations import TARGET_PREFIX

JSON = "json"
CBOR = "cbor"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
CBOR_CONTENT_TYPE = "application/cbor"
CBOR_PATH_PREFIX = f"/service/{TARGET_PREFIX}/operation/"

SERVICE_NAMESPACE = "com.amazonaws.comprehendmedical"
FRONT_END_NAMESPACE = "com.amazon.coral.service"
VALIDATION_NAMESPACE = "com.amazon.coral.validate"


_TOO_DEEP = "The request body is nested too deeply."


class DecodeError(Exception):
    """The body could not be read. ``encoding`` is True when the cause is invalid UTF-8."""

    def __init__(self, message: str, *, encoding: bool = False) -> None:
        super().__init__(message)
        self.encoding = encoding


def is_service_request(path: str, headers: dict[str, str], method: str | None = None) -> bool:
    """Whether a request is addressed to Comprehend Medical at all: it names an
    operation the awsJson1_1 way (``X-Amz-Target``) or the rpcv2Cbor way (the
    ``smithy-protocol`` header or the operation path), or it is a POST (``method``) to
    the root or with either protocol's content type, which S3 never is. Anything else
    (an S3 call, a health check) may go to another handler. ``headers`` has lower-case
    names."""
    bare = path.split("?", 1)[0]
    if "x-amz-target" in headers or "smithy-protocol" in headers or CBOR_PATH_PREFIX in bare:
        return True
    if method is None or method.upper() != "POST":
        return False
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return bare in ("", "/") or content_type in (JSON_CONTENT_TYPE, CBOR_CONTENT_TYPE)


def route(path: str, headers: dict[str, str]) -> tuple[str, str | None]:
    """Return (protocol, operation name or None) for a request."""
    bare = path.split("?", 1)[0]
    marker = bare.find(CBOR_PATH_PREFIX)
    if marker >= 0 or headers.get("smithy-protocol"):
        operation = bare[marker + len(CBOR_PATH_PREFIX):] if marker >= 0 else ""
        if headers.get("smithy-protocol", "").lower() != "rpc-v2-cbor":
            return CBOR, None
        return CBOR, operation or None
    target = headers.get("x-amz-target", "")
    prefix, _, operation = target.partition(".")
    if prefix != TARGET_PREFIX or not operation:
        return JSON, None
    return JSON, operation


def _has_surrogates(document: Any) -> bool:
    # A loop, not recursion: the document's depth is the sender's choice.
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def decode(protocol: str, body: bytes) -> dict[str, Any]:
    """The request document, or ``DecodeError`` for any body that cannot be read:
    ``encoding=True`` when text is not valid UTF-8 (raw bytes, or lone surrogates
    escaped in JSON). The body is the sender's choice, so nothing it holds may raise
    anything else: a document nested deeper than the decoder goes (``RecursionError``)
    is an unreadable body like any other."""
    if not body.strip():
        return {}
    if protocol == JSON:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("The request body is not valid UTF-8.", encoding=True) from None
        try:
            document = json.loads(text)
        except ValueError:
            raise DecodeError("The request body is not valid JSON.") from None
        except RecursionError:
            raise DecodeError(_TOO_DEEP) from None
    else:
        import cbor2

        try:
            document = cbor2.loads(body)
        except cbor2.CBORDecodeError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, UnicodeDecodeError):
                raise DecodeError("A text string is not valid UTF-8.", encoding=True) from None
            raise DecodeError("The request body is not valid CBOR.") from None
        except RecursionError:
            raise DecodeError(_TOO_DEEP) from None
        except Exception:  # cbor2 raises more than CBORDecodeError on hostile input
            raise DecodeError("The request body is not valid CBOR.") from None
    if not isinstance(document, dict):
        raise DecodeError("The request body must be an object.")
    if _has_surrogates(document):
        raise DecodeError("A text string is not valid UTF-8.", encoding=True)
    return document


def _epoch(value: datetime) -> int | float:
    seconds = value.astimezone(timezone.utc).timestamp()
    return int(seconds) if seconds.is_integer() else round(seconds, 3)


def _json_default(value: Any) -> Any:
    # json calls this only for what it cannot write itself, so a document of hundreds
    # of entities is not walked a second time just to find its few datetimes.
    if isinstance(value, datetime):
        return _epoch(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _for_cbor(value: Any, tag: Any) -> Any:
    if isinstance(value, datetime):
        return tag(1, _epoch(value))
    if isinstance(value, dict):
        return {k: _for_cbor(v, tag) for k, v in value.items()}
    if isinstance(value, list):
        return [_for_cbor(v, tag) for v in value]
    return value


def encode(protocol: str, document: dict[str, Any]) -> tuple[bytes, list[tuple[str, str]]]:
    """The response body and its protocol headers. Datetimes become epoch seconds in
    JSON and tag-1 epoch seconds in CBOR."""
    if protocol == JSON:
        body = json.dumps(document, separators=(",", ":"), default=_json_default).encode()
        return body, [("Content-Type", JSON_CONTENT_TYPE)]
    import cbor2

    body = cbor2.dumps(_for_cbor(document, cbor2.CBORTag))
    return body, [("Content-Type", CBOR_CONTENT_TYPE), ("smithy-protocol", "rpc-v2-cbor")]


def encode_error(
    protocol: str, namespace: str, code: str, message: str
) -> tuple[bytes, list[tuple[str, str]]]:
    body, headers = encode(protocol, {"__type": f"{namespace}#{code}", "message": message})
    if protocol == JSON:
        headers.append(("X-Amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/{namespace}/"))
    return body, headers
