"""AWS Signature Version 4, as pure functions.

``sign_request`` takes a request as plain values and returns the headers that sign it;
``SigningTemplate`` does the same for many requests of one shape, preparing the fixed
part once. Neither does I/O or keeps state but small caches (derived signing keys,
parsed URLs), so the sync and async clients, the mock service and the credential
providers (which sign STS calls) all share it. Path and query handling follow the rules
for services other than S3: dot segments and repeated slashes are removed from the path,
and the path and the query are percent-encoded as the AWS SigV4 test suites expect.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from functools import lru_cache
from hashlib import sha256
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from cmclient._http.rules import DEFAULT_PORTS
from cmclient.credentials._types import Credentials

if TYPE_CHECKING:
    from _hashlib import HASH  # the type of hashlib's objects, named only in its stubs

__all__ = [
    "ALGORITHM", "Headers", "SigningTemplate", "authorization", "canonical_request", "sign_request",
]

ALGORITHM = "AWS4-HMAC-SHA256"

Headers = Mapping[str, str] | Iterable[tuple[str, str]]

# Headers the signer sets itself (authorization, x-amz-date, x-amz-security-token) and
# headers that proxies, HTTP stacks and tracing instrumentation add, strip or rewrite in
# transit (hop-by-hop headers, W3C trace context and baggage): signing them would break
# the signature. botocore (1.44, SIGNED_HEADERS_BLACKLIST) leaves out the same set.
_UNSIGNABLE = frozenset(
    {"authorization", "x-amz-date", "x-amz-security-token",
     "baggage", "connection", "expect", "keep-alive", "proxy-authenticate",
     "proxy-authorization", "te", "traceparent", "tracestate", "trailer",
     "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id"}
)


def sign_request(
    method: str,
    url: str,
    headers: Headers,
    body: bytes,
    *,
    credentials: Credentials,
    region: str,
    service: str,
    timestamp: datetime,
) -> dict[str, str]:
    """Return the headers that sign this request: X-Amz-Date, Authorization and, with a
    session token, X-Amz-Security-Token. Add them to (or replace them in) the request.

    ``headers`` may repeat a name (pairs) and need not hold Host: the URL's authority is
    used then, with its port when it is not the scheme's default, exactly as an HTTP
    client sends it. An X-Amz-Date or X-Amz-Security-Token already present is replaced.
    """
    amz_date = _amz_date(timestamp)
    head, host = _url_parts(url)
    merged = _signable_headers(headers, host)
    merged["x-amz-date"] = amz_date
    token = credentials.session_token or ""
    if token:
        merged["x-amz-security-token"] = token
    text, signed = _render(f"{method.upper()}\n{head}", merged)
    return _signature_headers(
        f"{text}{sha256(body).hexdigest()}", signed, amz_date, token, credentials, region,
        service,
    )


class SigningTemplate:
    """One request shape (method, URL, headers), prepared once and signed many times.

    Everything in the canonical request but the date, the session token and the body
    hash is fixed for a given shape, so it is built here once, cut around the date and
    the token; each ``sign`` only formats the date, hashes the body, and runs one hash
    and one HMAC with the cached signing key. The clients keep one template per
    operation. ``sign_request`` builds the same canonical request in one go (the
    canonicalisation and the signing step are shared; tests/test_sigv4_template.py
    checks that the two agree).
    """

    __slots__ = ("_head", "_headers", "_shapes")

    def __init__(self, method: str, url: str, headers: Headers) -> None:
        head, host = _url_parts(url)
        self._head = f"{method.upper()}\n{head}"
        self._headers = _signable_headers(headers, host)
        self._shapes: dict[bool, tuple[str, str, str, str]] = {}

    def sign(
        self,
        body: bytes,
        *,
        credentials: Credentials,
        region: str,
        service: str,
        timestamp: datetime,
    ) -> dict[str, str]:
        """The signing headers for this shape with ``body``, as ``sign_request``."""
        amz_date = _amz_date(timestamp)
        token = credentials.session_token or ""
        before, middle, after, signed = self._shape(bool(token))
        return _signature_headers(
            f"{before}{amz_date}{middle}{token}{after}{sha256(body).hexdigest()}",
            signed, amz_date, token, credentials, region, service,
        )

    def _shape(self, with_token: bool) -> tuple[str, str, str, str]:
        """The canonical request cut around the date and the token, and the signed
        header list; built on first use for requests with and without a token."""
        shape = self._shapes.get(with_token)
        if shape is None:
            merged = dict(self._headers)
            merged["x-amz-date"] = _DATE
            if with_token:
                merged["x-amz-security-token"] = _TOKEN
            text, signed = _render(self._head, merged)
            before, rest = text.split(_DATE)
            middle, after = rest.split(_TOKEN) if with_token else (rest, "")
            shape = self._shapes[with_token] = (before, middle, after, signed)
        return shape


def canonical_request(
    method: str,
    url: str,
    headers: Headers,
    body: bytes,
    extra: Iterable[tuple[str, str]] = (),
) -> tuple[str, str]:
    """Build the canonical request and the signed-headers list.

    ``extra`` are lower-case (name, value) pairs the signer adds itself; headers of
    those names in ``headers`` are dropped, so a re-signed request never signs them twice.
    """
    head, host = _url_parts(url)
    merged = _signable_headers(headers, host)
    merged.update(extra)
    text, signed = _render(f"{method.upper()}\n{head}", merged)
    return text + sha256(body).hexdigest(), signed


# Stand-ins for the per-request values while a template is cut into its fixed parts.
_DATE = "\x00date\x00"
_TOKEN = "\x00token\x00"


@lru_cache(maxsize=256)
def _url_parts(url: str) -> tuple[str, str]:
    """The canonical path and query (each followed by a newline) and the Host value the
    URL's authority gives, parsed once per URL."""
    parts = urlsplit(url)
    head = f"{_canonical_path(parts.path)}\n{_canonical_query(parts.query)}\n"
    return head, _host(parts.scheme, parts.hostname or "", parts.port)


