"""S3's REST/XML protocol for five object operations, sans I/O.

Each builder (``put_object``, ``get_object``, ``head_object``, ``delete_object``,
``list_objects_v2``) checks its arguments and returns an ``S3Call``: method, URL,
headers and body, ready to be signed by ``sign`` and sent by a driver, which hands the
response back to ``S3Call.parse`` for a typed result or the matching ``ServiceError``.
``ListCursor`` follows ListObjectsV2's continuation tokens across pages. Nothing here
sends, sleeps or reads a clock; the sync and async drivers run exactly this code.

S3's signing rules differ from the other services' in two ways, both handled here:

* The canonical URI is the path exactly as sent, each key byte percent-encoded once
  (RFC 3986 unreserved characters and ``/`` stay); it is never normalised or encoded a
  second time. ``cmclient.sigv4.canonical_request`` builds everything else (the
  canonical query, headers and Host, with its port) and this module puts S3's path in
  place of the one it would have computed.
* Every request carries ``x-amz-content-sha256``, the hex SHA-256 of its body, signed.

A key with a ``.`` or ``..`` path segment is refused before anything is sent: HTTP
clients (httpx among them) resolve such segments away, so the object named could not
be the object reached.

Errors: S3 answers with an XML ``<Error>`` holding ``Code`` and ``Message``; the
request id is the ``x-amz-request-id`` header (else the body's ``RequestId``). A
response without a parsable error body (a HEAD request's, a proxy's HTML page) is
named after its status, as botocore names it, except HEAD's 404, which becomes
``NoSuchKey`` so that a missing object is one exception for every operation.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import quote, unquote_plus, urlsplit

import httpx

from cmclient import sigv4
from cmclient._protocol.jobs import PageCursor
from cmclient._protocol.s3_endpoint import S3Endpoint
from cmclient.credentials import Credentials
from cmclient.errors import (
    ParamValidationError,
    ResponseParseError,
    ServiceError,
    error_class_for,
)

__all__ = [
    "EMPTY_SHA256",
    "MAX_KEYS",
    "SIGNING_NAME",
    "ListCursor",
    "ListPage",
    "ObjectHead",
    "ObjectSummary",
    "PutObjectResult",
    "S3Call",
    "S3Object",
    "delete_object",
    "get_object",
    "head_object",
    "list_objects_v2",
    "put_object",
    "s3_error",
    "sign",
]

T = TypeVar("T")

SIGNING_NAME = "s3"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
#: ListObjectsV2's page size limit (and its default).
MAX_KEYS = 1000
MAX_KEY_BYTES = 1024
#: Extra members of S3's <Error> copied into ``err.response["Error"]`` as botocore does;
#: never StringToSign, CanonicalRequest or SignatureProvided, which S3 echoes back.
_ERROR_FIELDS = ("BucketName", "Key", "Region", "Endpoint", "Bucket")


# --- results ----------------------------------------------------------------------

class PutObjectResult(NamedTuple):
    etag: str | None
    version_id: str | None


class ObjectHead(NamedTuple):
    """An object's metadata, from HeadObject or GetObject's headers."""

    content_length: int | None
    content_type: str | None
    etag: str | None
    last_modified: datetime | None


class S3Object(NamedTuple):
    """GetObject's result: the whole body and the object's metadata."""

    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: datetime | None


class ObjectSummary(NamedTuple):
    """One ``<Contents>`` entry of a listing."""

    key: str
    size: int
    etag: str | None
    last_modified: datetime | None
    storage_class: str | None


class ListPage(NamedTuple):
    """One ListObjectsV2 page: objects, common prefixes (with a delimiter), and the
    token for the next page when ``is_truncated``."""

    objects: tuple[ObjectSummary, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_continuation_token: str | None
    key_count: int


# --- the call -----------------------------------------------------------------------

class S3Call(Generic[T]):
    """One request, built and checked: everything but the signature. ``path`` is the
    URL's path as sent, which is also the canonical URI S3 signs."""

    __slots__ = ("body", "headers", "method", "operation", "origin", "parser", "path",
                 "query", "url")

    def __init__(
        self,
        operation: str,
        method: str,
        origin: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        parser: Callable[[int, Mapping[str, str], bytes], T],
    ) -> None:
        self.operation = operation
        self.method = method
        self.origin = origin
        self.path = path
        self.query = query
        self.url = f"{origin}{path}" + (f"?{query}" if query else "")
        self.headers = headers
        self.body = body
        self.parser = parser

    def parse(
        self, status: int, headers: Mapping[str, str], body: bytes, *, retry_attempts: int = 0
    ) -> T:
        """The typed result of a success, or raise the error S3 answered with.
        ``headers`` must look names up case-insensitively (``httpx.Headers`` does)."""
        if status >= 300 or status < 200:
            raise s3_error(self.operation, self.method, status, headers, body,
                           retry_attempts=retry_attempts)
        return self.parser(status, headers, body)


