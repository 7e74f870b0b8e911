"""S3 signing checked against botocore's own S3 signer (``S3SigV4Auth``): the same
request, signed by both at the same instant, gets the same Authorization, for random
keys, bodies, listings, addressing styles and session tokens."""

from __future__ import annotations

from datetime import datetime, timezone
from unittest import mock

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmclient._protocol import s3 as protocol
from cmclient._protocol.s3_endpoint import S3Endpoint
from cmclient.credentials import Credentials

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

endpoints = st.sampled_from([
    S3Endpoint("https://s3.us-east-1.amazonaws.com", "us-east-1"),
    S3Endpoint("https://s3.eu-west-2.amazonaws.com", "eu-west-2"),
    S3Endpoint("http://127.0.0.1:9000", "us-east-1", configured=True),
    S3Endpoint("http://localhost:4566/base", "us-west-2", configured=True),
])
buckets = st.sampled_from(["notes", "clinic-notes-2", "my.dotted.bucket"])
_key_chars = st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"])
segments = st.text(_key_chars, min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))
keys = st.lists(segments, min_size=1, max_size=4).map("/".join).filter(lambda k: "/" not in k[:1])
bodies = st.binary(max_size=200)
tokens = st.none() | st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
                             max_size=60)
timestamps = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1),
                          timezones=st.just(timezone.utc))
maybe_text = st.none() | st.text(_key_chars, min_size=1, max_size=10)


def botocore_authorization(call: protocol.S3Call[object], credentials: Credentials,
                           region: str, timestamp: datetime) -> str:
    request = AWSRequest(method=call.method, url=call.url, data=call.body)
    for name, value in call.headers.items():
        request.headers[name] = value
    frozen = timestamp.replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=frozen):
        botocore.auth.S3SigV4Auth(
            BotoCredentials(credentials.access_key_id, credentials.secret_access_key,
                            credentials.session_token), "s3", region,
        ).add_auth(request)
    # botocore must have signed the payload hash the call carries, not UNSIGNED-PAYLOAD.
    assert request.headers["X-Amz-Content-SHA256"] == call.headers["x-amz-content-sha256"]
    authorization: str = request.headers["Authorization"]
    return authorization


def both(call: protocol.S3Call[object], credentials: Credentials, region: str,
         timestamp: datetime) -> tuple[str, str]:
    ours = protocol.sign(call, credentials, region=region, timestamp=timestamp)["Authorization"]
    return ours, botocore_authorization(call, credentials, region, timestamp)


@SETTINGS
@given(endpoints, buckets, keys, bodies, tokens, timestamps)
def test_put_object_signature_matches_botocore(
    endpoint: S3Endpoint, bucket: str, key: str, body: bytes, token: str | None,
    timestamp: datetime,
) -> None:
    call = protocol.put_object(endpoint, bucket, key, body,
                               content_type="text/plain; charset=utf-8")
    ours, theirs = both(call, Credentials("AKIDEXAMPLE", "secret/key+", token),
                        endpoint.region, timestamp)
    assert ours == theirs


@SETTINGS
@given(endpoints, buckets, keys, st.sampled_from(["get", "head", "delete"]), timestamps)
def test_get_head_delete_signatures_match_botocore(
    endpoint: S3Endpoint, bucket: str, key: str, verb: str, timestamp: datetime
) -> None:
    builder = {"get": protocol.get_object, "head": protocol.head_object,
               "delete": protocol.delete_object}[verb]
    call = builder(endpoint, bucket, key)
    ours, theirs = both(call, Credentials("AKIDEXAMPLE", "s3cr3t"), endpoint.region, timestamp)
    assert ours == theirs


@SETTINGS
@given(endpoints, buckets, maybe_text, maybe_text, maybe_text,
       st.none() | st.integers(1, 1000), st.sampled_from([None, "/", "|"]), timestamps)
def test_list_objects_v2_signature_matches_botocore(
    endpoint: S3Endpoint, bucket: str, prefix: str | None, token: str | None,
    start_after: str | None, max_keys: int | None, delimiter: str | None, timestamp: datetime,
) -> None:
    call = protocol.list_objects_v2(endpoint, bucket, prefix=prefix, continuation_token=token,
                                    start_after=start_after, max_keys=max_keys,
                                    delimiter=delimiter)
    ours, theirs = both(call, Credentials("AKIDEXAMPLE", "s3cr3t", "session"),
                        endpoint.region, timestamp)
    assert ours == theirs
