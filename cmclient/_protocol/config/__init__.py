"""Region, endpoint and profile settings: resolved once, when a client is built.

``resolve_config`` reads the explicit arguments, the environment and the shared
config and credentials files the way botocore does, and returns a frozen
``ClientConfig`` of plain values. Nothing here talks to the network; the files are
read once (by ``files``), and the credential chain gets what it needs from the result.

Precedence, highest first:

* region: ``region=``, ``AWS_REGION`` (boto3 ignores it; we honour it, as the other
  AWS SDKs do), ``AWS_DEFAULT_REGION``, the profile's ``region``.
* endpoint: ``endpoint_url=``, ``AWS_ENDPOINT_URL_COMPREHENDMEDICAL``,
  ``AWS_ENDPOINT_URL``, the profile's ``services`` section (``comprehendmedical =``
  with an indented ``endpoint_url = ...``), the profile's ``endpoint_url`` (the four
  configured ones are skipped when ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` or the
  profile's ``ignore_configured_endpoint_urls`` is true); else the service's endpoint
  rules for the region's partition, FIPS variant included.
* profile: ``profile=``, ``AWS_PROFILE``, ``AWS_DEFAULT_PROFILE``, ``default``.

One concern per module: ``files`` reads the two files, ``profiles`` picks the profile
and reads one setting, ``endpoints`` has the partitions and the endpoint rules (the
service's, STS's, and configured ones), ``metadata`` the instance metadata service's
settings. This module puts their answers together into a ``ClientConfig``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from cmclient._protocol.config.endpoints import (
    FIPS_REGIONS,
    SERVICE_ID,
    SERVICE_REGIONS,
    client_endpoint,
    configured_endpoint,
    default_endpoint,
    find_region,
    resolve_region,
    service_endpoint,
    sts_endpoint,
    unsupported_region_hint,
)
from cmclient._protocol.config.files import read_ini, read_shared_files
from cmclient._protocol.config.metadata import metadata_settings
from cmclient._protocol.config.profiles import is_true, merge_profiles, select_profile, setting
from cmclient.errors import InvalidConfigError, ProfileNotFoundError

__all__ = [
    "FIPS_REGIONS",
    "SERVICE_ID",
    "SERVICE_REGIONS",
    "ClientConfig",
    "InvalidConfigError",
    "ProfileNotFoundError",
    "configured_endpoint",
    "default_endpoint",
    "is_true",
    "read_ini",
    "resolve_config",
    "resolve_region",
    "service_endpoint",
    "unsupported_region_hint",
]


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(
        {k: _frozen(v) if isinstance(v, Mapping) else v for k, v in mapping.items()}
    )


#: The default of the mapping fields: read-only, so one instance serves every config.
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class ClientConfig(NamedTuple):
    """Everything a client resolved from its arguments, the environment and the files.

    ``settings`` is the profile's merged raw settings (the credentials file's values
    win over the config file's for the same key, as in botocore); ``profiles`` has
    every profile the same way (source_profile chains read it);
    ``config_file_profiles`` and ``credentials_file_profiles`` keep the two files
    apart for the credential chain, which reads static keys from the credentials
    file first.

    A NamedTuple rather than a frozen dataclass: as immutable and as comparable, and
    cheaper to define on every cold start (a dataclass generates and execs its methods
    when the class is made).
    """

    region: str
    endpoint_url: str
    profile: str
    #: True when the endpoint came from an argument, the environment or the profile
    #: rather than the service's own rules.
    endpoint_configured: bool = False
    profile_explicit: bool = False
    use_fips: bool = False
    settings: Mapping[str, Any] = _EMPTY
    profiles: Mapping[str, Mapping[str, Any]] = _EMPTY
    config_file_profiles: Mapping[str, Mapping[str, Any]] = _EMPTY
    credentials_file_profiles: Mapping[str, Mapping[str, Any]] = _EMPTY
    services: Mapping[str, Mapping[str, Any]] = _EMPTY
    config_file: str = "~/.aws/config"
    credentials_file: str = "~/.aws/credentials"
    #: ``AWS_EC2_METADATA_V1_DISABLED`` or the profile's ``ec2_metadata_v1_disabled``.
    ec2_metadata_v1_disabled: bool = False
    #: ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` or ``ec2_metadata_service_endpoint``.
    ec2_metadata_service_endpoint: str | None = None
    #: ``AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`` or the profile's (``IPv4``/``IPv6``).
    ec2_metadata_service_endpoint_mode: str | None = None
    #: ``AWS_METADATA_SERVICE_TIMEOUT`` / ``metadata_service_timeout`` (seconds).
    metadata_service_timeout: float = 1.0
    #: ``AWS_METADATA_SERVICE_NUM_ATTEMPTS`` / ``metadata_service_num_attempts``.
    metadata_service_num_attempts: int = 2
    #: The STS endpoint the credential chain's AssumeRole calls go to.
    sts_endpoint_url: str = "https://sts.amazonaws.com"
    #: The region STS calls are signed for.
    sts_region: str = "us-east-1"

    def get(self, key: str, default: Any = None) -> Any:
        """A raw setting of the profile (``None`` when absent)."""
        return self.settings.get(key, default)


def resolve_config(
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    use_fips: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> ClientConfig:
    """Resolve a client's configuration once, into plain values.

    Raises ``NoRegionError`` when no region is found, ``ProfileNotFoundError`` when the
    named profile (argument, AWS_PROFILE or AWS_DEFAULT_PROFILE) does not exist, and
    ``InvalidConfigError`` for FIPS with a custom endpoint (the service's endpoint
    rules forbid it) and for malformed files or values.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    files = read_shared_files(env)
    profiles = merge_profiles(files.config_profiles, files.credential_profiles)
    profile_name, settings = select_profile(
        profile, env, profiles, files=(files.config_file, files.credentials_file))
    resolved_region = find_region(region, env, settings)
    fips = use_fips if use_fips is not None else is_true(
        setting(env, settings, "AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint"))
    configured = endpoint_url or configured_endpoint(
        SERVICE_ID, environ=env, settings=settings, services=files.services)
    endpoint = client_endpoint(configured, resolved_region, use_fips=fips)
    sts = sts_endpoint(env, settings, files.services, resolved_region, use_fips=fips)
    imds = metadata_settings(env, settings)
    return ClientConfig(
        region=resolved_region,
        endpoint_url=endpoint,
        profile=profile_name,
        endpoint_configured=bool(configured),
        profile_explicit=bool(profile),
        use_fips=fips,
        settings=_frozen(settings),
        profiles=_frozen(profiles),
        config_file_profiles=_frozen(files.config_profiles),
        credentials_file_profiles=_frozen(files.credential_profiles),
        services=_frozen(files.services),
        config_file=files.config_file,
        credentials_file=files.credentials_file,
        ec2_metadata_v1_disabled=imds.v1_disabled,
        ec2_metadata_service_endpoint=imds.endpoint,
        ec2_metadata_service_endpoint_mode=imds.endpoint_mode,
        metadata_service_timeout=imds.timeout,
        metadata_service_num_attempts=imds.num_attempts,
        sts_endpoint_url=sts,
        sts_region=resolved_region,
    )
