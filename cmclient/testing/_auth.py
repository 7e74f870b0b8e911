"""SigV4 checks as the AWS front end makes them, in the order it makes them.

``check`` returns None for a request that passes, or the (code, message) of the error
AWS would send. The signature itself is recomputed with ``cmclient.sigv4``
over exactly the headers the client named in ``SignedHeaders``, so a signer bug (an
unsigned Host port, a wrong canonical path) fails here as it would against AWS.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from cmclient import sigv4
from cmclient.credentials import Credentials
from cmclient.sigv4 import ALGORITHM

SERVICE = "comprehendmedical"
MAX_SKEW = timedelta(minutes=15)

Failure = tuple[str, str]

_PARAM = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details."
)


def _parse_amz_date(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def check(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    region: str,
    credentials: Mapping[str, str] | None,
    now: datetime,
) -> Failure | None:
    """``headers`` has lower-case names. ``credentials`` maps access key ids to secrets;
    when it is None any well-formed, in-scope, current signature is accepted."""
    authorization = headers.get("authorization")
    if not authorization:
        return ("MissingAuthenticationTokenException", "Request is missing Authentication Token")
    algorithm, _, rest = authorization.strip().partition(" ")
    params = dict(_PARAM.findall(rest))
    missing = [name for name in ("Credential", "SignedHeaders", "Signature")
               if not params.get(name)]
    if algorithm != ALGORITHM:
        return ("IncompleteSignatureException",
                f"Unsupported authorization type: the algorithm must be {ALGORITHM}.")
    if missing:
        return ("IncompleteSignatureException", " ".join(
            f"Authorization header requires '{name}' parameter." for name in missing))
    scope = params["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not scope[0]:
        return ("IncompleteSignatureException",
                "Credential must have exactly 5 slash-delimited elements, e.g. "
                "keyid/date/region/service/aws4_request.")
    access_key, day, scope_region, scope_service, _ = scope
    signed = params["SignedHeaders"].split(";")
    if "host" not in signed:
        return ("IncompleteSignatureException",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    raw_date = headers.get("x-amz-date")
    if not raw_date:
        return ("IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a "
                "'Date' header.")
    when = _parse_amz_date(raw_date)
    if when is None:
        return ("IncompleteSignatureException",
                "X-Amz-Date must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z'.")
    if scope_service != SERVICE:
        return ("InvalidSignatureException",
                f"Credential should be scoped to correct service: '{SERVICE}'.")
    if scope_region != region:
        return ("InvalidSignatureException",
                f"Credential should be scoped to a valid region, not '{scope_region}'.")
    if day != raw_date[:8]:
        return ("InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                "date from HTTP.")
    stamp = "%Y%m%dT%H%M%SZ"
    if when < now - MAX_SKEW:
        return ("InvalidSignatureException",
                f"Signature expired: {raw_date} is now earlier than "
                f"{(now - MAX_SKEW).strftime(stamp)} ({now.strftime(stamp)} - 15 min.)")
    if when > now + MAX_SKEW:
        return ("InvalidSignatureException",
                f"Signature not yet current: {raw_date} is still later than "
                f"{(now + MAX_SKEW).strftime(stamp)} ({now.strftime(stamp)} + 15 min.)")
    if credentials is None:
        return None
    secret = credentials.get(access_key)
    if secret is None:
        return ("UnrecognizedClientException",
                "The security token included in the request is invalid.")
    token = headers.get("x-amz-security-token") if "x-amz-security-token" in signed else None
    # Rebuild the canonical request from exactly the headers the client says it signed
    # (AWS accepts any it lists, user-agent included), folded as SigV4 folds them.
    named = [(name, " ".join(headers.get(name, "").split())) for name in signed]
    # The URL only carries the path and query: the Host the client signed is in
    # ``named``. A placeholder authority keeps a Host no URL parser accepts
    # ("h:99999999", "[::1") from raising here; it simply fails to match.
    try:
        creq, signed_list = sigv4.canonical_request(method, f"http://mock.invalid{path}",
                                                    {}, body, named)
    except ValueError:
        return ("InvalidSignatureException", BAD_SIGNATURE)
    expected = sigv4.authorization(
        creq, signed_list, raw_date, Credentials(access_key, secret, token),
        scope_region, scope_service,
    )
    ours = dict(_PARAM.findall(expected.partition(" ")[2]))
    if ours["SignedHeaders"] != params["SignedHeaders"] or not hmac.compare_digest(
        ours["Signature"], params["Signature"]
    ):
        return ("InvalidSignatureException", BAD_SIGNATURE)
    return None
