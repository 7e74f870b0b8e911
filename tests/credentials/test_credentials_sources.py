"""Each credential source against real files and real loopback servers, sync and async."""

from __future__ import annotations

import asyncio
import copy
import json
import pickle
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cmclient import errors
from cmclient._protocol.config import InvalidConfigError, resolve_config
from cmclient.credentials import (
    CredentialChain,
    CredentialProvider,
    CredentialRetrievalError,
    Credentials,
    StaticProvider,
    resolve_provider,
)
from tests.helpers.aws_fakes import AwsHome, FakeContainer, FakeImds, FakeSts


@pytest.fixture
def home(tmp_path: Path) -> AwsHome:
    return AwsHome(tmp_path)


def chain(env: dict[str, str], profile: str | None = None) -> CredentialProvider:
    config = resolve_config(region="us-east-1", profile=profile, environ=env)
    return resolve_provider(None, config=config, environ=env)


def load_both(env: dict[str, str], profile: str | None = None) -> Credentials:
    """Load through load() and, on a second chain, through aload(); both must agree."""
    sync = chain(env, profile).load()
    async_ = asyncio.run(chain(env, profile).aload())
    # Fakes hand out a new key id per fetch; secrets and tokens of static sources match.
    if not sync.access_key_id.startswith("ASIAFAKE"):
        assert (sync.access_key_id, sync.secret_access_key, sync.session_token) == (
            async_.access_key_id, async_.secret_access_key, async_.session_token)
    assert async_.access_key_id[:4] == sync.access_key_id[:4]
    return sync


# --- explicit and the value type ---------------------------------------------------

def test_explicit_credentials_become_a_static_provider(home: AwsHome) -> None:
    creds = Credentials("AKID", "SECRET")
    config = resolve_config(region="us-east-1", environ=home.env())
    provider = resolve_provider(creds, config=config, environ=home.env(AWS_ACCESS_KEY_ID="OTHER"))
    assert isinstance(provider, StaticProvider) and provider.load() is creds
    custom = StaticProvider(creds)
    assert resolve_provider(custom, config=config) is custom


def test_credentials_repr_never_shows_secret_or_token() -> None:
    creds = Credentials("AKIDVISIBLE", "s3cr3t-value", "t0k3n-value",
                        datetime(2030, 1, 1, tzinfo=timezone.utc))
    text = repr(creds) + str(creds)
    assert "AKIDVISIBLE" in text
    assert "s3cr3t" not in text and "t0k3n" not in text


def test_credentials_are_an_immutable_value() -> None:
    expiry = datetime(2030, 1, 1, tzinfo=timezone.utc)
    creds = Credentials("AKID", "SECRET", session_token="TOKEN", expiration=expiry)
    same = Credentials("AKID", "SECRET", "TOKEN", expiry)
    assert creds == same and hash(creds) == hash(same)
    assert creds != Credentials("AKID", "SECRET", "OTHER", expiry)
    assert creds != ("AKID", "SECRET", "TOKEN", expiry)
    assert pickle.loads(pickle.dumps(creds)) == creds
    assert copy.deepcopy(creds) == creds
    for name in ("access_key_id", "secret_access_key", "session_token", "expiration"):
        with pytest.raises(AttributeError):
            setattr(creds, name, "x")
    with pytest.raises(AttributeError):
        creds.other = "x"  # type: ignore[attr-defined]
    for key, secret in (("", "SECRET"), ("AKID", "")):
        with pytest.raises(ValueError, match="non-empty"):
            Credentials(key, secret)


# --- environment ---------------------------------------------------------------------

def test_environment_keys_with_session_token(home: AwsHome) -> None:
    env = home.env(AWS_ACCESS_KEY_ID="AKENV", AWS_SECRET_ACCESS_KEY="SKENV", AWS_SESSION_TOKEN="TOK")
    creds = load_both(env)
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == ("AKENV", "SKENV", "TOK")


def test_legacy_aws_security_token_is_read(home: AwsHome) -> None:
    env = home.env(AWS_ACCESS_KEY_ID="AKENV", AWS_SECRET_ACCESS_KEY="SKENV", AWS_SECURITY_TOKEN="OLD")
    assert chain(env).load().session_token == "OLD"


