"""Section 4: SigV4 signing alone, microseconds per signature of the same request.

* cmclient: ``SigningTemplate.sign`` of the operation's template (plus ``datetime.now``),
  exactly what the client does per request;
* botocore: ``SigV4Auth.add_auth`` on one ``AWSRequest`` (it replaces its own
  Authorization and X-Amz-Date headers each time, and reads the clock itself);
* floor: ``bench.floor.sign``, which knows the request's shape in advance;
* cmclient_one_shot: ``cmclient.sigv4.sign_request``, which prepares the shape anew
  for every request (what the credential providers use for their rare STS calls).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from bench.common import ACCESS_KEY, JOB_ID, REGION, SECRET_KEY, rotations, summary

URL = "https://comprehendmedical.us-east-1.amazonaws.com/"
HOST = "comprehendmedical.us-east-1.amazonaws.com"
TARGET = "ComprehendMedical_20181030.DescribeEntitiesDetectionV2Job"
BODY = f'{{"JobId":"{JOB_ID}"}}'.encode()
HEADERS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET}


def _signers() -> dict[str, Callable[[], Any]]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    import cmclient
    from bench.floor import sign as floor_sign
    from cmclient.sigv4 import SigningTemplate, sign_request

    credentials = cmclient.Credentials(ACCESS_KEY, SECRET_KEY)
    # What the client does per request: its operation's template, built once.
    template = SigningTemplate("POST", URL, HEADERS)

    def cmclient_sign() -> Any:
        return template.sign(
            BODY, credentials=credentials, region=REGION, service="comprehendmedical",
            timestamp=datetime.now(timezone.utc),
        )

    def cmclient_one_shot() -> Any:
        return sign_request(
            "POST", URL, HEADERS, BODY, credentials=credentials, region=REGION,
            service="comprehendmedical", timestamp=datetime.now(timezone.utc),
        )

    auth = SigV4Auth(BotoCredentials(ACCESS_KEY, SECRET_KEY), "comprehendmedical", REGION)
    request = AWSRequest(method="POST", url=URL, data=BODY, headers=dict(HEADERS))

    def botocore_sign() -> Any:
        auth.add_auth(request)
        return request.headers["Authorization"]

    def floor() -> Any:
        return floor_sign(
            HOST, TARGET, BODY, ACCESS_KEY, SECRET_KEY, REGION, "comprehendmedical",
            datetime.now(timezone.utc),
        )

    # The floor must sign exactly as cmclient does, or it is no floor.
    at = datetime(2024, 4, 24, 12, 0, 0, tzinfo=timezone.utc)
    expected = sign_request(
        "POST", URL, HEADERS, BODY, credentials=credentials, region=REGION,
        service="comprehendmedical", timestamp=at,
    )["Authorization"]
    got = floor_sign(HOST, TARGET, BODY, ACCESS_KEY, SECRET_KEY, REGION, "comprehendmedical", at)
    if got["Authorization"] != expected:
        raise RuntimeError("the floor signer disagrees with cmclient.sigv4")
    signed = template.sign(BODY, credentials=credentials, region=REGION,
                           service="comprehendmedical", timestamp=at)
    if signed["Authorization"] != expected:
        raise RuntimeError("the client's template signer disagrees with sign_request")

    return {
        "cmclient": cmclient_sign, "botocore": botocore_sign, "floor": floor,
        "cmclient_one_shot": cmclient_one_shot,
    }


def run(rounds: int, calls: int) -> dict[str, Any]:
    signers = _signers()
    for sign in signers.values():
        for _ in range(calls // 4 + 10):
            sign()
    samples: dict[str, list[float]] = {name: [] for name in signers}
    for order in rotations(list(signers), rounds):
        for name in order:
            sign = signers[name]
            started = time.perf_counter()
            for _ in range(calls):
                sign()
            samples[name].append((time.perf_counter() - started) / calls * 1e6)
    return {name: summary(values) for name, values in samples.items()}
