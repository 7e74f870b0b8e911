"""cmclient.sigv4 against the AWS SigV4 conformance suites in fixtures/sigv4/.

Every case of both suites is run: the raw request is parsed, signed with the suite's fixed
inputs, and both the canonical request (which says *why* a signature differs) and the
Authorization value are compared byte for byte with the expected files. A few tests after
the suites pin down behaviour the suites do not cover.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cmclient.credentials import Credentials
from cmclient.sigv4 import canonical_request, sign_request

SUITES = Path(__file__).resolve().parents[2] / "fixtures" / "sigv4"
CLASSIC = SUITES / "aws4_testsuite"
V4 = SUITES / "aws-signing-test-suite-v4"

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
SERVICE = "service"
TIMESTAMP = datetime(2015, 8, 30, 12, 36, 0, tzinfo=timezone.utc)
AMZ_DATE = "20150830T123600Z"


@dataclass
class RawRequest:
    method: str
    target: str  # path and query, exactly as on the request line
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def url(self) -> str:
        host = next(value for name, value in self.headers if name.lower() == "host")
        return f"https://{host}{self.target}"


def parse_raw_request(raw: bytes) -> RawRequest:
    """Parse a suite's .req / request.txt: request line, headers (repeated names kept, folded
    continuation lines joined to the previous value with a space, as RFC 7230 says of
    obs-fold), a blank line, then the body."""
    text = raw.decode("utf-8")
    head, sep, body = text.partition("\n\n")
    lines = head.split("\n")
    request_line = lines[0]
    method, rest = request_line.split(" ", 1)
    # The target may itself hold a space (normalize-path/get-space): cut the version off the end.
    target, _, version = rest.rpartition(" ")
    assert version.startswith("HTTP/"), request_line
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, _, value = line.partition(":")
        headers.append((name, value))
    return RawRequest(method, target, headers, body.encode("utf-8") if sep else b"")


@dataclass
class Case:
    id: str
    request: RawRequest
    token: str | None
    expected_creq: str
    expected_authz: str
    skip: str | None = None


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def classic_cases() -> list[Case]:
    cases = []
    for req in sorted(CLASSIC.rglob("*.req")):
        creq = _read(req.with_suffix(".creq"))
        token = None
        for line in creq.split("\n"):
            if line.startswith("x-amz-security-token:"):
                token = line.partition(":")[2]
        cases.append(
            Case(
                id=f"classic/{req.parent.relative_to(CLASSIC)}",
                request=parse_raw_request(req.read_bytes()),
                token=token,
                expected_creq=creq,
                expected_authz=_read(req.with_suffix(".authz")),
            )
        )
    return cases


def v4_cases() -> list[Case]:
    cases = []
    for folder in sorted(p for p in V4.iterdir() if p.is_dir()):
        context = json.loads(_read(folder / "context.json"))
        assert context["region"] == REGION and context["service"] == SERVICE
        assert context["timestamp"] == "2015-08-30T12:36:00Z"
        assert context["credentials"]["access_key_id"] == ACCESS_KEY
        assert context["credentials"]["secret_access_key"] == SECRET_KEY
        request = parse_raw_request((folder / "request.txt").read_bytes())
        if context.get("sign_body"):
            # The suite's sign_body: a signed x-amz-content-sha256 header holding the body hash.
            request.headers.append(
                ("x-amz-content-sha256", hashlib.sha256(request.body).hexdigest())
            )
        token = context["credentials"].get("token")
        if context.get("omit_session_token"):
            token = None  # the suite adds the token header after signing
        signed = _read(folder / "header-signed-request.txt")
        authz = next(
            line.partition(":")[2]
            for line in signed.split("\n")
            if line.lower().startswith("authorization:")
        )
        signature = _read(folder / "header-signature.txt").strip()
        assert authz.endswith(f"Signature={signature}")
        skip = None
        if not context.get("normalize", True):
            skip = (
                "aws-signing-test-suite-v4 marks this case normalize=false: S3-style paths "
                "(no dot-segment removal, no double encoding), which Comprehend Medical "
                "does not use (fixtures/sigv4/README.md)"
            )
        cases.append(
            Case(
                id=f"v4/{folder.name}",
                request=request,
                token=token,
                expected_creq=_read(folder / "header-canonical-request.txt"),
                expected_authz=authz,
                skip=skip,
            )
        )
    return cases


ALL_CASES = classic_cases() + v4_cases()


def test_both_suites_are_present_and_complete() -> None:
    # A fixture copy that lost files would otherwise shrink the parametrised suite silently.
    assert len([c for c in ALL_CASES if c.id.startswith("classic/")]) == 34
    assert len([c for c in ALL_CASES if c.id.startswith("v4/")]) == 38
    for suite in (CLASSIC, V4):
        assert (suite / "LICENSE").is_file() and (suite / "NOTICE").is_file()


def _params() -> list[object]:
    return [
        pytest.param(case, id=case.id, marks=[pytest.mark.skip(reason=case.skip)] if case.skip else [])
        for case in ALL_CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_canonical_request_matches_the_suite(case: Case) -> None:
    extra = [("x-amz-date", AMZ_DATE)]
    if case.token:
        extra.append(("x-amz-security-token", case.token))
    creq, _ = canonical_request(
        case.request.method, case.request.url, case.request.headers, case.request.body, extra
    )
    assert creq == case.expected_creq


@pytest.mark.parametrize("case", _params())
def test_authorization_matches_the_suite(case: Case) -> None:
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, session_token=case.token)
    out = sign_request(
        case.request.method,
        case.request.url,
        case.request.headers,
        case.request.body,
        credentials=credentials,
        region=REGION,
        service=SERVICE,
        timestamp=TIMESTAMP,
    )
    assert out["Authorization"] == case.expected_authz
    assert out["X-Amz-Date"] == AMZ_DATE
    if case.token:
        assert out["X-Amz-Security-Token"] == case.token
    else:
        assert "X-Amz-Security-Token" not in out


# --- behaviour the suites do not cover -------------------------------------------------

CREDS = Credentials(ACCESS_KEY, SECRET_KEY)
TOKEN_CREDS = Credentials(ACCESS_KEY, SECRET_KEY, session_token="TOKEN+/=")


def _sign(headers: object, url: str = "https://example.amazonaws.com/",
          credentials: Credentials = CREDS, timestamp: datetime = TIMESTAMP) -> dict[str, str]:
    return sign_request("POST", url, headers, b"{}", credentials=credentials,  # type: ignore[arg-type]
                        region=REGION, service=SERVICE, timestamp=timestamp)


def test_stale_amz_date_and_token_headers_are_replaced_not_signed_twice() -> None:
    clean = _sign({"Content-Type": "application/x-amz-json-1.1"}, credentials=TOKEN_CREDS)
    stale = _sign(
        [("Content-Type", "application/x-amz-json-1.1"),
         ("X-Amz-Date", "20000101T000000Z"),
         ("x-amz-security-token", "OLD-TOKEN"),
         ("X-AMZ-DATE", "19990101T000000Z")],
        credentials=TOKEN_CREDS,
    )
    assert stale == clean
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in (
        stale["Authorization"]
    )
    creq, _ = canonical_request(
        "POST", "https://example.amazonaws.com/",
        [("X-Amz-Date", "20000101T000000Z"), ("X-Amz-Security-Token", "OLD")], b"",
        [("x-amz-date", AMZ_DATE), ("x-amz-security-token", "NEW")],
    )
    assert creq.count("x-amz-date:") == 1 and f"x-amz-date:{AMZ_DATE}\n" in creq
    assert creq.count("x-amz-security-token:") == 1 and "x-amz-security-token:NEW\n" in creq
    assert "OLD" not in creq and "20000101" not in creq


def test_token_header_left_over_from_earlier_signing_is_dropped_without_a_token() -> None:
    stale = _sign({"X-Amz-Security-Token": "OLD-TOKEN"})
    assert stale == _sign({})
    assert "x-amz-security-token" not in stale["Authorization"]


def test_headers_as_mapping_and_as_pairs_sign_alike() -> None:
    mapping = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "S.Op"}
    pairs = [("X-Amz-Target", "S.Op"), ("content-type", "application/x-amz-json-1.1")]
    assert _sign(mapping) == _sign(pairs)
    assert _sign(iter(pairs)) == _sign(mapping)


def test_repeated_header_pairs_are_joined_in_order() -> None:
    creq, signed = canonical_request(
        "GET", "https://example.amazonaws.com/",
        [("My-Header", "b"), ("Host", "example.amazonaws.com"), ("my-header", " a  z ")], b"",
    )
    assert "my-header:b,a z\n" in creq
    assert signed == "host;my-header"
    assert _sign([("My-Header", "b"), ("my-header", "a")]) != _sign([("My-Header", "a"), ("my-header", "b")])


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8443/", "127.0.0.1:8443"),
        ("https://127.0.0.1:8443/", "127.0.0.1:8443"),
        ("https://example.com:443/", "example.com"),
        ("http://example.com:80/", "example.com"),
        ("http://example.com:443/", "example.com:443"),
        ("http://[::1]:8080/", "[::1]:8080"),
    ],
)
def test_host_is_signed_as_sent_keeping_a_non_default_port(url: str, host: str) -> None:
    creq, signed = canonical_request("POST", url, {}, b"")
    assert f"\nhost:{host}\n" in creq
    assert "host" in signed.split(";")


def test_host_with_non_default_port_changes_the_signature() -> None:
    with_port = _sign({}, url="http://127.0.0.1:8443/")
    explicit = _sign({"Host": "127.0.0.1:8443"}, url="http://127.0.0.1:8443/")
    without = _sign({"Host": "127.0.0.1"}, url="http://127.0.0.1:8443/")
    assert with_port == explicit
    assert with_port["Authorization"] != without["Authorization"]


def test_naive_timestamp_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _sign({}, timestamp=datetime(2015, 8, 30, 12, 36, 0))


def test_aware_timestamp_in_another_zone_is_converted_to_utc() -> None:
    local = TIMESTAMP.astimezone(timezone(timedelta(hours=-7)))
    assert _sign({}, timestamp=local) == _sign({})


@pytest.mark.parametrize(
    "name",
    ["User-Agent", "Expect", "Transfer-Encoding", "X-Amzn-Trace-Id", "Connection", "Keep-Alive",
     "TE", "Trailer", "Upgrade", "Proxy-Authorization", "Proxy-Authenticate", "traceparent",
     "tracestate", "baggage"],
)
def test_headers_rewritten_in_transit_are_not_signed(name: str) -> None:
    # Proxies, HTTP stacks and tracing instrumentation add, drop or rewrite these after
    # signing; botocore leaves the same set out (SIGNED_HEADERS_BLACKLIST).
    assert _sign({name: "x", "Content-Type": "a/b"}) == _sign({"Content-Type": "a/b"})
