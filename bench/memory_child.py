"""Child of section 5: build N clients of one kind in a fresh process, report RSS growth.

``python -m bench.memory_child KIND URL N`` prints JSON: the RSS (KiB) after one warm-up
client made a call (imports and validators paid), after N more clients were built,
and after each of them made one call (connections open).
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from typing import Any

from bench.common import ACCESS_KEY, JOB_ID, REGION, SECRET_KEY, rss_kib


def _maker(kind: str, url: str) -> tuple[Callable[[], Any], Callable[[Any], Any]]:
    if kind == "cmclient":
        import cmclient

        credentials = cmclient.Credentials(ACCESS_KEY, SECRET_KEY)
        return (
            lambda: cmclient.ComprehendMedical(
                region=REGION, endpoint_url=url, credentials=credentials
            ),
            lambda c: c.describe_entities_detection_v2_job(job_id=JOB_ID),
        )
    if kind == "boto3":
        import boto3

        return (
            lambda: boto3.client(
                "comprehendmedical", region_name=REGION, endpoint_url=url,
                aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            ),
            lambda c: c.describe_entities_detection_v2_job(JobId=JOB_ID),
        )
    if kind == "floor":
        from bench.floor import FloorClient

        return (
            lambda: FloorClient(url, ACCESS_KEY, SECRET_KEY, REGION),
            lambda c: c.describe_entities_detection_v2_job(JOB_ID),
        )
    raise SystemExit(f"unknown kind {kind}")


def main() -> None:
    kind, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    make, call = _maker(kind, url)
    warm = make()
    call(warm)
    gc.collect()
    before = rss_kib()
    clients = [make() for _ in range(count)]
    gc.collect()
    built = rss_kib()
    for client in clients:
        call(client)
    gc.collect()
    called = rss_kib()
    print(json.dumps({"before": before, "built": built, "called": called}))


if __name__ == "__main__":
    main()
