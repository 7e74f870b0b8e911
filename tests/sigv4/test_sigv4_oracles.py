"""cmclient.sigv4 against two independent signers, on random requests (hypothesis).

The oracles are botocore's ``SigV4Auth`` (what boto3 sends to Comprehend Medical) and
requests-aws4auth's ``AWS4Auth``. Where the strategies are narrower than "any request",
a comment says which oracle forces it: we only narrow where an oracle is wrong or
cannot express the input, never to hide a cmclient difference.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from unittest import mock
from urllib.parse import quote

import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from requests_aws4auth import AWS4Auth

from cmclient.credentials import Credentials
from cmclient.sigv4 import sign_request

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies -------------------------------------------------------------------------

methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "post", "Get"])
regions = st.from_regex(r"\A[a-z]{2}(-gov)?-[a-z]{4,9}-[1-9]\Z")
services = st.sampled_from(["comprehendmedical", "service", "sts", "execute-api"])
timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(timezone.utc)
)
access_keys = st.from_regex(r"\A(AKIA|ASIA)[A-Z0-9]{16}\Z")
secrets = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
tokens = st.none() | st.text(
    st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=300
)
bodies = st.binary(max_size=300) | st.text(max_size=100).map(str.encode)

# Path segments: unreserved and sub-delim characters, non-ASCII text, already
# percent-encoded octets (non-S3 services encode them again), and the segments that
# normalisation must remove: "", "." and "..".
_segment_chars = st.characters(
    codec="utf-8", exclude_characters="/?#%", exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]
)
segments = st.one_of(
    st.sampled_from(["", ".", "..", "...", "%20", "%2F", "%E1%88%B4", "a%25b"]),
    st.text(_segment_chars, min_size=1, max_size=8),
)
paths = st.lists(segments, max_size=6).map(lambda s: "/" + "/".join(s)) | st.just("")

query_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)
# Each query item is (key, value); a value of None is a key sent without "=".
queries = st.lists(st.tuples(query_text, st.none() | query_text), max_size=5)

hosts = st.sampled_from(
    [
        ("https", "comprehendmedical.us-east-1.amazonaws.com"),
        ("https", "example.com:443"),
        ("http", "example.com:80"),
        ("http", "127.0.0.1:8443"),
        ("https", "127.0.0.1:8443"),
        ("http", "localhost:4566"),
        ("http", "[::1]:8080"),
    ]
)

# Header names: RFC 7230 tokens of mixed case, plus names every signer must treat alike.
# Left out: Host (given separately), X-Amz-Date / Date (the oracles overwrite both with their
# own clock), Authorization and X-Amz-Security-Token (each signer replaces them in its own
# way; tests/test_sigv4_suites.py pins down cmclient's).
header_names = st.from_regex(r"\A[A-Za-z][A-Za-z0-9!#$&'*+.^_`|~-]{0,15}\Z").filter(
    lambda n: n.lower() not in {"host", "date", "x-amz-date", "authorization",
                                "x-amz-security-token", "x-amz-content-sha256"}
)
# botocore leaves these out of the signature (hop-by-hop and tracing headers that proxies
# and instrumentation add or rewrite after signing); cmclient must leave them out too.
_botocore_unsigned = sorted(botocore.auth.SIGNED_HEADERS_BLACKLIST)
header_names_with_unsigned = header_names | st.sampled_from(
    _botocore_unsigned + [n.title() for n in _botocore_unsigned]
)
# Values: visible ASCII and Latin-1 with odd runs of spaces and tabs inside and around.
_spaces = st.sampled_from([" ", "  ", "\t", " \t "])
header_values = st.lists(
    _spaces | st.characters(min_codepoint=33, max_codepoint=255, exclude_characters="\x7f"),
    max_size=20,
).map("".join)


def _url(scheme: str, host: str, path: str, query: list[tuple[str, str | None]]) -> str:
    url = f"{scheme}://{host}{path}"
    if query:
        url += "?" + "&".join(
            quote(k, safe="-_.~") + ("" if v is None else "=" + quote(v, safe="-_.~"))
            for k, v in query
        )
    return url


def _amz_date(ts: datetime) -> str:
    return ts.strftime("%Y%m%dT%H%M%SZ")


def cmclient_authorization(
    method: str, url: str, headers: list[tuple[str, str]], body: bytes, *, access_key: str,
    secret: str, token: str | None, region: str, service: str, timestamp: datetime,
) -> str:
    out = sign_request(
        method, url, headers, body,
        credentials=Credentials(access_key, secret, session_token=token),
        region=region, service=service, timestamp=timestamp,
    )
    assert out["X-Amz-Date"] == _amz_date(timestamp)
    assert out.get("X-Amz-Security-Token") == token
    return out["Authorization"]


def botocore_authorization(
    method: str, url: str, headers: list[tuple[str, str]], body: bytes, *, access_key: str,
    secret: str, token: str | None, region: str, service: str, timestamp: datetime,
) -> str:
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        request.headers[name] = value  # HTTPHeaders appends: repeated names are kept
    # botocore reads the clock through botocore.auth.get_current_datetime (naive UTC).
    frozen = timestamp.astimezone(timezone.utc).replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=frozen):
        botocore.auth.SigV4Auth(
            BotoCredentials(access_key, secret, token), service, region
        ).add_auth(request)
    authorization: str = request.headers["Authorization"]
    return authorization


def aws4auth_authorization(
    method: str, url: str, headers: list[tuple[str, str]], body: bytes, *, access_key: str,
    secret: str, token: str | None, region: str, service: str, timestamp: datetime,
) -> str:
    # A PreparedRequest filled in by hand: requests' own prepare_url would rewrite the path
    # (urllib3 removes dot segments by RFC 3986, which keeps "//" that SigV4 collapses).
    request = requests.PreparedRequest()
    request.method = method
    request.url = url
    request.body = body
    request.headers = CaseInsensitiveDict(headers)
    # AWS4Auth takes the time from an X-Amz-Date already on the request.
    request.headers["X-Amz-Date"] = _amz_date(timestamp)
    auth = AWS4Auth(
        access_key, secret, region, service, timestamp.strftime("%Y%m%d"),
        session_token=token,
        include_hdrs=["*"],  # sign every header, as botocore and cmclient do
    )
    auth(request)
    authorization = str(request.headers["Authorization"])
    return authorization


# --- the properties -----------------------------------------------------------------------


@SETTINGS
@given(
    method=methods, host=hosts, path=paths, query=queries, explicit_host=st.booleans(),
    headers=st.lists(st.tuples(header_names_with_unsigned, header_values), max_size=6),
    body=bodies, access_key=access_keys, secret=secrets, token=tokens, region=regions,
    service=services, timestamp=timestamps,
)
def test_authorization_equals_botocore_sigv4auth(
    method: str, host: tuple[str, str], path: str, query: list[tuple[str, str | None]],
    explicit_host: bool, headers: list[tuple[str, str]], body: bytes, access_key: str,
    secret: str, token: str | None, region: str, service: str, timestamp: datetime,
) -> None:
    scheme, authority = host
    url = _url(scheme, authority, path, query)
    if explicit_host:
        headers = [("Host", _sent_host(scheme, authority)), *headers]
    kwargs = dict(access_key=access_key, secret=secret, token=token, region=region,
                  service=service, timestamp=timestamp)
    assert cmclient_authorization(method, url, headers, body, **kwargs) == (  # type: ignore[arg-type]
        botocore_authorization(method, url, headers, body, **kwargs)  # type: ignore[arg-type]
    )


# requests-aws4auth differs from the SigV4 specification (and from botocore) in three
# places, so this property narrows its inputs there and only there:
# * it sorts the values of a repeated header instead of keeping their order, and
#   requests' header dict cannot hold a repeated name anyway: names are unique here;
# * it collapses header-value whitespace with shlex, which keeps quoted runs intact:
#   values here hold no quote characters;
# * it always signs x-amz-content-sha256 (the body hash): both sides get that header.
_plain_values = st.lists(
    _spaces | st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="\"'"),
    max_size=20,
).map("".join)


@SETTINGS
@given(
    # A request never has an empty path on the wire ("/" at least). requests' prepare_url
    # supplies the "/" and is bypassed here, and AWS4Auth turns "" into ".", so no "".
    # AWS4Auth splits the URL with urlparse, which cuts ";params" off the last path
    # segment and leaves them unsigned; botocore and cmclient sign them. So no ";".
    method=methods, host=hosts, path=paths.filter(lambda p: p and ";" not in p),
    # AWS4Auth parses the query with parse_qs, which drops an empty item ("a=1&&b=2");
    # botocore and cmclient sign it as "=". Every item here has a key or an "=".
    query=st.lists(st.tuples(query_text, st.none() | query_text).filter(lambda kv: kv != ("", None)),
                   max_size=5),
    explicit_host=st.booleans(),
    # AWS4Auth signs hop-by-hop and tracing headers (TE, Upgrade, ...), which botocore
    # and cmclient leave out (the botocore test covers those): none of them here.
    headers=st.dictionaries(header_names.filter(lambda n: n.lower() not in _botocore_unsigned),
                            _plain_values, max_size=6),
    body=bodies, access_key=access_keys, secret=secrets, token=tokens, region=regions,
    service=services, timestamp=timestamps,
)
def test_authorization_equals_requests_aws4auth(
    method: str, host: tuple[str, str], path: str, query: list[tuple[str, str | None]],
    explicit_host: bool, headers: dict[str, str], body: bytes, access_key: str,
    secret: str, token: str | None, region: str, service: str, timestamp: datetime,
) -> None:
    scheme, authority = host
    url = _url(scheme, authority, path, query)
    unique: dict[str, tuple[str, str]] = {}
    for name, value in headers.items():
        unique.setdefault(name.lower(), (name, value))
    pairs = list(unique.values())
    pairs.append(("X-Amz-Content-Sha256", hashlib.sha256(body).hexdigest()))
    if explicit_host:
        pairs.insert(0, ("Host", _sent_host(scheme, authority)))
    kwargs = dict(access_key=access_key, secret=secret, token=token, region=region,
                  service=service, timestamp=timestamp)
    ours = cmclient_authorization(method, url, pairs, body, **kwargs)  # type: ignore[arg-type]
    assert ours == aws4auth_authorization(method, url, pairs, body, **kwargs)  # type: ignore[arg-type]
    assert ours == botocore_authorization(method, url, pairs, body, **kwargs)  # type: ignore[arg-type]


def _sent_host(scheme: str, authority: str) -> str:
    """The Host header an HTTP client sends: the port only when it is not the default."""
    default = {"http": ":80", "https": ":443"}[scheme]
    return authority.removesuffix(default)


def test_oracle_harness_is_sensitive_to_a_wrong_port() -> None:
    # Guards the harness itself: if the oracles ignored the URL, the properties would
    # pass for any signer.
    kwargs = dict(access_key="AKIDEXAMPLE", secret="secret", token=None, region="us-east-1",
                  service="service", timestamp=datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc))
    a = botocore_authorization("POST", "http://127.0.0.1:8443/", [], b"{}", **kwargs)  # type: ignore[arg-type]
    b = botocore_authorization("POST", "http://127.0.0.1/", [], b"{}", **kwargs)  # type: ignore[arg-type]
    c = aws4auth_authorization("POST", "http://127.0.0.1:8443/", [], b"{}", **kwargs)  # type: ignore[arg-type]
    d = aws4auth_authorization("POST", "http://127.0.0.1/", [], b"{}", **kwargs)  # type: ignore[arg-type]
    assert a != b and c != d
