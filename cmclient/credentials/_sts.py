"""STS AssumeRole and AssumeRoleWithWebIdentity over the AWS query protocol, as flows.

A form-encoded POST (``Action=...&Version=2011-06-15``) to the regional STS endpoint;
the XML answer is parsed with ``xml.etree``. An ``ErrorResponse`` raises the
``cmclient.errors`` class for its code, with code, message, status and request id.
AssumeRole is signed (SigV4, service ``sts``) with the source credentials;
AssumeRoleWithWebIdentity is not signed: the web identity token is the proof.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from urllib.parse import urlencode

import httpx

from cmclient._http.client import transport_error
from cmclient.credentials._flow import Flow, HttpCall
from cmclient.credentials._time import parse_timestamp
from cmclient.credentials._types import Credentials
from cmclient.errors import ResponseParseError, error_class_for
from cmclient.sigv4 import sign_request

STS_VERSION = "2011-06-15"
STS_TIMEOUT = 10.0
_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(root: ET.Element, *path: str) -> ET.Element | None:
    node: ET.Element | None = root
    for name in path:
        if node is None:
            return None
        node = next((child for child in node if _local(child.tag) == name), None)
    return node


def _text(root: ET.Element, *path: str) -> str | None:
    node = _find(root, *path)
    return node.text.strip() if node is not None and node.text else None


def _raise_for_error(action: str, response: httpx.Response) -> None:
    request_id = response.headers.get("x-amzn-requestid")
    code, message = f"HTTP{response.status_code}", ""
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError:
        root = None
    if root is not None:
        code = _text(root, "Error", "Code") or code
        message = _text(root, "Error", "Message") or ""
        request_id = _text(root, "RequestId") or request_id
    raise error_class_for(code)(
        code=code,
        message=message,
        status_code=response.status_code,
        request_id=request_id,
        operation_name=action,
        headers=dict(response.headers),
    )


def _parse_credentials(action: str, response: httpx.Response) -> Credentials:
    request_id = response.headers.get("x-amzn-requestid")

    def bad(reason: str) -> ResponseParseError:
        return ResponseParseError(
            reason, operation_name=action, status_code=response.status_code,
            request_id=request_id,
        )

    try:
        root = ET.fromstring(response.content)
    except ET.ParseError:
        raise bad("the body is not XML") from None
    node = _find(root, f"{action}Result", "Credentials")
    if node is None:
        raise bad(f"no {action}Result/Credentials element")
    key, secret = _text(node, "AccessKeyId"), _text(node, "SecretAccessKey")
    token, expiration = _text(node, "SessionToken"), _text(node, "Expiration")
    if not (key and secret and token and expiration):
        raise bad("the Credentials element is incomplete")
    try:
        expires = parse_timestamp(expiration)
    except ValueError:
        raise bad("Expiration is not a timestamp") from None
    return Credentials(key, secret, token, expires)


def _call(
    action: str,
    params: Mapping[str, str],
    *,
    endpoint: str,
    region: str,
    source: Credentials | None,
    now: Callable[[], datetime],
) -> Flow[Credentials]:
    url = endpoint.rstrip("/") + "/"
    body = urlencode({"Action": action, "Version": STS_VERSION, **params}).encode()
    headers = {"Content-Type": _CONTENT_TYPE}
    if source is not None:
        headers.update(
            sign_request("POST", url, headers, body, credentials=source, region=region,
                         service="sts", timestamp=now())
        )
    request = httpx.Request("POST", url, headers=headers, content=body)
    try:
        response = yield HttpCall(request, STS_TIMEOUT, trust_env=True)
    except httpx.TransportError as exc:
        raise transport_error(exc, action) from exc
    if response.status_code != 200:
        _raise_for_error(action, response)
    return _parse_credentials(action, response)


def assume_role(
    *,
    source: Credentials,
    role_arn: str,
    session_name: str,
    external_id: str | None,
    duration_seconds: int | None,
    endpoint: str,
    region: str,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> Flow[Credentials]:
    params = {"RoleArn": role_arn, "RoleSessionName": session_name}
    if external_id is not None:
        params["ExternalId"] = external_id
    if duration_seconds is not None:
        params["DurationSeconds"] = str(duration_seconds)
    return _call("AssumeRole", params, endpoint=endpoint, region=region, source=source, now=now)


def assume_role_with_web_identity(
    *,
    token: str,
    role_arn: str,
    session_name: str,
    endpoint: str,
    region: str,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> Flow[Credentials]:
    params = {"RoleArn": role_arn, "RoleSessionName": session_name, "WebIdentityToken": token}
    return _call("AssumeRoleWithWebIdentity", params, endpoint=endpoint, region=region,
                 source=None, now=now)
