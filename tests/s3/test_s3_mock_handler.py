"""The mock's S3 handler as a pure function: request values in, (status, headers,
body) out."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ElementTree

from cmclient.testing._s3 import S3Store, handle_s3

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def call(store: S3Store, method: str, path: str, query: str = "", body: bytes = b"",
         **headers: str) -> tuple[int, dict[str, str], bytes]:
    lowered = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    status, out, payload = handle_s3(store, method, path, query, lowered, body)
    return status, {k.lower(): v for k, v in out}, payload


def code_of(payload: bytes) -> str | None:
    return ElementTree.fromstring(payload).findtext("Code")


def test_object_round_trip_and_metadata() -> None:
    store = S3Store()
    status, headers, _ = call(store, "PUT", "/b/dir/a%20b.txt", body=b"hello",
                              content_type="text/plain")
    assert status == 200 and headers["etag"] == f'"{hashlib.md5(b"hello").hexdigest()}"'
    assert store.get("b", "dir/a b.txt") is not None
    status, headers, body = call(store, "GET", "/b/dir/a%20b.txt")
    assert (status, body, headers["content-type"]) == (200, b"hello", "text/plain")
    assert headers["x-amz-request-id"] and headers["last-modified"].endswith("GMT")
    status, headers, body = call(store, "HEAD", "/b/dir/a%20b.txt")
    assert (status, headers["content-length"], body) == (200, "5", b"")
    assert call(store, "DELETE", "/b/dir/a%20b.txt")[0] == 204
    status, headers, body = call(store, "HEAD", "/b/dir/a%20b.txt")
    assert (status, body) == (404, b"")
    status, headers, body = call(store, "GET", "/b/dir/a%20b.txt")
    assert status == 404 and code_of(body) == "NoSuchKey"
    assert headers["content-type"] == "application/xml"


def test_payload_checks() -> None:
    store = S3Store()
    status, _, body = call(store, "PUT", "/b/k", body=b"abc",
                           x_amz_content_sha256=hashlib.sha256(b"other").hexdigest())
    assert status == 400 and code_of(body) == "XAmzContentSHA256Mismatch"
    status, _, body = call(store, "PUT", "/b/k", body=b"abc", x_amz_checksum_crc32="AAAAAA==")
    assert status == 400 and code_of(body) == "BadDigest"
    chunked = b"3;chunk-signature=abc\r\nabc\r\n2\r\nde\r\n0\r\nx-amz-checksum-crc32:xx\r\n\r\n"
    status, _, _ = call(store, "PUT", "/b/streamed", body=chunked,
                        content_encoding="aws-chunked",
                        x_amz_content_sha256="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                        x_amz_decoded_content_length="5")
    stored = store.get("b", "streamed")
    assert status == 200 and stored is not None and stored.body == b"abcde"
    status, _, body = call(store, "PUT", "/b/bad", body=b"zz\r\n", content_encoding="aws-chunked")
    assert status == 400 and code_of(body) == "IncompleteBody"


def test_buckets() -> None:
    store = S3Store(auto_create_buckets=False)
    status, _, body = call(store, "PUT", "/b/k", body=b"x")
    assert status == 404 and code_of(body) == "NoSuchBucket"
    assert call(store, "PUT", "/new-bucket")[0] == 200
    assert call(store, "HEAD", "/new-bucket")[0] == 200
    assert call(store, "HEAD", "/other")[0] == 404
    status, _, body = call(store, "PUT", "/Bad_Name")
    assert status == 400 and code_of(body) == "InvalidBucketName"
    call(store, "PUT", "/new-bucket/k", body=b"x")
    status, _, body = call(store, "DELETE", "/new-bucket")
    assert status == 409 and code_of(body) == "BucketNotEmpty"
    call(store, "DELETE", "/new-bucket/k")
    assert call(store, "DELETE", "/new-bucket")[0] == 204
    status, _, body = call(store, "GET", "/")
    assert status == 501 and code_of(body) == "NotImplemented"


def test_listing_without_url_encoding_and_bad_parameters() -> None:
    store = S3Store()
    for key in ("p/a&b.txt", "p/c.txt", "q/d.txt"):
        store.put("b", key, b"12")
    status, _, body = call(store, "GET", "/b", "list-type=2&prefix=p%2F&max-keys=1")
    root = ElementTree.fromstring(body)
    assert status == 200 and root.findtext(f"{NS}IsTruncated") == "true"
    assert [e.text for e in root.iter(f"{NS}Key")] == ["p/a&b.txt"]
    assert root.findtext(f"{NS}KeyCount") == "1" and root.findtext(f"{NS}MaxKeys") == "1"
    token = root.findtext(f"{NS}NextContinuationToken")
    assert token
    _, _, body = call(store, "GET", "/b", f"list-type=2&prefix=p%2F&continuation-token={token}")
    assert [e.text for e in ElementTree.fromstring(body).iter(f"{NS}Key")] == ["p/c.txt"]
    status, _, body = call(store, "GET", "/b", "list-type=2&continuation-token=garbage")
    assert status == 400 and code_of(body) == "InvalidArgument"
    status, _, body = call(store, "GET", "/b", "list-type=2&max-keys=lots")
    assert status == 400 and code_of(body) == "InvalidArgument"
    _, _, body = call(store, "GET", "/b", "list-type=2&max-keys=5000")
    assert ElementTree.fromstring(body).findtext(f"{NS}MaxKeys") == "1000"
    status, _, body = call(store, "GET", "/b")  # ListObjects (v1) is not served
    assert status == 501


def test_signature_checks_need_a_signature() -> None:
    store = S3Store()
    status, _headers, body = handle_s3(store, "GET", "/b/k", "", {}, b"", verify=True)
    assert status == 403 and code_of(body) == "AccessDenied"
    status, _headers, body = handle_s3(store, "GET", "/b/k", "",
                                      {"authorization": "Basic abc"}, b"", verify=True)
    assert status == 400 and code_of(body) == "AuthorizationHeaderMalformed"
