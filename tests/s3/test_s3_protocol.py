"""The pure S3 protocol by example: URLs and addressing, headers, signing inputs,
listings, errors and their retry classification."""

from __future__ import annotations

import hashlib
import pickle
from datetime import datetime, timezone

import pytest

from cmclient import errors
from cmclient._protocol import s3 as protocol
from cmclient._protocol.retry import Kind, classify
from cmclient._protocol.s3_endpoint import S3Endpoint
from cmclient.credentials import Credentials

AWS = S3Endpoint("https://s3.us-east-1.amazonaws.com", "us-east-1")
LOCAL = S3Endpoint("http://127.0.0.1:9000", "us-east-1", configured=True)
CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_virtual_hosted_on_aws_path_style_for_dots_and_custom_endpoints() -> None:
    assert protocol.get_object(AWS, "notes", "in/a.txt").url == (
        "https://notes.s3.us-east-1.amazonaws.com/in/a.txt")
    assert protocol.get_object(AWS, "my.notes", "in/a.txt").url == (
        "https://s3.us-east-1.amazonaws.com/my.notes/in/a.txt")
    assert protocol.get_object(LOCAL, "notes", "in/a.txt").url == (
        "http://127.0.0.1:9000/notes/in/a.txt")
    forced = S3Endpoint(AWS.url, "us-east-1", addressing_style="path")
    assert protocol.get_object(forced, "notes", "k").url == (
        "https://s3.us-east-1.amazonaws.com/notes/k")
    with_path = S3Endpoint("http://host:1/base/", "us-east-1", configured=True)
    assert protocol.get_object(with_path, "notes", "k").path == "/base/notes/k"


def test_keys_are_encoded_once_and_the_path_is_what_is_signed() -> None:
    call = protocol.get_object(AWS, "notes", "in/a b+c%é~.txt")
    assert call.path == "/in/a%20b%2Bc%25%C3%A9~.txt"
    headers = protocol.sign(call, CREDS, region="us-east-1", timestamp=WHEN)
    assert headers["x-amz-content-sha256"] == hashlib.sha256(b"").hexdigest()
    assert headers["X-Amz-Date"] == "20260102T030405Z"
    assert "/us-east-1/s3/aws4_request" in headers["Authorization"]
    assert "SignedHeaders=host;x-amz-content-sha256;x-amz-date," in headers["Authorization"]


def test_put_hashes_its_body_and_signs_the_session_token() -> None:
    call = protocol.put_object(LOCAL, "notes", "in/a.txt", b"text",
                               content_type="text/plain; charset=utf-8")
    assert call.method == "PUT" and call.body == b"text"
    assert call.headers["x-amz-content-sha256"] == hashlib.sha256(b"text").hexdigest()
    signed = protocol.sign(call, Credentials("AKID", "s", "TOKEN"), region="eu-west-1",
                           timestamp=WHEN)
    assert signed["X-Amz-Security-Token"] == "TOKEN"
    assert ("SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;"
            "x-amz-security-token,") in signed["Authorization"]


@pytest.mark.parametrize("key", ["", "a/./b", "../x", "a/..", "k" * 1025])
def test_keys_that_cannot_be_sent_faithfully_are_refused(key: str) -> None:
    with pytest.raises(errors.ParamValidationError) as caught:
        protocol.get_object(AWS, "notes", key)
    assert "Key" in str(caught.value)


def test_list_query_carries_every_parameter_encoded() -> None:
    call = protocol.list_objects_v2(AWS, "notes", prefix="in/a b", continuation_token="t+/=",
                                    start_after="in/0", max_keys=10, delimiter="/")
    assert call.url.startswith("https://notes.s3.us-east-1.amazonaws.com/?list-type=2&")
    assert "encoding-type=url" in call.query
    assert "prefix=in%2Fa%20b" in call.query
    assert "continuation-token=t%2B%2F%3D" in call.query
    assert "max-keys=10" in call.query and "delimiter=%2F" in call.query
    with pytest.raises(errors.ParamValidationError):
        protocol.list_objects_v2(AWS, "notes", max_keys=1001)