def test_environment_wins_over_the_profile(home: AwsHome) -> None:
    home.credentials("[default]\naws_access_key_id = AKFILE\naws_secret_access_key = SKFILE\n")
    env = home.env(AWS_ACCESS_KEY_ID="AKENV", AWS_SECRET_ACCESS_KEY="SKENV")
    assert chain(env).load().access_key_id == "AKENV"


def test_explicit_profile_skips_the_environment_keys(home: AwsHome) -> None:
    home.credentials("[dev]\naws_access_key_id = AKDEV\naws_secret_access_key = SKDEV\n")
    env = home.env(AWS_ACCESS_KEY_ID="AKENV", AWS_SECRET_ACCESS_KEY="SKENV")
    assert chain(env, profile="dev").load().access_key_id == "AKDEV"
    assert chain(home.env(AWS_PROFILE="dev", AWS_ACCESS_KEY_ID="AKENV",
                          AWS_SECRET_ACCESS_KEY="SKENV")).load().access_key_id == "AKENV"


def test_partial_environment_keys_are_a_configuration_error(home: AwsHome) -> None:
    with pytest.raises(InvalidConfigError, match="AWS_SECRET_ACCESS_KEY"):
        chain(home.env(AWS_ACCESS_KEY_ID="AKENV")).load()


# --- shared files ----------------------------------------------------------------------

def test_credentials_file_wins_over_config_file_for_the_same_profile(home: AwsHome) -> None:
    home.credentials("[default]\naws_access_key_id = AKCRED\naws_secret_access_key = SKCRED\n")
    home.config("[default]\naws_access_key_id = AKCONF\naws_secret_access_key = SKCONF\n")
    assert load_both(home.env()).access_key_id == "AKCRED"


def test_config_file_profile_section_holds_static_keys(home: AwsHome) -> None:
    home.config("[profile dev]\naws_access_key_id = AKCONF\naws_secret_access_key = SKCONF\n"
                "aws_session_token = TCONF\n")
    creds = chain(home.env(), profile="dev").load()
    assert (creds.access_key_id, creds.session_token) == ("AKCONF", "TCONF")


def test_partial_keys_in_a_file_are_a_configuration_error(home: AwsHome) -> None:
    home.credentials("[default]\naws_access_key_id = AKCRED\n")
    with pytest.raises(InvalidConfigError, match="aws_secret_access_key"):
        chain(home.env()).load()


# --- credential_process --------------------------------------------------------------

def process_profile(home: AwsHome, payload: dict[str, object], exit_code: int = 0) -> None:
    script = home.file("creds.py", (
        "import json, sys\n"
        f"sys.stderr.write('process said no')\nprint(json.dumps({payload!r}))\nsys.exit({exit_code})\n"))
    home.config(f"[default]\ncredential_process = {sys.executable} {script}\n")


def test_credential_process_json_version_1(home: AwsHome) -> None:
    process_profile(home, {"Version": 1, "AccessKeyId": "AKPROC", "SecretAccessKey": "SKPROC",
                           "SessionToken": "TPROC", "Expiration": "2099-01-01T00:00:00Z"})
    creds = load_both(home.env())
    assert (creds.access_key_id, creds.session_token) == ("AKPROC", "TPROC")
    assert creds.expiration == datetime(2099, 1, 1, tzinfo=timezone.utc)


