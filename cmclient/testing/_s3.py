"""The mock's S3: an in-memory object store, a pure request handler, and the writer of
a finished batch job's outputs.

``handle_s3(store, method, path, query, headers, body)`` answers S3's object
operations path-style (``/bucket/key``) as S3 does: PutObject, GetObject, HeadObject,
DeleteObject, ListObjectsV2 (``prefix``, ``delimiter``, ``max-keys`` up to and by
default 1,000, ``continuation-token``, ``start-after``, ``encoding-type=url``), and,
so that boto3 users can set up a test, CreateBucket, HeadBucket and DeleteBucket.
Listings and errors are S3's XML; the request id is ``x-amz-request-id``. With
``verify=True`` it checks SigV4 as S3 does (service ``s3``, the path as sent as the
canonical URI, ``x-amz-content-sha256`` as the payload hash) and answers S3's codes
(``AccessDenied``, ``SignatureDoesNotMatch``, ``InvalidAccessKeyId``,
``AuthorizationHeaderMalformed``, ``RequestTimeTooSkewed``). Bodies sent with
``Content-Encoding: aws-chunked`` (botocore's streaming uploads) are decoded.

``write_job_outputs`` lays out what a batch job leaves in S3 when it ends, from the
inputs ``read_job_inputs`` took when it started and a callable that analyses one
document: a folder ``<account>-<JobType>-<job id>/`` under the output prefix with one
``<input name>.out`` per processed file, the ``Manifest``, and a ``Manifest_...``
folder with the successful (``success/``) and unprocessed (``failed/``) file lists,
plus a ``ComprehendMedicalS3WriteTestFile`` at the output prefix. A file over 40,000
bytes or not UTF-8 is unprocessed, and the job ends PARTIAL_SUCCESS (FAILED when no
file could be processed, or there were none).

Nothing here does I/O or reads a clock it is not given.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote_plus, unquote
from xml.sax.saxutils import escape

from cmclient import sigv4
from cmclient._protocol.batch import (
    MANIFEST_NAME,
    WRITE_TEST_FILE,
    as_folder,
    batch_kind,
    document_problem,
    input_folder,
    s3_uri,
)
from cmclient.credentials import Credentials
from cmclient.testing._exchange import MockRequest, MockResponse

__all__ = [
    "JobOutcome",
    "MockS3",
    "S3Store",
    "StoredObject",
    "handle_s3",
    "read_job_inputs",
    "s3_operation",
    "write_job_outputs",
]

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_KEYS = 1000
MAX_SKEW = timedelta(minutes=15)
DEFAULT_ACCOUNT = "111122223333"

Response = tuple[int, list[tuple[str, str]], bytes]

_STATUS = {
    "NoSuchKey": 404, "NoSuchBucket": 404, "AccessDenied": 403, "InvalidAccessKeyId": 403,
    "SignatureDoesNotMatch": 403, "RequestTimeTooSkewed": 403,
    "AuthorizationHeaderMalformed": 400, "InvalidArgument": 400, "InvalidBucketName": 400,
    "XAmzContentSHA256Mismatch": 400, "BadDigest": 400, "KeyTooLongError": 400,
    "IncompleteBody": 400, "BucketNotEmpty": 409, "BucketAlreadyOwnedByYou": 409,
    "MethodNotAllowed": 405, "NotImplemented": 501, "InternalError": 500, "SlowDown": 503,
}
_MESSAGES = {
    "NoSuchKey": "The specified key does not exist.",
    "NoSuchBucket": "The specified bucket does not exist.",
    "AccessDenied": "Access Denied",
    "InvalidAccessKeyId": "The AWS Access Key Id you provided does not exist in our records.",
    "SignatureDoesNotMatch": "The request signature we calculated does not match the "
                             "signature you provided. Check your key and signing method.",
    "RequestTimeTooSkewed": "The difference between the request time and the current time "
                            "is too large.",
    "XAmzContentSHA256Mismatch": "The provided 'x-amz-content-sha256' header does not match "
                                 "what was computed.",
    "BadDigest": "The Content-MD5 you specified did not match what we received.",
    "BucketNotEmpty": "The bucket you tried to delete is not empty",
    "MethodNotAllowed": "The specified method is not allowed against this resource.",
    "NotImplemented": "A header or query you provided implies functionality that is not "
                      "implemented.",
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
}


# --- the store -----------------------------------------------------------------------

@dataclass(frozen=True)
class StoredObject:
    body: bytes
    content_type: str
    etag: str
    last_modified: float  # epoch seconds

    @classmethod
    def of(cls, body: bytes, content_type: str, now: float) -> StoredObject:
        return cls(body, content_type, f'"{hashlib.md5(body).hexdigest()}"', float(int(now)))


@dataclass
class _Bucket:
    objects: dict[str, StoredObject] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # sorted, for listings
    created: float = 0.0


class S3Store:
    """Buckets of objects in memory, thread-safe. With ``auto_create_buckets`` (the
    default) a PutObject into an unknown bucket creates it, so a test need not;
    without it, as in S3, the bucket must be created first (``create_bucket``, or
    CreateBucket over the wire)."""

    def __init__(
        self, *, auto_create_buckets: bool = True, clock: Callable[[], float] = time.time
    ) -> None:
        self.auto_create_buckets = auto_create_buckets
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.RLock()

    def create_bucket(self, name: str) -> bool:
        """Create ``name``; False when it already existed."""
        with self._lock:
            if name in self._buckets:
                return False
            self._buckets[name] = _Bucket(created=self._clock())
            return True

    def delete_bucket(self, name: str) -> None:
        with self._lock:
            self._buckets.pop(name, None)

    def has_bucket(self, name: str) -> bool:
        with self._lock:
            return name in self._buckets

    def buckets(self) -> list[str]:
        with self._lock:
            return sorted(self._buckets)

    def put(self, bucket: str, key: str, body: bytes,
            content_type: str = "application/octet-stream") -> StoredObject:
        """Store an object (creating the bucket, for the mock's own use and tests)."""
        with self._lock:
            found = self._buckets.get(bucket)
            if found is None:
                found = self._buckets[bucket] = _Bucket(created=self._clock())
            return self._put(found, key, body, content_type)

    def _put(self, bucket: _Bucket, key: str, body: bytes, content_type: str) -> StoredObject:
        stored = StoredObject.of(bytes(body), content_type, self._clock())
        if key not in bucket.objects:
            bisect.insort(bucket.keys, key)
        bucket.objects[key] = stored
        return stored

    def get(self, bucket: str, key: str) -> StoredObject | None:
        with self._lock:
            found = self._buckets.get(bucket)
            return None if found is None else found.objects.get(key)

    def delete(self, bucket: str, key: str) -> None:
        with self._lock:
            found = self._buckets.get(bucket)
            if found is not None and found.objects.pop(key, None) is not None:
                del found.keys[bisect.bisect_left(found.keys, key)]

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """The bucket's keys under ``prefix``, sorted ([] for an unknown bucket)."""
        with self._lock:
            found = self._buckets.get(bucket)
            if found is None:
                return []
            start = bisect.bisect_left(found.keys, prefix)
            out = []
            for key in found.keys[start:]:
                if not key.startswith(prefix):
                    break
                out.append(key)
            return out

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


# --- the mock's S3, as a RequestHandler ------------------------------------------

class MockS3:
    """The mock's S3 as a ``RequestHandler`` (``handle_request(MockRequest) ->
    MockResponse``): ``ComprehendMedicalMock`` has one (``mock.s3``), and it serves any
    of the mock's ways in on its own too. ``credentials`` and ``region`` are the mock's
    own, so one signature rule serves both services; ``verify=False`` accepts unsigned
    requests. ``latency(operation)`` gives the seconds to add to an answer, by S3
    operation name (``GetObject``, ``ListObjectsV2``, ...: ``s3_operation``)."""

    def __init__(
        self,
        store: S3Store | None = None,
        *,
        region: str = "us-east-1",
        credentials: Mapping[str, str] | None = None,
        verify: bool = True,
        latency: Callable[[str], float] | None = None,
    ) -> None:
        self.store = store if store is not None else S3Store()
        self.region = region
        self.credentials = credentials
        self.verify = verify
        self.latency = latency

    def handle_request(self, request: MockRequest) -> MockResponse:
        path, _, query = request.path.partition("?")
        status, headers, body = handle_s3(
            self.store, request.method, path, query, request.lowered_headers(), request.body,
            verify=self.verify, region=self.region, credentials=self.credentials,
        )
        operation = s3_operation(request.method, path, query)
        delay = self.latency(operation) if self.latency is not None else 0.0
        return MockResponse(status, headers, body, delay, operation)


def s3_operation(method: str, path: str, query: str) -> str:
    """The S3 operation a path-style request names (``GetObject``, ``PutObject``,
    ``HeadObject``, ``DeleteObject``, ``ListObjectsV2``, ``CreateBucket``, ...), for
    latency settings and records; ``Unknown`` for anything else."""
    bucket, key = _split_path(path)
    method = method.upper()
    if key:
        return {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject",
                "DELETE": "DeleteObject"}.get(method, "Unknown")
    if not bucket:
        return "ListBuckets" if method == "GET" else "Unknown"
    if method == "GET":
        return "ListObjectsV2" if "list-type=2" in query.split("&") else "ListObjects"
    return {"PUT": "CreateBucket", "HEAD": "HeadBucket",
            "DELETE": "DeleteBucket"}.get(method, "Unknown")


# --- the handler --------------------------------------------------------------------------

class _Fault(Exception):
    def __init__(self, code: str, message: str | None = None, **fields: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message if message is not None else _MESSAGES.get(code, code)
        self.fields = fields


def handle_s3(
    store: S3Store,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    verify: bool = False,
    region: str = "us-east-1",
    credentials: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Response:
    """Answer one path-style S3 request: (status, headers, body).

    ``path`` is the path as sent (percent-encoded, no query); ``query`` the raw query
    string; ``headers`` lower-case names. With ``verify``, the SigV4 signature is
    checked for ``region`` against ``credentials`` ({access key id: secret}; None
    accepts any key with a well-formed, in-scope, current signature) at ``now`` (the
    real time by default). The caller sends the body as given; for HEAD it sends the
    returned headers (which carry the object's Content-Length) and no body.
    """
    request_id = uuid.uuid4().hex[:16].upper()
    base = [
        ("x-amz-request-id", request_id),
        ("x-amz-id-2", base64.b64encode(uuid.uuid4().bytes).decode()),
        ("Date", format_datetime(now or datetime.now(timezone.utc), usegmt=True)),
        ("Server", "AmazonS3"),
    ]
    method = method.upper()
    bucket_name, key = _split_path(path)
    try:
        if verify:
            _verify(method, path, query, headers, body, region=region,
                    credentials=credentials, now=now or datetime.now(timezone.utc))
        body = _decoded_body(headers, body)
        params = dict(parse_qsl(query, keep_blank_values=True))
        status, extra, payload = _dispatch(store, method, bucket_name, key, params, headers, body)
    except _Fault as fault:
        status = _STATUS.get(fault.code, 400)
        if method == "HEAD":
            return status, base, b""
        fields = {"Code": fault.code, "Message": fault.message, **fault.fields}
        if key and fault.code == "NoSuchKey":
            fields.setdefault("Key", key)
        if bucket_name and fault.code in ("NoSuchBucket", "BucketNotEmpty"):
            fields.setdefault("BucketName", bucket_name)
        fields["RequestId"] = request_id
        xml = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
        return status, [*base, ("Content-Type", "application/xml")], (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{xml}</Error>'.encode())
    return status, [*base, *extra], payload


def _split_path(path: str) -> tuple[str, str]:
    """(bucket, key) from a path-style path; the key is '' for a bucket request."""
    bare = path.split("?", 1)[0].lstrip("/")
    bucket, _, key = bare.partition("/")
    return unquote(bucket), unquote(key)


def _dispatch(
    store: S3Store, method: str, bucket_name: str, key: str, params: dict[str, str],
    headers: Mapping[str, str], body: bytes,
) -> Response:
    if not bucket_name:
        raise _Fault("NotImplemented", "This mock serves path-style object requests only.")
    with store._lock:
        bucket = store._buckets.get(bucket_name)
        if not key:
            return _bucket_request(store, method, bucket_name, bucket, params)
        if bucket is None:
            if method == "PUT" and store.auto_create_buckets:
                store.create_bucket(bucket_name)
                bucket = store._buckets[bucket_name]
            else:
                raise _Fault("NoSuchBucket")
        if len(key.encode("utf-8", "surrogatepass")) > 1024:
            raise _Fault("KeyTooLongError", "Your key is too long")
        if method == "PUT":
            if "x-amz-copy-source" in headers or params:
                raise _Fault("NotImplemented")
            _check_payload(headers, body)
            stored = store._put(bucket, key, body,
                                headers.get("content-type") or "binary/octet-stream")
            return 200, [("ETag", stored.etag)], b""
        if method in ("GET", "HEAD"):
            if params:
                raise _Fault("NotImplemented")
            found = bucket.objects.get(key)
            if found is None:
                raise _Fault("NoSuchKey")
            meta = [("ETag", found.etag), ("Content-Type", found.content_type),
                    ("Last-Modified", _http_date(found.last_modified)),
                    ("Accept-Ranges", "bytes")]
            if method == "HEAD":
                return 200, [*meta, ("Content-Length", str(len(found.body)))], b""
            return 200, meta, found.body
        if method == "DELETE":
            store.delete(bucket_name, key)
            return 204, [], b""
        raise _Fault("MethodNotAllowed")


def _bucket_request(
    store: S3Store, method: str, name: str, bucket: _Bucket | None, params: dict[str, str]
) -> Response:
    if method == "PUT" and not params:
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", name):
            raise _Fault("InvalidBucketName", "The specified bucket is not valid.",
                         BucketName=name)
        store.create_bucket(name)
        return 200, [("Location", f"/{name}")], b""
    if bucket is None:
        raise _Fault("NoSuchBucket")
    if method == "HEAD" and not params:
        return 200, [], b""
    if method == "DELETE" and not params:
        if bucket.objects:
            raise _Fault("BucketNotEmpty")
        store.delete_bucket(name)
        return 204, [], b""
    if method == "GET" and params.get("list-type") == "2":
        return _list_objects_v2(name, bucket, params)
    raise _Fault("NotImplemented")


def _list_objects_v2(name: str, bucket: _Bucket, params: dict[str, str]) -> Response:
    prefix = params.get("prefix", "")
    delimiter = params.get("delimiter", "")
    encode = params.get("encoding-type") == "url"
    if "encoding-type" in params and not encode:
        raise _Fault("InvalidArgument", "Invalid Encoding Method specified in Request",
                     ArgumentName="encoding-type")
    raw_max = params.get("max-keys", str(MAX_KEYS))
    if not raw_max.isdigit():
        raise _Fault("InvalidArgument", "Provided max-keys not an integer or within integer "
                     "range", ArgumentName="max-keys")
    max_keys = min(int(raw_max), MAX_KEYS)
    token = params.get("continuation-token")
    start_after = params.get("start-after", "")
    after, skip_folder = start_after, ""
    if token is not None:
        after, skip_folder = _read_token(token)

    keys = bucket.keys
    index = bisect.bisect_left(keys, prefix)
    if after:
        index = max(index, bisect.bisect_right(keys, after))
    contents: list[str] = []
    folders: list[str] = []
    last = ""
    truncated = False
    while index < len(keys):
        key = keys[index]
        index += 1
        if not key.startswith(prefix):
            if key > prefix:
                break
            continue
        if skip_folder and key.startswith(skip_folder):
            continue
        folder = ""
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                folder = key[: cut + len(delimiter)]
        if folder and folders and folders[-1] == folder:
            continue
        if len(contents) + len(folders) >= max_keys:
            truncated = True
            break
        if folder:
            folders.append(folder)
            skip_folder, last = folder, folder
        else:
            contents.append(key)
            last = key
    if max_keys == 0:
        truncated = False

    def text(value: str) -> str:
        return escape(quote_plus(value, safe="/") if encode else value)

    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{XMLNS}">',
             f"<Name>{escape(name)}</Name>", f"<Prefix>{text(prefix)}</Prefix>"]
    if delimiter:
        parts.append(f"<Delimiter>{text(delimiter)}</Delimiter>")
    parts += [f"<KeyCount>{len(contents) + len(folders)}</KeyCount>",
              f"<MaxKeys>{max_keys}</MaxKeys>",
              f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
    if encode:
        parts.append("<EncodingType>url</EncodingType>")
    if token is not None:
        parts.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
    if truncated:
        next_token = _make_token(last, last if last in folders else "")
        parts.append(f"<NextContinuationToken>{next_token}</NextContinuationToken>")
    if start_after:
        parts.append(f"<StartAfter>{text(start_after)}</StartAfter>")
    for key in contents:
        stored = bucket.objects[key]
        parts.append(
            f"<Contents><Key>{text(key)}</Key>"
            f"<LastModified>{_iso_date(stored.last_modified)}</LastModified>"
            f"<ETag>{escape(stored.etag)}</ETag><Size>{len(stored.body)}</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>")
    for folder in folders:
        parts.append(f"<CommonPrefixes><Prefix>{text(folder)}</Prefix></CommonPrefixes>")
    parts.append("</ListBucketResult>")
    return 200, [("Content-Type", "application/xml")], "".join(parts).encode()


def _make_token(after: str, folder: str) -> str:
    raw = json.dumps({"a": after, "f": folder}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: str) -> tuple[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        after, folder = data["a"], data["f"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _Fault("InvalidArgument", "The continuation token provided is incorrect",
                     ArgumentName="continuation-token") from None
    if not isinstance(after, str) or not isinstance(folder, str):
        raise _Fault("InvalidArgument", "The continuation token provided is incorrect",
                     ArgumentName="continuation-token")
    return after, folder


def _http_date(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, timezone.utc), usegmt=True)


def _iso_date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _check_payload(headers: Mapping[str, str], body: bytes) -> None:
    declared = headers.get("x-amz-content-sha256", "")
    # A streaming upload declares STREAMING-...: only a plain hex digest is a hash.
    if re.fullmatch(r"[0-9a-f]{64}", declared) and hashlib.sha256(body).hexdigest() != declared:
        raise _Fault("XAmzContentSHA256Mismatch")
    md5 = headers.get("content-md5")
    if md5 and base64.b64encode(hashlib.md5(body).digest()).decode() != md5:
        raise _Fault("BadDigest")
    crc32 = headers.get("x-amz-checksum-crc32")
    if crc32 and base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode() != crc32:
        raise _Fault("BadDigest", "The CRC32 you specified did not match the calculated "
                     "checksum.")


def _decoded_body(headers: Mapping[str, str], body: bytes) -> bytes:
    """The payload of an ``aws-chunked`` body (``size[;ext]\\r\\ndata\\r\\n`` chunks, a
    zero-size chunk, optional trailers); any other body as is."""
    if "aws-chunked" not in headers.get("content-encoding", ""):
        return body
    out = bytearray()
    position = 0
    while True:
        end = body.find(b"\r\n", position)
        if end < 0:
            raise _Fault("IncompleteBody", "The request body is not valid aws-chunked data.")
        try:
            size = int(body[position:end].split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _Fault("IncompleteBody",
                         "The request body is not valid aws-chunked data.") from None
        position = end + 2
        if size == 0:
            break
        out += body[position:position + size]
        position += size + 2
    declared = headers.get("x-amz-decoded-content-length")
    if declared is not None and declared.isdigit() and int(declared) != len(out):
        raise _Fault("IncompleteBody", "You did not provide the number of bytes specified by "
                     "the x-amz-decoded-content-length header.")
    return bytes(out)


# --- SigV4, as S3 checks it ---------------------------------------------------------------

_PARAM = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")


def _verify(
    method: str, path: str, query: str, headers: Mapping[str, str], body: bytes, *,
    region: str, credentials: Mapping[str, str] | None, now: datetime,
) -> None:
    authorization = headers.get("authorization", "")
    algorithm, _, rest = authorization.strip().partition(" ")
    if not authorization:
        raise _Fault("AccessDenied")
    params = dict(_PARAM.findall(rest))
    if algorithm != sigv4.ALGORITHM or any(
            not params.get(n) for n in ("Credential", "SignedHeaders", "Signature")):
        raise _Fault("AuthorizationHeaderMalformed",
                     "The authorization header is malformed; it must be AWS4-HMAC-SHA256 "
                     "with Credential, SignedHeaders and Signature.")
    scope = params["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise _Fault("AuthorizationHeaderMalformed",
                     "The authorization header is malformed; the Credential is mal-formed.")
    access_key, day, scope_region, service, _ = scope
    if scope_region != region:
        raise _Fault("AuthorizationHeaderMalformed",
                     f"The authorization header is malformed; the region '{scope_region}' is "
                     f"wrong; expecting '{region}'", Region=region)
    if service != "s3":
        raise _Fault("AuthorizationHeaderMalformed",
                     "The authorization header is malformed; incorrect service "
                     f"'{service}'. This endpoint belongs to 's3'.")
    raw_date = headers.get("x-amz-date", "")
    try:
        when = datetime.strptime(raw_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise _Fault("AccessDenied", "AWS authentication requires a valid Date or "
                     "x-amz-date header") from None
    if abs(when - now) > MAX_SKEW:
        raise _Fault("RequestTimeTooSkewed",
                     RequestTime=raw_date, ServerTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if day != raw_date[:8]:
        raise _Fault("SignatureDoesNotMatch")
    payload = headers.get("x-amz-content-sha256")
    if not payload:
        raise _Fault("InvalidArgument", "Missing required header for this request: "
                     "x-amz-content-sha256", ArgumentName="x-amz-content-sha256")
    if credentials is None:
        return
    secret = credentials.get(access_key)
    if secret is None:
        raise _Fault("InvalidAccessKeyId", AWSAccessKeyId=access_key)
    signed = params["SignedHeaders"].split(";")
    if "host" not in signed:
        raise _Fault("AccessDenied", "Host must be a signed header")
    named = [(name, " ".join(headers.get(name, "").split())) for name in signed
             if name not in ("x-amz-date", "x-amz-security-token")]
    token = headers.get("x-amz-security-token") if "x-amz-security-token" in signed else None
    extra = [("x-amz-date", raw_date)] + ([("x-amz-security-token", token)] if token else [])
    # sigv4 builds the query, headers and signed list; S3's canonical URI (the path as
    # sent) and payload hash (the header's value) go in place of the generic ones.
    url = f"http://{headers.get('host', '')}/" + (f"?{query}" if query else "")
    creq, signed_list = sigv4.canonical_request(method, url, named, b"", extra)
    head, _generic_path, rest = creq.split("\n", 2)
    creq = f"{head}\n{path}\n{rest.rsplit(chr(10), 1)[0]}\n{payload}"
    expected = sigv4.authorization(creq, signed_list, raw_date,
                                   Credentials(access_key, secret, token), scope_region, "s3")
    ours = dict(_PARAM.findall(expected.partition(" ")[2]))
    if ours["SignedHeaders"] != params["SignedHeaders"] or not hmac.compare_digest(
            ours["Signature"], params["Signature"]):
        raise _Fault("SignatureDoesNotMatch")


# --- a batch job's outputs ------------------------------------------------------------------

class JobOutcome(NamedTuple):
    """How a job ended and where its outputs are: what Describe*Job should then report
    (``status``, ``message``, ``OutputDataConfig.S3Key`` = ``folder``,
    ``ManifestFilePath`` = ``f"{bucket}/{manifest_key}"``)."""

    status: str
    message: str | None
    bucket: str
    folder: str
    manifest_key: str
    processed: int
    unprocessed: int


def read_job_inputs(store: S3Store, bucket: str, prefix: str | None) -> list[tuple[str, bytes]]:
    """Every object a job reads: all keys starting with its input ``S3Key``, except
    zero-byte "folder" markers; taken when the job starts, as the service does."""
    out = []
    for key in store.keys(bucket, prefix or ""):
        stored = store.get(bucket, key)
        if stored is not None and not (key.endswith("/") and not stored.body):
            out.append((key, stored.body))
    return out


def write_job_outputs(
    store: S3Store,
    *,
    job_id: str,
    kind: str,
    input_bucket: str,
    input_prefix: str | None,
    output_bucket: str,
    output_prefix: str | None,
    analyse: Callable[[str], Mapping[str, Any]],
    inputs: Sequence[tuple[str, bytes]] | None = None,
    account_id: str = DEFAULT_ACCOUNT,
    duration_seconds: float = 0.0,
    write_test_file: bool = True,
    status: str | None = None,
) -> JobOutcome:
    """Write a finished job's outputs into ``store`` and say how it ended.

    ``analyse`` is the real-time operation of ``kind`` on one document's text, returning
    its JSON document (the mock's own analysis); ``inputs`` are (key, bytes) as
    ``read_job_inputs`` took them at the start (read now when None). ``status``
    overrides the status the outcome would have (a test forcing PARTIAL_SUCCESS or
    FAILED); the outputs are written all the same.
    """
    found = batch_kind(kind, operation_name="write_job_outputs")
    forced = status
    if inputs is None:
        inputs = read_job_inputs(store, input_bucket, input_prefix)
    root = as_folder(output_prefix)
    name = f"{account_id}-{found.job_type}-{job_id}"
    folder = f"{root}{name}/"
    lists = f"{folder}Manifest_{name}/"
    success_key = f"{lists}success/SuccessFiles.json"
    failed_key = f"{lists}failed/UnprocessedFiles.json"
    base = input_folder(input_prefix)

    succeeded: list[dict[str, Any]] = []
    unprocessed: list[dict[str, Any]] = []
    characters = 0
    total = sum(len(data) for _, data in inputs)
    too_much = len(inputs) > 5_000_000 or total > found.max_job_bytes
    for key, data in inputs if not too_much else ():
        problem = document_problem(data)
        if problem is None:
            text = data.decode("utf-8")
            try:
                document = json.dumps(analyse(text), default=_json_default).encode()
            except Exception as exc:  # the analysis failed: the service's own fault
                unprocessed.append({"Input": s3_uri(input_bucket, key),
                                    "ErrorCode": "InternalServerException",
                                    "ErrorMessage": f"The file could not be analysed "
                                                    f"({type(exc).__name__})."})
                continue
            relative = key[len(base):] if key.startswith(base) else key
            out_key = f"{folder}{relative}.out"
            store.put(output_bucket, out_key, document, "application/json")
            characters += len(text)
            succeeded.append({"Input": s3_uri(input_bucket, key),
                              "Output": s3_uri(output_bucket, out_key), "InputSize": len(data)})
        else:
            unprocessed.append({"Input": s3_uri(input_bucket, key), "ErrorCode": problem.code,
                                "ErrorMessage": problem.message})

    if too_much:
        status, message = "FAILED", (
            f"The input has {len(inputs)} files and {total} bytes: over the job's limits "
            f"of 5,000,000 files and {found.max_job_bytes} bytes.")
    elif not inputs:
        status, message = "FAILED", (
            f"No input files were found at {s3_uri(input_bucket, input_prefix or '')}.")
    elif not succeeded:
        status, message = "FAILED", f"None of the {len(inputs)} input files could be processed."
    elif unprocessed:
        status, message = "PARTIAL_SUCCESS", (
            f"{len(unprocessed)} of {len(inputs)} input files could not be processed; "
            "see the unprocessed files list.")
    else:
        status, message = "COMPLETED", None
    if forced is not None:
        status = forced

    store.put(output_bucket, success_key, json.dumps({"Files": succeeded}).encode(),
              "application/json")
    store.put(output_bucket, failed_key, json.dumps({"Files": unprocessed}).encode(),
              "application/json")
    summary: dict[str, Any] = {
        "Status": status,
        "JobType": found.job_type,
        "InputDataConfiguration": {"Bucket": input_bucket, "Path": input_prefix or ""},
        "OutputDataConfiguration": {"Bucket": output_bucket, "Path": folder},
        "InputFileCount": len(inputs),
        "TotalMeteredCharacters": characters,
        "UnprocessedFilesCount": len(unprocessed),
        "SuccessFilesCount": len(succeeded),
        "TotalDurationSeconds": round(duration_seconds),
        "SuccessfulFilesListLocation": s3_uri(output_bucket, success_key),
        "UnprocessedFilesListLocation": s3_uri(output_bucket, failed_key),
    }
    if status == "FAILED":
        summary["FailedJobErrorMessage"] = message
    manifest_key = f"{folder}{MANIFEST_NAME}"
    store.put(output_bucket, manifest_key, json.dumps({"Summary": summary}, indent=2).encode(),
              "application/json")
    if write_test_file:
        store.put(output_bucket, f"{root}{WRITE_TEST_FILE}", b"", "binary/octet-stream")
    return JobOutcome(status, message, output_bucket, folder, manifest_key, len(succeeded),
                      len(unprocessed))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
