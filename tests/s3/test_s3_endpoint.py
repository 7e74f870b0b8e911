"""S3's endpoint found as the SDKs find it, through the same configuration reader as
Comprehend Medical's."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmclient._protocol.config import ClientConfig, InvalidConfigError, resolve_config
from cmclient._protocol.s3_endpoint import resolve_s3_endpoint, virtual_host_compatible


def config_for(tmp_path: Path, text: str = "", **env: str) -> tuple[ClientConfig, dict[str, str]]:
    path = tmp_path / "config"
    path.write_text(text)
    environ = {"AWS_CONFIG_FILE": str(path),
               "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), **env}
    return resolve_config(region="us-west-2", environ=environ), environ


def test_default_is_the_regional_endpoint(tmp_path: Path) -> None:
    config, environ = config_for(tmp_path)
    endpoint = resolve_s3_endpoint(config, environ=environ)
    assert endpoint.url == "https://s3.us-west-2.amazonaws.com"
    assert (endpoint.region, endpoint.configured) == ("us-west-2", False)
    assert not endpoint.use_path_style("notes") and endpoint.use_path_style("my.notes")


def test_fips_and_other_partitions(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("")
    environ = {"AWS_CONFIG_FILE": str(path), "AWS_SHARED_CREDENTIALS_FILE": str(path)}
    fips = resolve_config(region="us-gov-west-1", use_fips=True, environ=environ)
    assert resolve_s3_endpoint(fips, environ=environ).url == (
        "https://s3-fips.us-gov-west-1.amazonaws.com")
    china = resolve_config(region="cn-north-1", environ=environ)
    assert resolve_s3_endpoint(china, environ=environ).url == (
        "https://s3.cn-north-1.amazonaws.com.cn")


def test_environment_then_services_section(tmp_path: Path) -> None:
    profile = """[default]
services = local
s3 =
  addressing_style = virtual
[services local]
s3 =
  endpoint_url = http://127.0.0.1:4566
"""
    config, environ = config_for(tmp_path, profile)
    from_profile = resolve_s3_endpoint(config, environ=environ)
    assert from_profile.url == "http://127.0.0.1:4566" and from_profile.configured
    assert from_profile.addressing_style == "virtual"
    config, environ = config_for(tmp_path, profile, AWS_ENDPOINT_URL_S3="http://localhost:1/")
    from_env = resolve_s3_endpoint(config, environ=environ)
    assert from_env.url == "http://localhost:1"
    argument = resolve_s3_endpoint(config, s3_endpoint_url="http://x:2",
                                   addressing_style="path", environ=environ)
    assert argument.url == "http://x:2" and argument.use_path_style("notes")
    config, environ = config_for(tmp_path, profile, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="true",
                                 AWS_ENDPOINT_URL_S3="http://localhost:1/")
    ignored = resolve_s3_endpoint(config, environ=environ)
    assert ignored.url == "https://s3.us-west-2.amazonaws.com"


def test_configured_endpoints_are_path_style(tmp_path: Path) -> None:
    config, environ = config_for(tmp_path, AWS_ENDPOINT_URL_S3="http://127.0.0.1:5000")
    endpoint = resolve_s3_endpoint(config, environ=environ)
    assert endpoint.use_path_style("notes")


def test_bad_settings_are_configuration_errors(tmp_path: Path) -> None:
    config, environ = config_for(tmp_path)
    with pytest.raises(InvalidConfigError):
        resolve_s3_endpoint(config, addressing_style="sideways",
                            environ=environ)
    with pytest.raises(InvalidConfigError):
        resolve_s3_endpoint(config, s3_endpoint_url="localhost:9000",
                            environ=environ)


@pytest.mark.parametrize(("bucket", "ok"), [
    ("notes", True), ("my-notes-2", True), ("my.notes", False), ("Notes", False),
    ("no_underscore", False), ("ab", False), ("192.168.1.1", False), ("a" * 63, True),
])
def test_virtual_host_compatible(bucket: str, ok: bool) -> None:
    assert virtual_host_compatible(bucket) is ok