def test_credential_process_wrong_version_is_an_error(home: AwsHome) -> None:
    process_profile(home, {"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "S"})
    with pytest.raises(CredentialRetrievalError, match="Version"):
        chain(home.env()).load()


def test_credential_process_failure_reports_exit_status_and_stderr(home: AwsHome) -> None:
    process_profile(home, {}, exit_code=3)
    with pytest.raises(CredentialRetrievalError, match="status 3: process said no"):
        chain(home.env()).load()
    with pytest.raises(CredentialRetrievalError, match="status 3"):
        asyncio.run(chain(home.env()).aload())


def test_credential_process_is_rerun_before_its_credentials_expire(home: AwsHome) -> None:
    counter = home.file("count.txt", "0")
    script = home.file("counting.py", (
        "import json\n"
        f"p = {counter!r}\nn = int(open(p).read()) + 1\nopen(p, 'w').write(str(n))\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': f'AK{n}', 'SecretAccessKey': 'S',"
        " 'SessionToken': 'T', 'Expiration': '2030-01-01T01:00:00Z'}))\n"))
    home.config(f"[default]\ncredential_process = {sys.executable} {script}\n")
    clock = [datetime(2030, 1, 1, 0, 0, tzinfo=timezone.utc)]
    env = home.env()
    config = resolve_config(region="us-east-1", environ=env)
    provider = resolve_provider(None, config=config, environ=env, now=lambda: clock[0])
    assert provider.load().access_key_id == "AK1"
    clock[0] += timedelta(minutes=20)  # 40 minutes left: still fresh
    assert provider.load().access_key_id == "AK1"
    clock[0] += timedelta(minutes=31)  # 9 minutes left: mandatory refresh
    assert provider.load().access_key_id == "AK2"


# --- container ---------------------------------------------------------------------

def test_container_full_uri_with_authorization_token(home: AwsHome) -> None:
    with FakeContainer(auth_token="Bearer abc") as fake:
        env = home.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=fake.url + "/v2/credentials/x",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer abc")
        creds = load_both(env)
    assert creds.secret_access_key == "container-secret" and creds.session_token == "container-token"
    assert creds.expiration is not None
    assert fake.requests[0].path == "/v2/credentials/x"
    assert fake.requests[0].headers["authorization"] == "Bearer abc"


def test_container_token_file_wins_and_its_trailing_newline_is_trimmed(home: AwsHome) -> None:
    token_file = home.file("token", "pod-identity-token\n")
    with FakeContainer(auth_token="pod-identity-token") as fake:
        env = home.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=fake.url + "/creds",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN="ignored",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=token_file)
        load_both(env)
    assert {r.headers["authorization"] for r in fake.requests} == {"pod-identity-token"}


@pytest.mark.parametrize("url", ["http://example.com/creds", "http://10.0.0.1/creds",
                                 "http://169.254.169.254/creds"])
def test_container_full_uri_host_must_be_allowed(home: AwsHome, url: str) -> None:
    with pytest.raises(InvalidConfigError, match="not allowed"):
        chain(home.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=url)).load()


def test_container_endpoint_failing_is_retried_then_raises(home: AwsHome) -> None:
    with FakeContainer(status=500) as fake:
        env = home.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=fake.url + "/creds")
        with pytest.raises(CredentialRetrievalError, match="HTTP 500"):
            chain(env).load()
    assert fake.fetches("/creds") == 3


def test_container_comes_after_the_profile(home: AwsHome) -> None:
    home.credentials("[default]\naws_access_key_id = AKFILE\naws_secret_access_key = SKFILE\n")
    with FakeContainer() as fake:
        env = home.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=fake.url + "/creds")
        assert chain(env).load().access_key_id == "AKFILE"
    assert fake.requests == []


# --- EC2 instance metadata ------------------------------------------------------------

def imds_env(home: AwsHome, fake: FakeImds, **extra: str) -> dict[str, str]:
    env = home.env(AWS_EC2_METADATA_SERVICE_ENDPOINT=fake.url)
    del env["AWS_EC2_METADATA_DISABLED"]
    env.update(extra)
    return env


def test_imds_v2_token_then_role_then_credentials(home: AwsHome) -> None:
    with FakeImds() as fake:
        creds = load_both(imds_env(home, fake))
    assert creds.secret_access_key == "imds-secret" and creds.expiration is not None
    first = fake.requests[:3]
    assert [(r.method, r.path) for r in first] == [
        ("PUT", "/latest/api/token"),
        ("GET", "/latest/meta-data/iam/security-credentials/"),
        ("GET", "/latest/meta-data/iam/security-credentials/app-role"),
    ]
    assert first[0].headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    assert first[1].headers["x-aws-ec2-metadata-token"] == FakeImds.TOKEN


def test_imds_falls_back_to_v1_when_the_token_call_is_forbidden(home: AwsHome) -> None:
    with FakeImds(token_status=403, require_token=False) as fake:
        creds = chain(imds_env(home, fake)).load()
    assert creds.secret_access_key == "imds-secret"
    assert "x-aws-ec2-metadata-token" not in fake.requests[1].headers