def sign(
    call: S3Call[Any], credentials: Credentials, *, region: str, timestamp: datetime
) -> dict[str, str]:
    """The headers to send: the call's own, and X-Amz-Date, Authorization and (with a
    session token) X-Amz-Security-Token, signed with SigV4 for service ``s3``."""
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    amz_date = timestamp.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    token = credentials.session_token
    extra = [("x-amz-date", amz_date)]
    if token:
        extra.append(("x-amz-security-token", token))
    # The path given to sigv4 is "/", then replaced by S3's canonical URI (see the
    # module docstring); the rest is sigv4's: query, headers, Host and payload hash.
    signing_url = f"{call.origin}/" + (f"?{call.query}" if call.query else "")
    creq, signed = sigv4.canonical_request(call.method, signing_url, call.headers, call.body,
                                           extra)
    method, _root, rest = creq.split("\n", 2)
    creq = f"{method}\n{call.path}\n{rest}"
    headers = dict(call.headers)
    headers["X-Amz-Date"] = amz_date
    headers["Authorization"] = sigv4.authorization(
        creq, signed, amz_date, credentials, region, SIGNING_NAME
    )
    if token:
        headers["X-Amz-Security-Token"] = token
    return headers


# --- builders -------------------------------------------------------------------------

def put_object(
    endpoint: S3Endpoint, bucket: str, key: str, body: bytes, *, content_type: str | None = None
) -> S3Call[PutObjectResult]:
    """PutObject: store ``body`` (bytes) under ``key``."""
    _check(endpoint, "PutObject", bucket, key)
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise ParamValidationError("PutObject", [("Body", "must be bytes")])
    data = bytes(body)
    headers = {
        "Content-Type": content_type or "application/octet-stream",
        "x-amz-content-sha256": hashlib.sha256(data).hexdigest(),
    }
    return _call(endpoint, "PutObject", "PUT", bucket, key, "", headers, data, _parse_put)


def get_object(endpoint: S3Endpoint, bucket: str, key: str) -> S3Call[S3Object]:
    """GetObject: the whole object."""
    _check(endpoint, "GetObject", bucket, key)
    return _call(endpoint, "GetObject", "GET", bucket, key, "", _empty_headers(), b"",
                 _parse_get)


def head_object(endpoint: S3Endpoint, bucket: str, key: str) -> S3Call[ObjectHead]:
    """HeadObject: the object's metadata, no body."""
    _check(endpoint, "HeadObject", bucket, key)
    return _call(endpoint, "HeadObject", "HEAD", bucket, key, "", _empty_headers(), b"",
                 _parse_head)


def delete_object(endpoint: S3Endpoint, bucket: str, key: str) -> S3Call[None]:
    """DeleteObject. S3 answers 204 whether or not the key existed."""
    _check(endpoint, "DeleteObject", bucket, key)
    return _call(endpoint, "DeleteObject", "DELETE", bucket, key, "", _empty_headers(), b"",
                 _parse_delete)


def list_objects_v2(
    endpoint: S3Endpoint,
    bucket: str,
    *,
    prefix: str | None = None,
    continuation_token: str | None = None,
    start_after: str | None = None,
    max_keys: int | None = None,
    delimiter: str | None = None,
) -> S3Call[ListPage]:
    """ListObjectsV2, one page. Keys come back URL-encoded (``encoding-type=url``, as
    botocore asks) and are decoded here, so a key with characters XML 1.0 cannot carry
    still lists."""
    _check(endpoint, "ListObjectsV2", bucket, None)
    if max_keys is not None and not (isinstance(max_keys, int) and 1 <= max_keys <= MAX_KEYS):
        raise ParamValidationError(
            "ListObjectsV2", [("MaxKeys", f"must be a whole number from 1 to {MAX_KEYS}")])
    params = [("list-type", "2"), ("encoding-type", "url")]
    for name, value in (("prefix", prefix), ("continuation-token", continuation_token),
                        ("start-after", start_after), ("delimiter", delimiter),
                        ("max-keys", None if max_keys is None else str(max_keys))):
        if value:
            params.append((name, value))
    query = "&".join(f"{name}={quote(value, safe='-_.~')}" for name, value in params)
    return _call(endpoint, "ListObjectsV2", "GET", bucket, None, query, _empty_headers(), b"",
                 _parse_list)


