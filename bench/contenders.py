"""Building the clients under test, all pointed at the same endpoint and credentials."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import httpx

from bench.common import ACCESS_KEY, JOB_ID, REGION, SECRET_KEY
from bench.floor import AsyncFloorClient, FloorClient


def cmclient_sync(url: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    import cmclient

    # quotas=None: a loop of calls measures the client, not its pacing to the
    # account's documented quota (10 describe calls per second).
    client = cmclient.ComprehendMedical(
        region=REGION, endpoint_url=url, credentials=cmclient.Credentials(ACCESS_KEY, SECRET_KEY),
        quotas=None,
    )

    def call() -> Any:
        return client.describe_entities_detection_v2_job(job_id=JOB_ID)

    return call, client.close


def floor_sync(url: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    client = FloorClient(url, ACCESS_KEY, SECRET_KEY, REGION)

    def call() -> Any:
        return client.describe_entities_detection_v2_job(JOB_ID)

    return call, client.close


def boto3_sync(url: str, protocol: str = "json") -> tuple[Callable[[], Any], Callable[[], None]]:
    import boto3
    import botocore.session

    from bench import boto_json

    session = botocore.session.Session()
    if protocol == "json":
        session.set_config_variable("data_path", boto_json.data_path())
    client = boto3.session.Session(botocore_session=session).client(
        "comprehendmedical", region_name=REGION, endpoint_url=url,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
    )
    wire = client.meta.service_model.protocol
    if (protocol == "json") != (wire == "json"):
        raise RuntimeError(f"boto3 speaks {wire}, expected {protocol}")

    def call() -> Any:
        return client.describe_entities_detection_v2_job(JobId=JOB_ID)

    return call, client.close


def async_cmclient(url: str, pool: int, http: httpx.AsyncClient | None = None) -> Any:
    """AsyncComprehendMedical with a pool of ``pool`` connections (max_connections= once
    the client takes it, else an httpx.AsyncClient with those limits)."""
    import cmclient

    credentials = cmclient.Credentials(ACCESS_KEY, SECRET_KEY)
    params = inspect.signature(cmclient.AsyncComprehendMedical).parameters
    if http is None and "max_connections" in params:
        return cmclient.AsyncComprehendMedical(
            region=REGION, endpoint_url=url, credentials=credentials, max_connections=pool,
            quotas=None,
        )
    http = http or httpx.AsyncClient(limits=limits(pool))
    return cmclient.AsyncComprehendMedical(
        region=REGION, endpoint_url=url, credentials=credentials, http_client=http, quotas=None
    )


def async_floor(url: str, http: httpx.AsyncClient) -> AsyncFloorClient:
    return AsyncFloorClient(url, ACCESS_KEY, SECRET_KEY, REGION, http)


def limits(pool: int) -> httpx.Limits:
    return httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