@pytest.mark.parametrize("how", ["env", "profile"])
def test_imds_v1_is_never_used_when_disabled(home: AwsHome, how: str) -> None:
    with FakeImds(token_status=403, require_token=False) as fake:
        env = imds_env(home, fake)
        if how == "env":
            env["AWS_EC2_METADATA_V1_DISABLED"] = "true"
        else:
            home.config("[default]\nec2_metadata_v1_disabled = true\n")
        with pytest.raises(errors.NoCredentialsError, match="IMDSv1 is disabled"):
            chain(env).load()
    assert [r.method for r in fake.requests] == ["PUT"]


def test_imds_token_request_rejected_with_400_does_not_fall_back(home: AwsHome) -> None:
    with FakeImds(token_status=400, require_token=False) as fake, pytest.raises(
        errors.NoCredentialsError, match="HTTP 400"
    ):
        chain(imds_env(home, fake)).load()
    assert [r.method for r in fake.requests] == ["PUT"]


def test_imds_disabled_makes_no_request(home: AwsHome) -> None:
    with FakeImds() as fake:
        env = imds_env(home, fake, AWS_EC2_METADATA_DISABLED="true")
        with pytest.raises(errors.NoCredentialsError, match="disabled by AWS_EC2_METADATA_DISABLED"):
            chain(env).load()
    assert fake.requests == []


def test_imds_unreachable_is_tried_twice_then_no_credentials(home: AwsHome) -> None:
    with FakeImds() as fake:
        url = fake.url
    env = home.env(AWS_EC2_METADATA_SERVICE_ENDPOINT=url)
    del env["AWS_EC2_METADATA_DISABLED"]
    with pytest.raises(errors.NoCredentialsError, match="EC2 instance metadata at " + url):
        chain(env).load()


# --- nothing found ---------------------------------------------------------------------

def test_no_credentials_error_lists_where_it_looked_and_comes_on_first_load(home: AwsHome) -> None:
    provider = chain(home.env())  # building it looks nowhere
    with pytest.raises(errors.NoCredentialsError) as info:
        provider.load()
    message = str(info.value)
    for where in ("AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE", "credentials [default]",
                  "credential_process", "config [default]", "AWS_CONTAINER_CREDENTIALS",
                  "EC2 instance metadata"):
        assert where in message
    with pytest.raises(errors.NoCredentialsError):
        asyncio.run(provider.aload())


# --- STS: web identity and AssumeRole ---------------------------------------------------

def test_web_identity_from_environment(home: AwsHome) -> None:
    token = home.file("web-token", "eyJ.web.token")
    with FakeSts() as sts:
        env = home.env(AWS_WEB_IDENTITY_TOKEN_FILE=token, AWS_ROLE_ARN="arn:aws:iam::1:role/irsa",
                       AWS_ROLE_SESSION_NAME="pod-1", AWS_ENDPOINT_URL_STS=sts.url)
        creds = load_both(env)
    assert creds.access_key_id.startswith("ASIAFAKE") and creds.session_token
    call = sts.calls[0]
    assert call == {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                    "RoleArn": "arn:aws:iam::1:role/irsa", "RoleSessionName": "pod-1",
                    "WebIdentityToken": "eyJ.web.token"}
    assert "authorization" not in sts.requests[0].headers
    assert sts.requests[0].headers["content-type"].startswith("application/x-www-form-urlencoded")


def test_web_identity_from_the_profile(home: AwsHome) -> None:
    token = home.file("web-token", "tok")
    with FakeSts() as sts:
        home.config(f"[profile irsa]\nweb_identity_token_file = {token}\n"
                    f"role_arn = arn:aws:iam::1:role/p\n")
        creds = chain(home.env(AWS_ENDPOINT_URL_STS=sts.url), profile="irsa").load()
    assert creds.access_key_id.startswith("ASIAFAKE")
    assert sts.calls[0]["RoleSessionName"].startswith("cmclient-session-")


def test_web_identity_without_role_arn_is_a_configuration_error(home: AwsHome) -> None:
    token = home.file("web-token", "tok")
    with pytest.raises(InvalidConfigError, match="role ARN"):
        chain(home.env(AWS_WEB_IDENTITY_TOKEN_FILE=token)).load()


