"""Region, endpoint and profile settings from arguments, environment and real files."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cmclient import ComprehendMedical, Credentials
from cmclient._protocol.config import (
    SERVICE_REGIONS,
    ClientConfig,
    InvalidConfigError,
    ProfileNotFoundError,
    default_endpoint,
    resolve_config,
    resolve_region,
    unsupported_region_hint,
)
from cmclient.errors import ConfigurationError, NoRegionError
from tests.helpers.aws_fakes import AwsHome


@pytest.fixture
def home(tmp_path: Path) -> AwsHome:
    return AwsHome(tmp_path)


# --- region ------------------------------------------------------------------------

def test_explicit_region_wins_over_environment_and_profile(home: AwsHome) -> None:
    home.config("[default]\nregion = eu-west-1\n")
    env = home.env(AWS_REGION="us-east-2", AWS_DEFAULT_REGION="us-west-2")
    assert resolve_config(region="ca-central-1", environ=env).region == "ca-central-1"


def test_aws_region_wins_over_aws_default_region(home: AwsHome) -> None:
    env = home.env(AWS_REGION="us-east-2", AWS_DEFAULT_REGION="us-west-2")
    assert resolve_config(environ=env).region == "us-east-2"


def test_aws_default_region_wins_over_profile_region(home: AwsHome) -> None:
    home.config("[default]\nregion = eu-west-1\n")
    assert resolve_config(environ=home.env(AWS_DEFAULT_REGION="us-west-2")).region == "us-west-2"


def test_profile_region_is_used_last(home: AwsHome) -> None:
    home.config("[default]\nregion = eu-west-1\n[profile work]\nregion = eu-west-2\n")
    assert resolve_config(environ=home.env()).region == "eu-west-1"
    assert resolve_config(profile="work", environ=home.env()).region == "eu-west-2"
    assert resolve_config(environ=home.env(AWS_PROFILE="work")).region == "eu-west-2"


def test_region_in_the_credentials_file_counts_as_botocore_does(home: AwsHome) -> None:
    home.credentials("[default]\nregion = ap-southeast-2\n")
    assert resolve_config(environ=home.env()).region == "ap-southeast-2"


def test_no_region_anywhere_raises_no_region_error_saying_how_to_set_one(home: AwsHome) -> None:
    with pytest.raises(NoRegionError) as info:
        resolve_config(environ=home.env())
    message = str(info.value)
    assert "region=" in message and "AWS_REGION" in message and "~/.aws/config" in message


def test_resolve_region_keeps_working_for_an_explicit_region() -> None:
    assert resolve_region("us-east-1") == "us-east-1"
    with pytest.raises(NoRegionError):
        resolve_region(None)


@pytest.mark.parametrize("bad", ["us-east-1/evil", "us east 1", "-us-east-1", "a" * 70])
def test_a_region_that_is_not_a_host_label_is_rejected(home: AwsHome, bad: str) -> None:
    with pytest.raises(InvalidConfigError):
        resolve_config(region=bad, environ=home.env())


# --- profiles ------------------------------------------------------------------------

def test_unknown_explicit_profile_raises_profile_not_found(home: AwsHome) -> None:
    home.config("[default]\nregion = us-east-1\n")
    with pytest.raises(ProfileNotFoundError, match="nosuch"):
        resolve_config(profile="nosuch", environ=home.env())


def test_unknown_profile_from_aws_profile_raises_profile_not_found(home: AwsHome) -> None:
    with pytest.raises(ProfileNotFoundError, match="AWS_PROFILE"):
        resolve_config(region="us-east-1", environ=home.env(AWS_PROFILE="ghost"))


def test_missing_default_profile_is_fine(home: AwsHome) -> None:
    config = resolve_config(region="us-east-1", environ=home.env())
    assert config.profile == "default" and dict(config.settings) == {}


def test_explicit_profile_wins_over_aws_profile_and_is_marked_explicit(home: AwsHome) -> None:
    home.config("[profile a]\nregion = us-east-1\n[profile b]\nregion = us-west-2\n")
    config = resolve_config(profile="a", environ=home.env(AWS_PROFILE="b"))
    assert (config.profile, config.profile_explicit, config.region) == ("a", True, "us-east-1")
    config = resolve_config(environ=home.env(AWS_PROFILE="b"))
    assert (config.profile, config.profile_explicit) == ("b", False)


def test_default_files_are_found_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = AwsHome(tmp_path).config("[default]\nregion = eu-west-2\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    config = resolve_config(environ={"HOME": str(tmp_path)})
    assert config.region == "eu-west-2"
    assert home.config_path.exists()


def test_profile_settings_other_features_need_are_resolved(home: AwsHome) -> None:
    home.config("[default]\nregion = us-east-1\nec2_metadata_v1_disabled = true\n")
    assert resolve_config(environ=home.env()).ec2_metadata_v1_disabled is True
    config = resolve_config(environ=home.env(AWS_EC2_METADATA_V1_DISABLED="false"))
    assert config.ec2_metadata_v1_disabled is False
    assert config.get("ec2_metadata_v1_disabled") == "true"


def _attempts_announced(monkeypatch: pytest.MonkeyPatch, home: AwsHome, **kwargs: object) -> str:
    """The ``amz-sdk-request`` header of a client built in ``home``'s environment."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["amz-sdk-request"])
        return httpx.Response(200, json={})

    for name, value in home.env().items():
        monkeypatch.setenv(name, value)
    http = httpx.Client(transport=httpx.MockTransport(answer))
    with ComprehendMedical(credentials=Credentials("AKID", "SECRET"), http_client=http,
                           **kwargs) as client:  # type: ignore[arg-type]
        client.detect_phi(text="x")
    return seen[0]


