"""The mock's S3 handler against boto3's own S3 client (over a loopback socket), and
boto3 and cmclient reading the same bytes from it whichever wrote them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from s3_loopback import serve

from cmclient import errors
from cmclient._protocol.s3_endpoint import S3Endpoint
from cmclient._sync.s3 import S3
from cmclient.credentials import Credentials
from cmclient.testing._s3 import S3Store

KEY, SECRET = "AKIDMOCKS3", "mock-s3-secret"
BUCKET = "mock-notes"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[S3Store, str]]:
    store = S3Store(auto_create_buckets=False)
    with serve(store, credentials={KEY: SECRET}) as url:
        yield store, url


def boto_client(url: str, key: str = KEY, secret: str = SECRET, **config: Any) -> Any:
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, **config))


@pytest.fixture(scope="module")
def boto(server: tuple[S3Store, str]) -> Any:
    client = boto_client(server[1])
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def s3(server: tuple[S3Store, str], boto: Any) -> Iterator[S3]:
    with httpx.Client(timeout=10) as http:
        yield S3(http, endpoint=S3Endpoint(server[1], "us-east-1", configured=True),
                 credentials=Credentials(KEY, SECRET))


KEYS = ["in/plain.txt", "in/with space+plus&amp=.txt", "in/unicodé/ñote.txt", "in/a~b!'()*.txt"]


@pytest.mark.parametrize("key", KEYS)
def test_boto3_and_cmclient_read_the_same_bytes(boto: Any, s3: S3, key: str) -> None:
    body = f"Note at {key}: aspirin 81 mg daily.".encode()
    boto.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="text/plain")
    assert s3.get_object(BUCKET, key).body == body
    again = body + b" (cmclient)"
    s3.put_object(BUCKET, key, again, content_type="text/plain; charset=utf-8")
    got = boto.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == again
    assert got["ContentType"] == "text/plain; charset=utf-8"
    head = boto.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == len(again) and head["ETag"] == s3.head_object(BUCKET, key).etag


def test_streamed_uploads_and_flexible_checksums(boto: Any, s3: S3) -> None:
    data = b"x" * 70_000
    boto.upload_fileobj(io.BytesIO(data), BUCKET, "stream/big.bin")
    assert s3.get_object(BUCKET, "stream/big.bin").body == data
    boto.put_object(Bucket=BUCKET, Key="stream/crc.bin", Body=b"abc", ChecksumAlgorithm="CRC32")
    assert s3.get_object(BUCKET, "stream/crc.bin").body == b"abc"


def test_listing_pages_prefixes_and_delimiters_as_boto3_reads_them(
    server: tuple[S3Store, str], boto: Any, s3: S3
) -> None:
    store = server[0]
    keys = [f"list/{i:04d}.txt" for i in range(1203)]
    for key in keys:
        store.put(BUCKET, key, b"n")
    keys += ["list/sub/a.txt", "list/sub/b.txt", "list/zz dir/c+d.txt", "list/é/x"]
    for key in keys[-4:]:
        boto.put_object(Bucket=BUCKET, Key=key, Body=b"n")
    paginator = boto.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=BUCKET, Prefix="list/"))
    assert [p["KeyCount"] for p in pages] == [1000, 207]
    assert [o["Key"] for p in pages for o in p["Contents"]] == sorted(keys)
    ours = [o.key for page in s3.list_pages(BUCKET, prefix="list/") for o in page.objects]
    assert ours == sorted(keys)
    folders = list(paginator.paginate(Bucket=BUCKET, Prefix="list/", Delimiter="/",
                                      PaginationConfig={"PageSize": 500}))
    contents = [o["Key"] for p in folders for o in p.get("Contents", [])]
    prefixes = [c["Prefix"] for p in folders for c in p.get("CommonPrefixes", [])]
    assert prefixes == ["list/sub/", "list/zz dir/", "list/é/"]
    assert len(contents) == 1203 and len(folders) == 3
    after = boto.list_objects_v2(Bucket=BUCKET, Prefix="list/", StartAfter="list/1200.txt",
                                 MaxKeys=3)
    assert [o["Key"] for o in after["Contents"]] == ["list/1201.txt", "list/1202.txt",
                                                     "list/sub/a.txt"]
    assert after["IsTruncated"] and after["StartAfter"] == "list/1200.txt"
    rest = boto.list_objects_v2(Bucket=BUCKET, Prefix="list/",
                                ContinuationToken=after["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == sorted(keys)[-3:]
    # The folder a truncated delimited page ends on is not repeated on the next page.
    cut = boto.list_objects_v2(Bucket=BUCKET, Prefix="list/", Delimiter="/",
                               StartAfter="list/1202.txt", MaxKeys=1)
    assert [c["Prefix"] for c in cut["CommonPrefixes"]] == ["list/sub/"]
    more = boto.list_objects_v2(Bucket=BUCKET, Prefix="list/", Delimiter="/",
                                ContinuationToken=cut["NextContinuationToken"])
    assert [c["Prefix"] for c in more["CommonPrefixes"]] == ["list/zz dir/", "list/é/"]


def test_errors_are_s3s(server: tuple[S3Store, str], boto: Any, s3: S3) -> None:
    with pytest.raises(ClientError) as missing:
        boto.get_object(Bucket=BUCKET, Key="nope.txt")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert missing.value.response["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as head:
        boto.head_object(Bucket=BUCKET, Key="nope.txt")
    assert head.value.response["Error"]["Code"] == "404"
    with pytest.raises(ClientError) as bucket:
        boto.list_objects_v2(Bucket="no-such-bucket")
    assert bucket.value.response["Error"]["Code"] == "NoSuchBucket"
    with pytest.raises(ClientError) as strict:
        boto.put_object(Bucket="not-created", Key="k", Body=b"")
    assert strict.value.response["Error"]["Code"] == "NoSuchBucket"
    with pytest.raises(errors.NoSuchKey) as ours:
        s3.get_object(BUCKET, "nope.txt")
    assert ours.value.request_id and ours.value.response["Error"]["Key"] == "nope.txt"
    with pytest.raises(errors.NoSuchKey):
        s3.head_object(BUCKET, "nope.txt")
    boto.delete_object(Bucket=BUCKET, Key="nope.txt")  # 204 whether or not it existed


def test_signatures_are_verified(server: tuple[S3Store, str], boto: Any) -> None:
    url = server[1]
    with pytest.raises(ClientError) as wrong_secret:
        boto_client(url, secret="not-the-secret").get_object(Bucket=BUCKET, Key="in/plain.txt")
    assert wrong_secret.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as unknown:
        boto_client(url, key="AKIDUNKNOWN").get_object(Bucket=BUCKET, Key="in/plain.txt")
    assert unknown.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    with httpx.Client() as http:
        endpoint = S3Endpoint(url, "us-east-1", configured=True)
        bad = S3(http, endpoint=endpoint, credentials=Credentials(KEY, "wrong"))
        with pytest.raises(errors.SignatureDoesNotMatch):
            bad.get_object(BUCKET, "in/plain.txt")
        elsewhere = S3(http, endpoint=S3Endpoint(url, "eu-west-1", configured=True),
                       credentials=Credentials(KEY, SECRET))
        with pytest.raises(errors.AuthorizationHeaderMalformed) as region:
            elsewhere.get_object(BUCKET, "in/plain.txt")
        assert region.value.response["Error"]["Region"] == "us-east-1"
        anonymous = http.get(f"{url}/{BUCKET}/in/plain.txt")
        assert anonymous.status_code == 403 and b"<Code>AccessDenied</Code>" in anonymous.content