def _signable_headers(headers: Headers, host: str) -> dict[str, str]:
    """Lower-case names to folded values (a repeated name's values joined by commas, in
    order), without the unsignable ones; ``host`` when the headers carry no Host."""
    merged: dict[str, str] = {}
    # A dict is checked first: the ABC's isinstance is slower, on the per-request path.
    pairs: Iterable[tuple[str, str]] = (
        headers.items() if type(headers) is dict or isinstance(headers, Mapping) else headers)
    for name, value in pairs:
        key = name.lower()
        if key not in _UNSIGNABLE:
            folded = " ".join(value.split())  # trimmed, inner runs of white space as one
            if key in merged:
                merged[key] += "," + folded
            else:
                merged[key] = folded
    if "host" not in merged:
        merged["host"] = host
    return merged


def _render(head: str, headers: dict[str, str]) -> tuple[str, str]:
    """The canonical request up to (not including) the payload hash, and the signed
    header list."""
    names = sorted(headers)
    signed = ";".join(names)
    lines = "".join([f"{name}:{headers[name]}\n" for name in names])
    return f"{head}{lines}\n{signed}\n", signed


def authorization(
    creq: str, signed: str, amz_date: str, credentials: Credentials, region: str, service: str
) -> str:
    """The Authorization value for a canonical request. For verifiers that rebuild the
    canonical request from exactly what a client says it signed (the mock service)."""
    return _signature_headers(
        creq, signed, amz_date, "", credentials, region, service)["Authorization"]


def _signature_headers(
    creq: str, signed: str, amz_date: str, token: str, credentials: Credentials,
    region: str, service: str,
) -> dict[str, str]:
    """The headers that sign a canonical request: X-Amz-Date, Authorization and, with
    a token, X-Amz-Security-Token."""
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    inner, outer = _signing_key(credentials.secret_access_key, day, region, service)
    # HMAC-SHA256 (RFC 2104) from the key's two padded blocks, hashed once per key and
    # copied here: one hmac.new per request would pad and hash the key again.
    mac = inner.copy()
    mac.update(
        f"{ALGORITHM}\n{amz_date}\n{scope}\n{sha256(creq.encode()).hexdigest()}".encode())
    out = outer.copy()
    out.update(mac.digest())
    headers = {
        "X-Amz-Date": amz_date,
        "Authorization": (
            f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
            f"SignedHeaders={signed}, Signature={out.hexdigest()}"
        ),
    }
    if token:
        headers["X-Amz-Security-Token"] = token
    return headers


@lru_cache(maxsize=64)
def _signing_key(secret: str, day: str, region: str, service: str) -> tuple[HASH, HASH]:
    """Derive the key once per (secret, day, region, service), four HMACs saved per
    call, and keep it as the SHA-256 states of its inner and outer padded blocks."""
    key = hmac.digest(f"AWS4{secret}".encode(), day.encode(), "sha256")
    for part in (region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    block = key.ljust(64, b"\0")  # a 32-byte key fits SHA-256's 64-byte block
    return (sha256(bytes(b ^ 0x36 for b in block)), sha256(bytes(b ^ 0x5C for b in block)))


def _amz_date(timestamp: datetime) -> str:
    zone = timestamp.tzinfo
    if zone is not timezone.utc:
        if zone is None:
            raise ValueError("timestamp must be timezone-aware")
        timestamp = timestamp.astimezone(timezone.utc)
    t = timestamp
    # %-formatting, not strftime nor an f-string with format specs: the fastest, on the
    # per-request path (bench/README.md).
    return "%04d%02d%02dT%02d%02d%02dZ" % (  # noqa: UP031
        t.year, t.month, t.day, t.hour, t.minute, t.second)


def _host(scheme: str, hostname: str, port: int | None) -> str:
    if ":" in hostname:  # an IPv6 literal keeps its brackets in Host
        hostname = f"[{hostname}]"
    if port is None or DEFAULT_PORTS.get(scheme) == port:
        return hostname
    return f"{hostname}:{port}"


@lru_cache(maxsize=256)
def _canonical_path(path: str) -> str:
    """Remove dot segments and empty segments, then percent-encode (RFC 3986 unreserved
    characters and '/' stay). A '%' in the path is encoded again, as non-S3 services
    require: the server canonicalises the path it received, which was encoded once."""
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    normalized = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        normalized += "/"
    return quote(normalized, safe="/~")


@lru_cache(maxsize=256)
def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        key, _, value = item.partition("=")
        pairs.append((_encode(unquote(key)), _encode(unquote(value))))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")