def test_profile_retry_settings_reach_the_client(
    monkeypatch: pytest.MonkeyPatch, home: AwsHome
) -> None:
    home.config("[default]\nregion = us-east-1\nretry_mode = adaptive\nmax_attempts = 7\n")
    assert _attempts_announced(monkeypatch, home) == "attempt=1; max=7"
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    assert _attempts_announced(monkeypatch, home) == "attempt=1; max=4"
    assert _attempts_announced(monkeypatch, home, max_attempts=2) == "attempt=1; max=2"


def test_non_integer_max_attempts_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, home: AwsHome
) -> None:
    home.config("[default]\nregion = us-east-1\nmax_attempts = many\n")
    with pytest.raises(ConfigurationError, match="max_attempts"):
        _attempts_announced(monkeypatch, home)


def test_unparseable_config_file_is_a_configuration_error(home: AwsHome) -> None:
    home.config("this is not ini\n[default\n")
    with pytest.raises(ConfigurationError, match="Could not parse"):
        resolve_config(region="us-east-1", environ=home.env())


def test_client_config_is_frozen(home: AwsHome) -> None:
    config = resolve_config(region="us-east-1", environ=home.env())
    assert isinstance(config, ClientConfig)
    with pytest.raises(AttributeError):
        config.region = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.settings["region"] = "x"  # type: ignore[index]


# --- endpoint ------------------------------------------------------------------------

SERVICES = """
[profile svc]
region = us-east-1
services = local
endpoint_url = http://profile-global:1
[services local]
comprehendmedical =
  endpoint_url = http://services-section:2
sts =
  endpoint_url = http://sts-section:3
"""


def test_endpoint_precedence_explicit_env_service_env_global_services_profile(home: AwsHome) -> None:
    home.config(SERVICES)
    env = home.env(AWS_PROFILE="svc", AWS_ENDPOINT_URL_COMPREHENDMEDICAL="http://env-service:4",
                   AWS_ENDPOINT_URL="http://env-global:5")
    assert resolve_config(endpoint_url="http://explicit:6/", environ=env).endpoint_url == "http://explicit:6"
    assert resolve_config(environ=env).endpoint_url == "http://env-service:4"
    del env["AWS_ENDPOINT_URL_COMPREHENDMEDICAL"]
    assert resolve_config(environ=env).endpoint_url == "http://env-global:5"
    del env["AWS_ENDPOINT_URL"]
    assert resolve_config(environ=env).endpoint_url == "http://services-section:2"
    home.config(SERVICES.replace("comprehendmedical =\n  endpoint_url = http://services-section:2\n", ""))
    assert resolve_config(environ=env).endpoint_url == "http://profile-global:1"


def test_ignore_configured_endpoint_urls_from_env_or_profile(home: AwsHome) -> None:
    home.config(SERVICES)
    env = home.env(AWS_PROFILE="svc", AWS_ENDPOINT_URL="http://env-global:5",
                   AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="TRUE")
    assert resolve_config(environ=env).endpoint_url == "https://comprehendmedical.us-east-1.amazonaws.com"
    assert resolve_config(endpoint_url="http://explicit:6", environ=env).endpoint_url == "http://explicit:6"
    home.config(SERVICES.replace("services = local", "services = local\nignore_configured_endpoint_urls = true"))
    del env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"]
    assert resolve_config(environ=env).endpoint_url == "https://comprehendmedical.us-east-1.amazonaws.com"


