"""The clients find region, endpoint and credentials the way the AWS SDKs do."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from cmclient import AsyncComprehendMedical, ComprehendMedical, Credentials, errors
from tests.helpers.aws_fakes import AwsHome


@pytest.fixture
def home(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> AwsHome:
    aws = AwsHome(tmp_path)  # type: ignore[arg-type]
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    return aws


def test_region_endpoint_and_credentials_come_from_the_environment(
    home: AwsHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    with ComprehendMedical() as client:
        assert client.region == "eu-west-2"
        assert client.endpoint_url == "https://comprehendmedical.eu-west-2.amazonaws.com"
        creds = client.get_credentials()
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == (
        "AKIDENV", "env-secret", "env-token")
    assert "env-secret" not in repr(creds) and "env-token" not in repr(creds)


def test_profile_argument_selects_region_keys_and_endpoint(home: AwsHome) -> None:
    home.config("[profile clinic]\nregion = ca-central-1\n"
                "endpoint_url = http://127.0.0.1:9/custom\n")
    home.credentials("[clinic]\naws_access_key_id = AKIDPROFILE\n"
                     "aws_secret_access_key = profile-secret\n")
    with ComprehendMedical(profile="clinic") as client:
        assert client.region == "ca-central-1"
        assert client.endpoint_url == "http://127.0.0.1:9/custom"
        assert client.get_credentials().access_key_id == "AKIDPROFILE"


def test_use_fips_selects_the_fips_endpoint(home: AwsHome) -> None:
    with ComprehendMedical(region="us-east-1", use_fips=True,
                           credentials=Credentials("a", "b")) as client:
        assert client.endpoint_url == "https://comprehendmedical-fips.us-east-1.amazonaws.com"


def test_no_region_fails_when_the_client_is_built(home: AwsHome) -> None:
    with pytest.raises(errors.NoRegionError, match="region"):
        ComprehendMedical()


def test_no_credentials_fails_at_the_first_call_listing_where_it_looked(home: AwsHome) -> None:
    sent: list[httpx.Request] = []
    http = httpx.Client(transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200)))
    client = ComprehendMedical(region="us-east-1", http_client=http)  # building works
    with pytest.raises(errors.NoCredentialsError) as caught:
        client.describe_entities_detection_v2_job(job_id="abc")
    message = str(caught.value)
    assert "AWS_ACCESS_KEY_ID" in message and "metadata" in message.lower()
    assert sent == []


def test_async_client_resolves_the_same_way(home: AwsHome, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDASYNC")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")

    async def run() -> tuple[str, str]:
        async with AsyncComprehendMedical() as client:
            return client.region, (await client.get_credentials()).access_key_id

    assert asyncio.run(run()) == ("us-west-2", "AKIDASYNC")


def test_connection_failure_in_a_region_without_the_service_names_the_regions(
    home: AwsHome,
) -> None:
    # A region that does not host Comprehend Medical, reached through a transport that
    # refuses to connect (no DNS, no network: a local port nothing listens on).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    client = ComprehendMedical(region="sa-east-1", credentials=Credentials("a", "b"),
                               http_client=http, max_attempts=1)
    with pytest.raises(errors.EndpointConnectionError) as caught:
        client.detect_phi(text="x")
    assert "Comprehend Medical is offered in" in str(caught.value)
    assert "us-east-1" in str(caught.value)
    client = ComprehendMedical(region="sa-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                               credentials=Credentials("a", "b"), max_attempts=1)
    with pytest.raises(errors.EndpointConnectionError) as caught:
        client.detect_phi(text="x")
    client.close()
    assert "offered in" not in str(caught.value)  # a custom endpoint: no region hint
