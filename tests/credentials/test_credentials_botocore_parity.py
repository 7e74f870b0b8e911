"""Differential: the same environment and files for botocore (the oracle) and cmclient
give the same credentials, region and endpoint. botocore is pointed at the same
loopback fakes (IMDS, container endpoint, STS) as cmclient; the fakes hand out a new
key id per fetch, so for those we compare the secret, the token and the expiry."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import botocore.session
import pytest

from cmclient._protocol.config import resolve_config
from cmclient.credentials import resolve_provider
from cmclient.errors import NoRegionError
from tests.helpers.aws_fakes import AwsHome, FakeContainer, FakeImds, FakeSts, apply_env

Setup = Callable[[AwsHome, dict[str, str]], None]


def boto(profile: str | None = None) -> tuple[object, str | None, str]:
    session = botocore.session.Session(profile=profile)
    creds = session.get_credentials()
    frozen = creds.get_frozen_credentials() if creds is not None else None
    region = session.get_config_variable("region")
    client = session.create_client("comprehendmedical", region_name=region or "us-east-1")
    key = None if frozen is None else (frozen.access_key, frozen.secret_key, frozen.token)
    return key, region, client.meta.endpoint_url


def ours(profile: str | None = None) -> tuple[object, str | None, str]:
    import os

    try:
        config = resolve_config(profile=profile, environ=os.environ)
    except NoRegionError:  # botocore's client defaults to us-east-1 in boto() above
        config = resolve_config(region="us-east-1", profile=profile, environ=os.environ)
    creds = resolve_provider(None, config=config, environ=os.environ).load()
    key = (creds.access_key_id, creds.secret_access_key, creds.session_token)
    return key, config.region, config.endpoint_url


def same(a: tuple[object, str | None, str], b: tuple[object, str | None, str], fake: bool) -> None:
    (ka, ra, ea), (kb, rb, eb) = a, b
    assert isinstance(ka, tuple) and isinstance(kb, tuple)
    if fake:  # a new key id per fetch: compare the rest
        assert ka[1:] == kb[1:] and str(ka[0])[:8] == str(kb[0])[:8]
    else:
        assert ka == kb
    assert (ra or "us-east-1") == rb
    assert ea == eb


CASES: dict[str, tuple[str | None, str, str, dict[str, str]]] = {
    # name: (profile, config file, credentials file, extra env)
    "env keys": (None, "", "", {"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "SKENV",
                                "AWS_SESSION_TOKEN": "TOK", "AWS_DEFAULT_REGION": "eu-west-1"}),
    "legacy security token": (None, "", "", {"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "S",
                                             "AWS_SECURITY_TOKEN": "OLD"}),
    "credentials file beats config file": (
        None, "[default]\nregion = us-west-2\naws_access_key_id = AKCONF\naws_secret_access_key = S1\n",
        "[default]\naws_access_key_id = AKCRED\naws_secret_access_key = S2\n", {}),
    "explicit profile skips env": (
        "dev", "[profile dev]\nregion = ca-central-1\n",
        "[dev]\naws_access_key_id = AKDEV\naws_secret_access_key = SDEV\n",
        {"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "SKENV"}),
    "AWS_PROFILE keeps env keys": (
        None, "[profile dev]\nregion = ca-central-1\n",
        "[dev]\naws_access_key_id = AKDEV\naws_secret_access_key = SDEV\n",
        {"AWS_PROFILE": "dev", "AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "SKENV"}),
    "config file profile keys": (
        None, "[profile p]\nregion = us-gov-west-1\naws_access_key_id = AKP\naws_secret_access_key = SP\n"
              "aws_session_token = TP\n", "", {"AWS_PROFILE": "p"}),
    "fips from profile": (
        None, "[default]\nregion = us-east-2\nuse_fips_endpoint = true\n"
              "aws_access_key_id = A\naws_secret_access_key = S\n", "", {}),
    "china partition": (None, "[default]\nregion = cn-north-1\naws_access_key_id = A\naws_secret_access_key = S\n",
                        "", {}),
    "fips env in gov": (None, "", "", {"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S",
                                       "AWS_DEFAULT_REGION": "us-gov-west-1", "AWS_USE_FIPS_ENDPOINT": "true"}),
    "endpoint env service": (None, "", "", {"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S",
                                            "AWS_ENDPOINT_URL_COMPREHENDMEDICAL": "http://localhost:4566",
                                            "AWS_ENDPOINT_URL": "http://other:1"}),
    "endpoint services section": (
        None, "[default]\nregion = eu-west-2\nservices = loc\nendpoint_url = http://global:1\n"
              "aws_access_key_id = A\naws_secret_access_key = S\n"
              "[services loc]\ncomprehendmedical =\n  endpoint_url = http://section:2\n", "", {}),
    "endpoint profile global": (
        None, "[default]\nregion = eu-west-2\nendpoint_url = http://global:1\n"
              "aws_access_key_id = A\naws_secret_access_key = S\n", "", {}),
    "ignore configured endpoints": (
        None, "[default]\nregion = eu-west-2\nendpoint_url = http://global:1\n"
              "aws_access_key_id = A\naws_secret_access_key = S\n", "",
        {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true", "AWS_ENDPOINT_URL": "http://x:1"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_static_sources_match_botocore(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile, config, credentials, extra = CASES[name]
    home = AwsHome(tmp_path).config(config).credentials(credentials)
    apply_env(monkeypatch, home.env(**extra))
    same(boto(profile), ours(profile), fake=False)


def test_credential_process_matches_botocore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = AwsHome(tmp_path)
    script = home.file("p.py", "import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': 'AKP', "
                               "'SecretAccessKey': 'SP', 'SessionToken': 'TP', 'Expiration': '2099-01-01T00:00:00Z'}))\n")
    home.config(f"[default]\nregion = us-east-1\ncredential_process = {sys.executable} {script}\n")
    apply_env(monkeypatch, home.env())
    same(boto(), ours(), fake=False)


def test_container_matches_botocore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = AwsHome(tmp_path)
    token = home.file("tok", "secret-token")
    with FakeContainer(auth_token="secret-token") as fake:
        apply_env(monkeypatch, home.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=fake.url + "/c",
                                        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=token))
        same(boto(), ours(), fake=True)


@pytest.mark.parametrize("token_status", [200, 404])
def test_imds_matches_botocore(token_status: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = AwsHome(tmp_path)
    with FakeImds(token_status=token_status, require_token=token_status == 200) as fake:
        env = home.env(AWS_EC2_METADATA_SERVICE_ENDPOINT=fake.url, AWS_DEFAULT_REGION="us-west-2")
        del env["AWS_EC2_METADATA_DISABLED"]
        apply_env(monkeypatch, env)
        same(boto(), ours(), fake=True)
        methods = [r.method for r in fake.requests]
    assert methods.count("PUT") == 2  # each client asked for a token first


def test_web_identity_matches_botocore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = AwsHome(tmp_path)
    token = home.file("web", "eyJ.jwt")
    with FakeSts() as sts:
        apply_env(monkeypatch, home.env(AWS_WEB_IDENTITY_TOKEN_FILE=token, AWS_ROLE_ARN="arn:aws:iam::1:role/r",
                                        AWS_ROLE_SESSION_NAME="sess", AWS_ENDPOINT_URL_STS=sts.url,
                                        AWS_DEFAULT_REGION="us-east-1"))
        same(boto(), ours(), fake=True)
    boto_call, our_call = sts.calls
    assert boto_call == our_call


@pytest.mark.parametrize("source", ["source_profile = base", "credential_source = Environment"])
def test_assume_role_matches_botocore(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = AwsHome(tmp_path)
    home.credentials("[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n")
    home.config(f"[profile admin]\nregion = eu-west-1\nrole_arn = arn:aws:iam::1:role/a\n{source}\n"
                "role_session_name = sess\nexternal_id = ext\nduration_seconds = 900\n")
    with FakeSts() as sts:
        apply_env(monkeypatch, home.env(AWS_ENDPOINT_URL_STS=sts.url, AWS_ACCESS_KEY_ID="AKBASE",
                                        AWS_SECRET_ACCESS_KEY="SKBASE"))
        same(boto("admin"), ours("admin"), fake=True)
    boto_call, our_call = sts.calls
    assert boto_call == our_call
    boto_auth, our_auth = (r.headers["authorization"] for r in sts.requests)
    assert boto_auth.split("/")[0] == our_auth.split("/")[0] == "AWS4-HMAC-SHA256 Credential=AKBASE"
    assert boto_auth.split("/")[2:4] == our_auth.split("/")[2:4] == ["eu-west-1", "sts"]


def test_aws_region_is_where_we_deliberately_differ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = AwsHome(tmp_path).config("[default]\nregion = eu-west-1\n")
    apply_env(monkeypatch, home.env(AWS_REGION="us-east-2"))
    import os

    assert botocore.session.Session().get_config_variable("region") == "eu-west-1"
    assert resolve_config(environ=os.environ).region == "us-east-2"