class ListCursor:
    """Walks every page of one listing: ``next_call`` gives the request for the next
    page (None when the listing is complete), ``feed`` takes each page's result. A
    repeated continuation token raises ``PaginationError`` instead of looping for ever,
    and a truncated page without a token ``ResponseParseError``."""

    def __init__(
        self,
        endpoint: S3Endpoint,
        bucket: str,
        *,
        prefix: str | None = None,
        start_after: str | None = None,
        delimiter: str | None = None,
        page_size: int | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._bucket = bucket
        self._prefix = prefix
        self._start_after = start_after
        self._delimiter = delimiter
        self._page_size = page_size
        self._cursor = PageCursor("ListObjectsV2")
        self._token: str | None = None
        self._done = False
        self.pages = 0

    def next_call(self) -> S3Call[ListPage] | None:
        if self._done:
            return None
        return list_objects_v2(
            self._endpoint, self._bucket, prefix=self._prefix,
            continuation_token=self._token,
            # StartAfter only matters on the first page; the token carries it after.
            start_after=self._start_after if self._token is None else None,
            max_keys=self._page_size, delimiter=self._delimiter,
        )

    def feed(self, page: ListPage) -> None:
        self.pages += 1
        if not page.is_truncated:
            self._done = True
            return
        if not page.next_continuation_token:
            raise ResponseParseError(
                "a truncated page has no NextContinuationToken",
                operation_name="ListObjectsV2", status_code=200, request_id=None,
            )
        self._token = self._cursor.next_token(page.next_continuation_token)


# --- URLs -------------------------------------------------------------------------------

def _check(endpoint: S3Endpoint, operation: str, bucket: str, key: str | None) -> None:
    problems: list[tuple[str, str]] = []
    if not isinstance(bucket, str) or not bucket or "/" in bucket or len(bucket) > 255:
        problems.append(("Bucket", "must be a bucket name (no '/', 1 to 255 characters)"))
    if key is not None:
        if not isinstance(key, str) or not key:
            problems.append(("Key", "must be a non-empty string"))
        else:
            if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
                problems.append(("Key", f"must be at most {MAX_KEY_BYTES} bytes in UTF-8"))
            if any(segment in (".", "..") for segment in key.split("/")):
                problems.append(("Key", "must not have '.' or '..' path segments"))
    if problems:
        raise ParamValidationError(operation, problems)


def _call(
    endpoint: S3Endpoint,
    operation: str,
    method: str,
    bucket: str,
    key: str | None,
    query: str,
    headers: dict[str, str],
    body: bytes,
    parser: Callable[[int, Mapping[str, str], bytes], T],
) -> S3Call[T]:
    origin, path = _locate(endpoint, bucket, key)
    return S3Call(operation, method, origin, path, query, headers, body, parser)


def _locate(endpoint: S3Endpoint, bucket: str, key: str | None) -> tuple[str, str]:
    """The URL's origin (scheme://host[:port]) and path for an object or a bucket."""
    parts = urlsplit(endpoint.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    encoded_key = "" if key is None else quote(key, safe="/~")
    if endpoint.use_path_style(bucket):
        path = f"{parts.path.rstrip('/')}/{quote(bucket, safe='')}"
        return origin, (f"{path}/{encoded_key}" if key is not None else path)
    return f"{parts.scheme}://{bucket}.{parts.netloc}", f"/{encoded_key}"


def _empty_headers() -> dict[str, str]:
    return {"x-amz-content-sha256": EMPTY_SHA256}


# --- parsers -------------------------------------------------------------------------------

def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _iso_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _head(headers: Mapping[str, str]) -> ObjectHead:
    return ObjectHead(
        content_length=_int(headers.get("content-length")),
        content_type=headers.get("content-type"),
        etag=headers.get("etag"),
        last_modified=_http_date(headers.get("last-modified")),
    )


def _parse_put(status: int, headers: Mapping[str, str], body: bytes) -> PutObjectResult:
    return PutObjectResult(etag=headers.get("etag"), version_id=headers.get("x-amz-version-id"))


def _parse_get(status: int, headers: Mapping[str, str], body: bytes) -> S3Object:
    head = _head(headers)
    return S3Object(body=body, content_type=head.content_type, etag=head.etag,
                    last_modified=head.last_modified)


def _parse_head(status: int, headers: Mapping[str, str], body: bytes) -> ObjectHead:
    return _head(headers)


def _parse_delete(status: int, headers: Mapping[str, str], body: bytes) -> None:
    return None


def _local(tag: str) -> str:
    """An element's name without its XML namespace (S3 uses one, moto may not)."""
    return tag.rsplit("}", 1)[-1]


def _children(element: ElementTree.Element) -> dict[str, str]:
    """The text of each leaf child, by local name (the last wins)."""
    return {_local(child.tag): child.text or "" for child in element if len(child) == 0}


def _parse_list(status: int, headers: Mapping[str, str], body: bytes) -> ListPage:
    request_id = headers.get("x-amz-request-id")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise ResponseParseError(f"the listing is not XML ({exc.code})",
                                 operation_name="ListObjectsV2", status_code=status,
                                 request_id=request_id) from None
    if _local(root.tag) != "ListBucketResult":
        raise ResponseParseError(f"expected ListBucketResult, got {_local(root.tag)}",
                                 operation_name="ListObjectsV2", status_code=status,
                                 request_id=request_id)
    top = _children(root)
    decode: Callable[[str], str] = unquote_plus if top.get("EncodingType") == "url" else str
    objects: list[ObjectSummary] = []
    prefixes: list[str] = []
    for element in root:
        name = _local(element.tag)
        if name == "Contents":
            fields = _children(element)
            if "Key" not in fields:
                raise ResponseParseError("a Contents entry has no Key",
                                         operation_name="ListObjectsV2", status_code=status,
                                         request_id=request_id)
            objects.append(ObjectSummary(
                key=decode(fields["Key"]),
                size=_int(fields.get("Size")) or 0,
                etag=fields.get("ETag"),
                last_modified=_iso_date(fields.get("LastModified")),
                storage_class=fields.get("StorageClass"),
            ))
        elif name == "CommonPrefixes":
            prefix = _children(element).get("Prefix")
            if prefix is not None:
                prefixes.append(decode(prefix))
    truncated = top.get("IsTruncated", "false").strip().lower() == "true"
    count = _int(top.get("KeyCount"))
    return ListPage(
        objects=tuple(objects),
        common_prefixes=tuple(prefixes),
        is_truncated=truncated,
        next_continuation_token=top.get("NextContinuationToken") or None,
        key_count=count if count is not None else len(objects) + len(prefixes),
    )


def s3_error(
    operation: str,
    method: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    retry_attempts: int = 0,
) -> ServiceError:
    """The exception for an S3 error response, whatever its body: S3's XML ``<Error>``,
    nothing at all (HEAD), or a proxy's page. Only Code, Message and a few naming
    members are read from the body; nothing S3 echoes of the request's signature is
    kept."""
    fields: dict[str, str] = {}
    if body.strip():
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            root = None
        if root is not None and _local(root.tag) == "Error":
            fields = _children(root)
    code = fields.get("Code") or None
    message = fields.get("Message", "")
    if code is None:
        if method == "HEAD" and status == 404:
            code, message = "NoSuchKey", "Not Found"
        else:
            code = str(status)
            message = message or httpx.codes.get_reason_phrase(status)
    region = headers.get("x-amz-bucket-region") or fields.get("Region")
    if status == 301 and region:
        message = f"{message} (the bucket is in {region})".lstrip()
    request_id = headers.get("x-amz-request-id") or fields.get("RequestId") or None
    error = error_class_for(code)(
        code=code,
        message=message,
        status_code=status,
        request_id=request_id,
        operation_name=operation,
        headers=dict(headers.items()),
        retry_attempts=retry_attempts,
    )
    error.response["Error"].update({k: fields[k] for k in _ERROR_FIELDS if fields.get(k)})
    host_id = headers.get("x-amz-id-2") or fields.get("HostId")
    if host_id:
        error.response["ResponseMetadata"]["HostId"] = host_id
    return error