LISTING = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Name>notes</Name><Prefix>in%2F</Prefix><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys>
<Delimiter>%2F</Delimiter><IsTruncated>true</IsTruncated><EncodingType>url</EncodingType>
<NextContinuationToken>tok/en==</NextContinuationToken>
<Contents><Key>in/a+b%2Bc.txt</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>
<ETag>&quot;abc&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
<CommonPrefixes><Prefix>in/sub%20dir/</Prefix></CommonPrefixes>
</ListBucketResult>"""


def test_listing_is_parsed_and_url_decoded() -> None:
    call = protocol.list_objects_v2(AWS, "notes")
    page = call.parse(200, {"x-amz-request-id": "R"}, LISTING)
    assert page.is_truncated and page.next_continuation_token == "tok/en=="
    (obj,) = page.objects
    assert obj.key == "in/a b+c.txt" and obj.size == 12 and obj.etag == '"abc"'
    assert obj.last_modified == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert page.common_prefixes == ("in/sub dir/",)


def test_cursor_follows_tokens_and_refuses_to_loop() -> None:
    cursor = protocol.ListCursor(AWS, "notes", prefix="in/", start_after="in/0")
    first = cursor.next_call()
    assert first is not None and "start-after=in%2F0" in first.query
    page = protocol.ListPage((), (), True, "T1", 0)
    cursor.feed(page)
    second = cursor.next_call()
    assert second is not None and "continuation-token=T1" in second.query
    assert "start-after" not in second.query
    with pytest.raises(errors.PaginationError):
        cursor.feed(page)
    done = protocol.ListCursor(AWS, "notes")
    done.feed(protocol.ListPage((), (), False, None, 0))
    assert done.next_call() is None
    broken = protocol.ListCursor(AWS, "notes")
    with pytest.raises(errors.ResponseParseError):
        broken.feed(protocol.ListPage((), (), True, None, 0))


def error_body(code: str, message: str = "m", **extra: str) -> bytes:
    more = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}</Message>{more}<RequestId>BODYID</RequestId>"
            "<HostId>HOST</HostId></Error>").encode()


@pytest.mark.parametrize(("status", "code", "cls", "kind"), [
    (404, "NoSuchKey", errors.NoSuchKey, Kind.FATAL),
    (404, "NoSuchBucket", errors.NoSuchBucket, Kind.FATAL),
    (403, "AccessDenied", errors.AccessDenied, Kind.FATAL),
    (503, "SlowDown", errors.SlowDown, Kind.THROTTLING),
    (500, "InternalError", errors.InternalError, Kind.TRANSIENT),
    (503, "ServiceUnavailable", errors.ServiceUnavailable, Kind.TRANSIENT),
    (400, "RequestTimeout", errors.RequestTimeout, Kind.TRANSIENT),
    (400, "ExpiredToken", errors.ExpiredToken, Kind.EXPIRED_TOKEN),
    (403, "RequestTimeTooSkewed", errors.RequestTimeTooSkewed, Kind.CLOCK_SKEW),
    (403, "SignatureDoesNotMatch", errors.SignatureDoesNotMatch, Kind.FATAL),
    (503, "SomethingNew", errors.ServiceError, Kind.TRANSIENT),
])
def test_xml_errors_become_classes_with_code_status_request_id(
    status: int, code: str, cls: type[errors.ServiceError], kind: Kind
) -> None:
    call = protocol.get_object(AWS, "notes", "k")
    with pytest.raises(errors.ServiceError) as caught:
        call.parse(status, {"x-amz-request-id": "HEADERID", "x-amz-id-2": "H2"},
                   error_body(code, Key="k", StringToSign="SECRETISH"))
    err = caught.value
    assert type(err) is cls
    assert (err.code, err.status_code, err.request_id) == (code, status, "HEADERID")
    assert err.operation_name == "GetObject"
    assert err.response["Error"]["Key"] == "k"
    assert "StringToSign" not in err.response["Error"]
    assert err.response["ResponseMetadata"]["HostId"] == "H2"
    assert classify(err) is kind
    assert type(pickle.loads(pickle.dumps(err))) is cls


def test_s3_classes_are_caught_by_their_json_counterparts() -> None:
    assert issubclass(errors.SlowDown, errors.ThrottlingException)
    assert issubclass(errors.AccessDenied, errors.AccessDeniedException)
    assert issubclass(errors.ExpiredToken, errors.ExpiredTokenException)
    assert errors.error_class_for("RequestTimeTooSkewed") is errors.RequestTimeTooSkewed
    assert errors.SlowDown.throttling and errors.SlowDown.retryable


def test_errors_without_a_body() -> None:
    head = protocol.head_object(AWS, "notes", "k")
    with pytest.raises(errors.NoSuchKey) as missing:
        head.parse(404, {"x-amz-request-id": "R"}, b"")
    assert missing.value.request_id == "R"
    get = protocol.get_object(AWS, "notes", "k")
    with pytest.raises(errors.ServiceError) as proxy:
        get.parse(502, {}, b"<html>bad gateway</html>")
    assert proxy.value.code == "502" and classify(proxy.value) is Kind.TRANSIENT
    with pytest.raises(errors.PermanentRedirect) as moved:
        get.parse(301, {"x-amz-bucket-region": "eu-west-1"}, error_body("PermanentRedirect"))
    assert "eu-west-1" in moved.value.message


def test_successes_are_typed() -> None:
    headers = {"etag": '"e"', "content-type": "text/plain", "content-length": "4",
               "last-modified": "Fri, 02 Jan 2026 03:04:05 GMT", "x-amz-version-id": "v1"}
    got = protocol.get_object(AWS, "b", "k").parse(200, headers, b"body")
    assert got.body == b"body" and got.etag == '"e"'
    assert got.last_modified == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    head = protocol.head_object(AWS, "b", "k").parse(200, headers, b"")
    assert head.content_length == 4
    put = protocol.put_object(AWS, "b", "k", b"x").parse(200, headers, b"")
    assert put.version_id == "v1"
    assert protocol.delete_object(AWS, "b", "k").parse(204, {}, b"") is None
    with pytest.raises(errors.ResponseParseError):
        protocol.list_objects_v2(AWS, "b").parse(200, {}, b"not xml")
