"""The floor: httpx + a minimal SigV4 + json.loads, no validation and no models.

The least any Python client over httpx can do for one awsJson1_1 call; cmclient's
overhead is measured against it. The signer handles exactly this request shape
(POST /, four signed headers) and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any

import httpx

TARGET = "ComprehendMedical_20181030.DescribeEntitiesDetectionV2Job"
CONTENT_TYPE = "application/x-amz-json-1.1"
_keys: dict[tuple[str, str, str, str], bytes] = {}


def _key(secret: str, day: str, region: str, service: str) -> bytes:
    found = _keys.get((secret, day, region, service))
    if found is None:
        found = hmac.new(f"AWS4{secret}".encode(), day.encode(), hashlib.sha256).digest()
        for part in (region, service, "aws4_request"):
            found = hmac.new(found, part.encode(), hashlib.sha256).digest()
        _keys[(secret, day, region, service)] = found
    return found


def sign(
    host: str, target: str, body: bytes, access_key: str, secret: str, region: str,
    service: str, now: datetime,
) -> dict[str, str]:
    """The headers of a signed awsJson1_1 POST / (Host is sent by httpx)."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = "content-type;host;x-amz-date;x-amz-target"
    creq = (
        f"POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{host}\nx-amz-date:{amz_date}\n"
        f"x-amz-target:{target}\n\n{signed}\n{hashlib.sha256(body).hexdigest()}"
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
    key = _key(secret, day, region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": CONTENT_TYPE,
        "X-Amz-Target": target,
        "X-Amz-Date": amz_date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}",
    }


class FloorClient:
    """One operation, DescribeEntitiesDetectionV2Job, returning the decoded JSON."""

    def __init__(
        self, endpoint_url: str, access_key: str, secret: str, region: str,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = endpoint_url.rstrip("/") + "/"
        self.host = httpx.URL(self.url).netloc.decode()
        self.access_key, self.secret, self.region = access_key, secret, region
        self.http = http or httpx.Client()

    def describe_entities_detection_v2_job(self, job_id: str) -> Any:
        body = json.dumps({"JobId": job_id}).encode()
        headers = sign(
            self.host, TARGET, body, self.access_key, self.secret, self.region,
            "comprehendmedical", datetime.now(timezone.utc),
        )
        response = self.http.post(self.url, content=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return json.loads(response.content)

    def close(self) -> None:
        self.http.close()


class AsyncFloorClient:
    """The same over httpx.AsyncClient."""

    def __init__(
        self, endpoint_url: str, access_key: str, secret: str, region: str,
        http: httpx.AsyncClient,
    ) -> None:
        self.url = endpoint_url.rstrip("/") + "/"
        self.host = httpx.URL(self.url).netloc.decode()
        self.access_key, self.secret, self.region = access_key, secret, region
        self.http = http

    async def describe_entities_detection_v2_job(self, job_id: str) -> Any:
        body = json.dumps({"JobId": job_id}).encode()
        headers = sign(
            self.host, TARGET, body, self.access_key, self.secret, self.region,
            "comprehendmedical", datetime.now(timezone.utc),
        )
        response = await self.http.post(self.url, content=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return json.loads(response.content)
