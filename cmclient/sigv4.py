"""AWS Signature Version 4, as pure functions.

``sign_request`` takes a request as plain values and returns the headers that sign it;
``SigningTemplate`` does the same for many requests of one shape, preparing the fixed
part once. Neither does I/O or keeps state but a small cache of derived signing keys, so the
sync and async clients, the mock service and the credential providers (which sign STS
calls) all share it. Path and query handling follow the rules for services other than
S3: dot segments and repeated slashes are removed from the path, and the path and the
query are percent-encoded as the AWS SigV4 test suites expect.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit

from cmclient._http.rules import DEFAULT_PORTS
from cmclient.credentials._types import Credentials

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
    return SigningTemplate(method, url, headers).sign(
        body, credentials=credentials, region=region, service=service, timestamp=timestamp
    )


class SigningTemplate:
    """One request shape (method, URL, headers), prepared once and signed many times.

    Everything in the canonical request but the date, the session token and the body
    hash is fixed for a given shape, so it is built here once; each ``sign`` only
    formats the date, hashes the body, and runs one hash and one HMAC with the cached
    signing key. The clients keep one template per operation. ``sign_request`` is this
    class used once, so both paths are the same code.
    """

    __slots__ = ("_head", "_headers", "_shapes")

    def __init__(self, method: str, url: str, headers: Headers) -> None:
        parts = urlsplit(url)
        self._head = (
            f"{method.upper()}\n{_canonical_path(parts.path)}\n{_canonical_query(parts.query)}\n"
        )
        self._headers = _signable_headers(headers, parts.scheme, parts.hostname, parts.port)
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
        creq = f"{before}{amz_date}{middle}{token}{after}{hashlib.sha256(body).hexdigest()}"
        out = {
            "X-Amz-Date": amz_date,
            "Authorization": authorization(creq, signed, amz_date, credentials, region, service),
        }
        if token:
            out["X-Amz-Security-Token"] = token
        return out

    def _shape(self, with_token: bool) -> tuple[str, str, str, str]:
        """The canonical request cut around the date and the token, and the signed
        header list; built on first use for requests with and without a token."""
        shape = self._shapes.get(with_token)
        if shape is None:
            extra = [("x-amz-date", _DATE)]
            if with_token:
                extra.append(("x-amz-security-token", _TOKEN))
            text, signed = _render(self._head, self._headers, extra)
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
    parts = urlsplit(url)
    head = f"{method.upper()}\n{_canonical_path(parts.path)}\n{_canonical_query(parts.query)}\n"
    merged = _signable_headers(headers, parts.scheme, parts.hostname, parts.port)
    text, signed = _render(head, merged, extra)
    return text + hashlib.sha256(body).hexdigest(), signed


# Stand-ins for the per-request values while a template is cut into its fixed parts.
_DATE = "\x00date\x00"
_TOKEN = "\x00token\x00"


def _signable_headers(
    headers: Headers, scheme: str, hostname: str | None, port: int | None
) -> dict[str, list[str]]:
    """Lower-case names to folded values, in order, without the unsignable ones; Host
    from the URL when the headers do not carry it."""
    merged: dict[str, list[str]] = {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        key = name.lower()
        if key not in _UNSIGNABLE:
            merged.setdefault(key, []).append(_fold(value))
    if "host" not in merged:
        merged["host"] = [_host(scheme, hostname or "", port)]
    return merged


def _render(
    head: str, headers: dict[str, list[str]], extra: Iterable[tuple[str, str]]
) -> tuple[str, str]:
    """The canonical request up to (not including) the payload hash, and the signed
    header list. ``extra`` pairs replace headers of the same name."""
    merged = dict(headers)
    for key, value in extra:
        merged[key] = [value]
    names = sorted(merged)
    signed = ";".join(names)
    lines = "".join(f"{name}:{','.join(merged[name])}\n" for name in names)
    return f"{head}{lines}\n{signed}\n", signed


def authorization(
    creq: str, signed: str, amz_date: str, credentials: Credentials, region: str, service: str
) -> str:
    """The Authorization value for a canonical request. For verifiers that rebuild the
    canonical request from exactly what a client says it signed (the mock service)."""
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
    key = _signing_key(credentials.secret_access_key, day, region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )


@lru_cache(maxsize=64)
def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """Derive the key once per (secret, day, region, service): four HMACs saved per call."""
    key = hmac.new(f"AWS4{secret}".encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _amz_date(timestamp: datetime) -> str:
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    t = timestamp if timestamp.tzinfo is timezone.utc else timestamp.astimezone(timezone.utc)
    # An f-string, not strftime: faster, on the per-request path (bench/README.md).
    return f"{t.year:04d}{t.month:02d}{t.day:02d}T{t.hour:02d}{t.minute:02d}{t.second:02d}Z"


def _fold(value: str) -> str:
    """Trim a header value and collapse inner runs of white space (folded lines too)."""
    return " ".join(value.split())


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
