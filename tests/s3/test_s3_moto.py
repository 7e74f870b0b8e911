"""cmclient's S3 drivers (sync and async) against an S3 nobody here wrote: moto's
server mode on 127.0.0.1, with objects also written and read by boto3."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from cmclient import errors
from cmclient._async.s3 import AsyncS3
from cmclient._protocol.s3_endpoint import S3Endpoint
from cmclient._sync.s3 import S3
from cmclient.credentials import Credentials

CREDS = Credentials("AKIDMOTO", "moto-secret")
BUCKET = "clinic-notes"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def boto(moto_url: str) -> object:
    client = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1",
                          aws_access_key_id="AKIDMOTO", aws_secret_access_key="moto-secret")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def s3(moto_url: str, boto: object) -> Iterator[S3]:
    with httpx.Client(timeout=10) as http:
        yield S3(http, endpoint=S3Endpoint(moto_url, "us-east-1", configured=True),
                 credentials=CREDS)


def test_bytes_written_by_one_are_read_by_the_other(s3: S3, boto: object, moto_url: str) -> None:
    key = "round-trip/a note é+&=.txt"
    body = "Patient denies chest pain. Café.".encode()
    s3.put_object(BUCKET, key, body, content_type="text/plain; charset=utf-8")
    got = boto.get_object(Bucket=BUCKET, Key=key)  # type: ignore[attr-defined]
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain; charset=utf-8"
    boto.put_object(Bucket=BUCKET, Key="round-trip/from-boto.txt", Body=b"\x00\xffbytes")  # type: ignore[attr-defined]

    async def read_async() -> bytes:
        async with httpx.AsyncClient(timeout=10) as http:
            client = AsyncS3(http, endpoint=S3Endpoint(moto_url, "us-east-1", configured=True),
                             credentials=CREDS)
            head = await client.head_object(BUCKET, "round-trip/from-boto.txt")
            assert head.content_length == 7
            return (await client.get_object(BUCKET, "round-trip/from-boto.txt")).body

    assert asyncio.run(read_async()) == b"\x00\xffbytes"
    assert s3.head_object(BUCKET, key).content_length == len(body)
    s3.delete_object(BUCKET, key)
    with pytest.raises(errors.NoSuchKey):
        s3.get_object(BUCKET, key)


def test_a_listing_of_more_than_1000_keys_is_read_whole(s3: S3, boto: object) -> None:
    keys = [f"many/{i:05d}.txt" for i in range(1050)] + ["many/sub dir/x+y.txt", "many/sub/z"]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda k: boto.put_object(Bucket=BUCKET, Key=k, Body=k.encode()), keys))  # type: ignore[attr-defined]
    pages = list(s3.list_pages(BUCKET, prefix="many/"))
    assert [len(p.objects) for p in pages] == [1000, 52]
    listed = [o.key for p in pages for o in p.objects]
    assert listed == sorted(keys)
    paginator = boto.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
    theirs = [o["Key"] for page in paginator.paginate(Bucket=BUCKET, Prefix="many/")
              for o in page["Contents"]]
    assert listed == theirs
    assert all(o.size == len(o.key.encode()) for p in pages for o in p.objects)
    small = list(s3.list_pages(BUCKET, prefix="many/", page_size=300, start_after="many/00100.txt"))
    assert len(small) == 4 and small[0].objects[0].key == "many/00101.txt"
    folders = [f for p in s3.list_pages(BUCKET, prefix="many/", delimiter="/")
               for f in p.common_prefixes]
    assert folders == ["many/sub dir/", "many/sub/"]


def test_a_missing_object_or_bucket_is_its_exception(s3: S3) -> None:
    with pytest.raises(errors.NoSuchKey) as missing:
        s3.get_object(BUCKET, "no/such/key.txt")
    err = missing.value
    assert (err.code, err.status_code, err.operation_name) == ("NoSuchKey", 404, "GetObject")
    assert err.request_id and err.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(errors.NoSuchKey):
        s3.head_object(BUCKET, "no/such/key.txt")
    with pytest.raises(errors.NoSuchBucket):
        s3.get_object("no-such-bucket-here", "k")
    with pytest.raises(errors.NoSuchBucket):
        list(s3.list_pages("no-such-bucket-here"))