def test_assume_role_with_source_profile_signs_with_the_source_keys(home: AwsHome) -> None:
    home.credentials("[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n")
    home.config("[profile admin]\nrole_arn = arn:aws:iam::1:role/admin\nsource_profile = base\n"
                "external_id = ext-42\nduration_seconds = 1800\nrole_session_name = me\n")
    with FakeSts() as sts:
        creds = load_both(home.env(AWS_ENDPOINT_URL_STS=sts.url), profile="admin")
    assert creds.secret_access_key.startswith("sts-secret")
    assert sts.calls[0] == {"Action": "AssumeRole", "Version": "2011-06-15",
                            "RoleArn": "arn:aws:iam::1:role/admin", "RoleSessionName": "me",
                            "ExternalId": "ext-42", "DurationSeconds": "1800"}
    auth = sts.requests[0].headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKBASE/")
    assert "/us-east-1/sts/aws4_request" in auth


def test_assume_role_signature_matches_botocore(home: AwsHome) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    home.credentials("[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n")
    home.config("[profile admin]\nrole_arn = arn:aws:iam::1:role/admin\nsource_profile = base\n")
    with FakeSts() as sts:
        chain(home.env(AWS_ENDPOINT_URL_STS=sts.url), profile="admin").load()
    seen = sts.requests[0]
    request = AWSRequest(method="POST", url=sts.url + "/", data=seen.body,
                         headers={"Content-Type": seen.headers["content-type"]})
    signer = SigV4Auth(BotoCredentials("AKBASE", "SKBASE"), "sts", "us-east-1")
    amz_date = seen.headers["x-amz-date"]
    request.context["timestamp"] = amz_date
    request.headers["X-Amz-Date"] = amz_date
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    assert seen.headers["authorization"].endswith("Signature=" + signature)


def test_assume_role_chains_through_a_source_profile_that_assumes_a_role(home: AwsHome) -> None:
    home.credentials("[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n")
    home.config("[profile mid]\nrole_arn = arn:aws:iam::1:role/mid\nsource_profile = base\n"
                "[profile top]\nrole_arn = arn:aws:iam::1:role/top\nsource_profile = mid\n")
    with FakeSts() as sts:
        chain(home.env(AWS_ENDPOINT_URL_STS=sts.url), profile="top").load()
    assert [c["RoleArn"] for c in sts.calls] == ["arn:aws:iam::1:role/mid", "arn:aws:iam::1:role/top"]
    assert sts.requests[1].headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIAFAKE1/")


def test_assume_role_with_credential_source_environment(home: AwsHome) -> None:
    home.config("[profile ci]\nrole_arn = arn:aws:iam::1:role/ci\ncredential_source = Environment\n")
    with FakeSts() as sts:
        env = home.env(AWS_ENDPOINT_URL_STS=sts.url, AWS_ACCESS_KEY_ID="AKENV",
                       AWS_SECRET_ACCESS_KEY="SKENV")
        creds = chain(env, profile="ci").load()
    assert creds.access_key_id == "ASIAFAKE1"
    assert "Credential=AKENV/" in sts.requests[0].headers["authorization"]


def test_assume_role_with_credential_source_ec2_and_container(home: AwsHome) -> None:
    home.config("[profile ec2]\nrole_arn = arn:aws:iam::1:role/a\ncredential_source = Ec2InstanceMetadata\n"
                "[profile ecs]\nrole_arn = arn:aws:iam::1:role/b\ncredential_source = EcsContainer\n")
    with FakeSts() as sts, FakeImds() as imds, FakeContainer() as container:
        env = imds_env(home, imds, AWS_ENDPOINT_URL_STS=sts.url,
                       AWS_CONTAINER_CREDENTIALS_FULL_URI=container.url + "/c")
        chain(env, profile="ec2").load()
        chain(env, profile="ecs").load()
    assert imds.fetches("app-role") == 1 and container.fetches("/c") == 1
    assert [c["RoleArn"] for c in sts.calls] == ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ("[profile x]\nrole_arn = r\n", "neither source_profile nor credential_source"),
        ("[profile x]\nrole_arn = r\nsource_profile = x2\ncredential_source = Environment\n", "both"),
        ("[profile x]\nrole_arn = r\nsource_profile = ghost\n", "does not exist"),
        ("[profile x]\nrole_arn = r\ncredential_source = Nowhere\n", "not one of"),
        ("[profile x]\nrole_arn = r\nsource_profile = y\n[profile y]\nrole_arn = r\nsource_profile = x\n",
         "Infinite loop"),
    ],
)
def test_bad_assume_role_configuration_is_a_configuration_error(home: AwsHome, config: str, match: str) -> None:
    home.config(config)
    with pytest.raises(InvalidConfigError, match=match):
        chain(home.env(AWS_ENDPOINT_URL_STS="http://127.0.0.1:9"), profile="x").load()