def test_missing_services_section_is_a_configuration_error(home: AwsHome) -> None:
    home.config("[default]\nregion = us-east-1\nservices = nowhere\n")
    with pytest.raises(InvalidConfigError, match="nowhere"):
        resolve_config(environ=home.env())


def test_sts_endpoint_follows_the_same_configured_endpoint_rules(home: AwsHome) -> None:
    home.config(SERVICES)
    assert resolve_config(environ=home.env(AWS_PROFILE="svc")).sts_endpoint_url == "http://sts-section:3"
    env = home.env(AWS_PROFILE="svc", AWS_ENDPOINT_URL_STS="http://env-sts:7")
    assert resolve_config(environ=env).sts_endpoint_url == "http://env-sts:7"
    assert resolve_config(region="eu-west-1", environ=home.env()).sts_endpoint_url == (
        "https://sts.eu-west-1.amazonaws.com")
    assert resolve_config(region="cn-north-1", environ=home.env()).sts_endpoint_url == (
        "https://sts.cn-north-1.amazonaws.com.cn")


@pytest.mark.parametrize(
    ("region", "fips", "expected"),
    [
        ("us-east-1", False, "https://comprehendmedical.us-east-1.amazonaws.com"),
        ("us-east-1", True, "https://comprehendmedical-fips.us-east-1.amazonaws.com"),
        ("cn-north-1", False, "https://comprehendmedical.cn-north-1.amazonaws.com.cn"),
        ("cn-northwest-1", True, "https://comprehendmedical-fips.cn-northwest-1.amazonaws.com.cn"),
        ("us-gov-west-1", False, "https://comprehendmedical.us-gov-west-1.amazonaws.com"),
        ("us-gov-west-1", True, "https://comprehendmedical-fips.us-gov-west-1.amazonaws.com"),
        ("us-iso-east-1", False, "https://comprehendmedical.us-iso-east-1.c2s.ic.gov"),
        ("us-isob-east-1", False, "https://comprehendmedical.us-isob-east-1.sc2s.sgov.gov"),
        ("eusc-de-east-1", False, "https://comprehendmedical.eusc-de-east-1.amazonaws.eu"),
        ("mars-east-1", False, "https://comprehendmedical.mars-east-1.amazonaws.com"),
    ],
)
def test_endpoint_rules_per_partition(region: str, fips: bool, expected: str) -> None:
    assert default_endpoint(region, use_fips=fips) == expected


def test_fips_from_argument_env_or_profile(home: AwsHome) -> None:
    fips = "https://comprehendmedical-fips.us-west-2.amazonaws.com"
    home.config("[default]\nregion = us-west-2\n[profile f]\nregion = us-west-2\nuse_fips_endpoint = true\n")
    assert resolve_config(use_fips=True, environ=home.env()).endpoint_url == fips
    assert resolve_config(environ=home.env(AWS_USE_FIPS_ENDPOINT="true")).endpoint_url == fips
    assert resolve_config(profile="f", environ=home.env()).endpoint_url == fips
    assert resolve_config(profile="f", use_fips=False, environ=home.env()).endpoint_url == (
        "https://comprehendmedical.us-west-2.amazonaws.com")


def test_fips_with_a_custom_endpoint_is_an_error(home: AwsHome) -> None:
    with pytest.raises(InvalidConfigError, match="FIPS and a custom endpoint"):
        resolve_config(region="us-east-1", endpoint_url="http://localhost:1", use_fips=True,
                       environ=home.env())
    with pytest.raises(ConfigurationError):
        resolve_config(region="us-east-1", use_fips=True,
                       environ=home.env(AWS_ENDPOINT_URL="http://localhost:1"))
    with pytest.raises(ValueError):
        resolve_config(region="us-east-1", endpoint_url="http://localhost:1",
                       environ=home.env(AWS_USE_FIPS_ENDPOINT="true"))


def test_a_region_without_the_service_is_allowed_and_has_a_hint(home: AwsHome) -> None:
    config = resolve_config(region="eu-central-1", environ=home.env())
    assert config.endpoint_url == "https://comprehendmedical.eu-central-1.amazonaws.com"
    hint = unsupported_region_hint("eu-central-1")
    assert hint is not None and "Comprehend Medical is offered in: " in hint
    assert "eu-central-1" in hint
    assert all(region in hint for region in SERVICE_REGIONS)
    assert unsupported_region_hint("us-east-1") is None