def test_source_profile_may_be_itself_when_it_has_keys(home: AwsHome) -> None:
    home.credentials("[self]\naws_access_key_id = AKSELF\naws_secret_access_key = SKSELF\n")
    home.config("[profile self]\nrole_arn = arn:aws:iam::1:role/s\nsource_profile = self\n")
    with FakeSts() as sts:
        creds = chain(home.env(AWS_ENDPOINT_URL_STS=sts.url), profile="self").load()
    assert creds.access_key_id == "ASIAFAKE1"
    assert "Credential=AKSELF/" in sts.requests[0].headers["authorization"]


def test_sts_error_response_maps_to_a_service_error(home: AwsHome) -> None:
    home.credentials("[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n")
    home.config("[profile admin]\nrole_arn = arn:aws:iam::1:role/admin\nsource_profile = base\n")
    with FakeSts(error=("AccessDenied", "not allowed to assume", 403)) as sts, pytest.raises(
        errors.ServiceError
    ) as info:
        chain(home.env(AWS_ENDPOINT_URL_STS=sts.url), profile="admin").load()
    err = info.value
    assert (err.code, err.message, err.status_code, err.request_id, err.operation_name) == (
        "AccessDenied", "not allowed to assume", 403, "req-err-1", "AssumeRole")


def test_sts_expired_token_maps_to_its_class(home: AwsHome) -> None:
    token = home.file("web-token", "tok")
    with FakeSts(error=("ExpiredTokenException", "token expired", 400)) as sts:
        env = home.env(AWS_WEB_IDENTITY_TOKEN_FILE=token, AWS_ROLE_ARN="arn:aws:iam::1:role/r",
                       AWS_ENDPOINT_URL_STS=sts.url)
        with pytest.raises(errors.ExpiredTokenException):
            asyncio.run(chain(env).aload())


def test_sts_unreachable_is_an_endpoint_connection_error(home: AwsHome) -> None:
    with FakeSts() as sts:
        url = sts.url
    token = home.file("web-token", "tok")
    env = home.env(AWS_WEB_IDENTITY_TOKEN_FILE=token, AWS_ROLE_ARN="arn:aws:iam::1:role/r",
                   AWS_ENDPOINT_URL_STS=url)
    with pytest.raises(errors.EndpointConnectionError, match="AssumeRoleWithWebIdentity"):
        chain(env).load()


def test_sts_goes_to_the_regional_endpoint_by_default(home: AwsHome) -> None:
    config = resolve_config(region="eu-west-2", environ=home.env())
    assert config.sts_endpoint_url == "https://sts.eu-west-2.amazonaws.com"


def test_chain_records_which_source_answered(home: AwsHome) -> None:
    env = home.env(AWS_ACCESS_KEY_ID="AKENV", AWS_SECRET_ACCESS_KEY="SKENV")
    provider = chain(env)
    assert isinstance(provider, CredentialChain) and provider.method is None
    provider.load()
    assert provider.method == "env"
    assert "SKENV" not in repr(provider)


def test_sync_path_does_not_import_asyncio(home: AwsHome) -> None:
    import subprocess

    code = (
        "import sys, cmclient, cmclient.credentials, cmclient._protocol.config\n"
        "from cmclient.credentials import resolve_provider\n"
        "from cmclient._protocol.config import resolve_config\n"
        "env = {'AWS_ACCESS_KEY_ID': 'A', 'AWS_SECRET_ACCESS_KEY': 'S', 'AWS_CONFIG_FILE': '/nonexistent'}\n"
        "c = resolve_config(region='us-east-1', environ=env)\n"
        "resolve_provider(None, config=c, environ=env).load()\n"
        "print('asyncio' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_process_json_is_parsed_not_evaluated(home: AwsHome) -> None:
    process_profile(home, {"Version": 1, "AccessKeyId": "AK", "SecretAccessKey": "S",
                           "Expiration": "not-a-date"})
    with pytest.raises(CredentialRetrievalError, match="Expiration"):
        chain(home.env()).load()
    assert json.loads('{"a": 1}') == {"a": 1}
