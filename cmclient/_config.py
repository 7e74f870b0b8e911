"""Region, endpoint and profile settings: resolved once, when a client is built.

``resolve_config`` reads the explicit arguments, the environment and the shared
config and credentials files the way botocore does, and returns a frozen
``ClientConfig`` of plain values. Nothing here talks to the network; the files are
read once, here, and the credential chain gets what it needs from the result.

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
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from cmclient._operations import ENDPOINT_PREFIX
from cmclient.errors import ConfigurationError, NoRegionError

__all__ = [
    "SERVICE_REGIONS",
    "ClientConfig",
    "InvalidConfigError",
    "ProfileNotFoundError",
    "configured_endpoint",
    "default_endpoint",
    "resolve_config",
    "resolve_region",
    "service_endpoint",
    "unsupported_region_hint",
]

#: Regions that host Comprehend Medical today; others are allowed (AWS adds regions).
SERVICE_REGIONS = frozenset(
    {"us-east-1", "us-east-2", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
     "ap-southeast-2", "us-gov-west-1"}
)
#: The service's FIPS endpoints (for the hint; any region may still be asked).
FIPS_REGIONS = frozenset({"us-east-1", "us-east-2", "us-west-2", "ca-central-1", "us-gov-west-1"})

SERVICE_ID = "comprehendmedical"


class ProfileNotFoundError(ConfigurationError):
    """A profile was named (argument or AWS_PROFILE) that no config file defines."""


class InvalidConfigError(ConfigurationError, ValueError):
    """The arguments, environment or config files contradict each other or the rules."""


# --- partitions (botocore/data/partitions.json, the parts the endpoint rules read) -----

#: (partition, region regex, DNS suffix, its global pseudo-regions), in botocore's order.
_PARTITIONS: tuple[tuple[str, str, str, frozenset[str]], ...] = (
    ("aws", r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$", "amazonaws.com",
     frozenset({"aws-global"})),
    ("aws-cn", r"^cn\-\w+\-\d+$", "amazonaws.com.cn", frozenset({"aws-cn-global"})),
    ("aws-eusc", r"^eusc\-(de)\-\w+\-\d+$", "amazonaws.eu", frozenset()),
    ("aws-iso", r"^us\-iso\-\w+\-\d+$", "c2s.ic.gov", frozenset({"aws-iso-global"})),
    ("aws-iso-b", r"^us\-isob\-\w+\-\d+$", "sc2s.sgov.gov", frozenset({"aws-iso-b-global"})),
    ("aws-iso-e", r"^eu\-isoe\-\w+\-\d+$", "cloud.adc-e.uk", frozenset({"aws-iso-e-global"})),
    ("aws-iso-f", r"^us\-isof\-\w+\-\d+$", "csp.hci.ic.gov", frozenset({"aws-iso-f-global"})),
    ("aws-us-gov", r"^us\-gov\-\w+\-\d+$", "amazonaws.com", frozenset({"aws-us-gov-global"})),
)
_HOST_LABEL = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")


def _dns_suffix(region: str) -> str:
    """The DNS suffix of the partition a region belongs to; ``aws``'s for names no
    partition claims (as the rules' ``aws.partition`` function does)."""
    for _name, region_regex, dns_suffix, regions in _PARTITIONS:
        if region in regions or re.match(region_regex, region):
            return dns_suffix
    return _PARTITIONS[0][2]


def service_endpoint(prefix: str, region: str, *, use_fips: bool = False) -> str:
    """``https://{prefix}[-fips].{region}.{dnsSuffix}``: the endpoint rule Comprehend
    Medical (and STS's regional endpoints) use in every partition."""
    host = f"{prefix}-fips" if use_fips else prefix
    return f"https://{host}.{region}.{_dns_suffix(region)}"


def default_endpoint(region: str, *, use_fips: bool = False) -> str:
    """The service's own endpoint for a region, by its endpoint rules."""
    return service_endpoint(ENDPOINT_PREFIX, region, use_fips=use_fips)


def resolve_region(region: str | None) -> str:
    """The region, checked; ``NoRegionError`` (saying how to set one) when there is none."""
    if not region:
        raise NoRegionError(
            "No region was given or configured. Pass region='us-east-1' (or another "
            "region that hosts Comprehend Medical) to the client, set AWS_REGION or "
            "AWS_DEFAULT_REGION, or add 'region = us-east-1' to your profile in "
            "~/.aws/config."
        )
    if not _HOST_LABEL.match(region):
        raise InvalidConfigError(
            f"Region {region!r} is not a valid region name (letters, digits and '-')."
        )
    return region


def unsupported_region_hint(region: str) -> str | None:
    """A sentence to add to a connection error when the region does not host the
    service, else None."""
    if region in SERVICE_REGIONS:
        return None
    return (
        f"The region {region} may not host the service. Comprehend Medical is offered "
        "in: " + ", ".join(sorted(SERVICE_REGIONS)) + "."
    )


# --- the shared config and credentials files -----------------------------------------

def _expand(path: str) -> Path:
    return Path(os.path.expanduser(os.path.expandvars(path)))


def _parse_nested(value: str, path: Path) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for line in value.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, val = line.partition("=")
        if not sep:
            raise InvalidConfigError(f"Could not parse {path}: {line!r} is not 'key = value'")
        parsed[key.strip()] = val.strip()
    return parsed


def read_ini(path: Path) -> dict[str, dict[str, Any]]:
    """Every section of an INI file as ``{section: {key: value}}``; an indented block
    under ``key =`` becomes a nested dict (the ``services`` and ``s3`` syntax). A
    missing file reads as empty."""
    if not path.is_file():
        return {}
    import configparser  # only when there is a file: a Lambda usually has none

    parser = configparser.RawConfigParser()
    try:
        parser.read([path], encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise InvalidConfigError(f"Could not parse {path}: {type(exc).__name__}") from None
    out: dict[str, dict[str, Any]] = {}
    for section in parser.sections():
        values: dict[str, Any] = {}
        for key in parser.options(section):
            value = parser.get(section, key)
            values[key] = _parse_nested(value, path) if value.startswith("\n") else value
        out[section] = values
    return out


def _section_name(key: str) -> str | None:
    """``profile foo`` -> ``foo`` (shell-style quoting allowed, as botocore)."""
    import shlex

    try:
        parts = shlex.split(key)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 else None


def _split_config(
    raw: Mapping[str, dict[str, Any]],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The config file's profiles and its ``[services name]`` sections."""
    profiles: dict[str, dict[str, Any]] = {}
    services: dict[str, dict[str, Any]] = {}
    for key, values in raw.items():
        if key.startswith("profile"):
            name = _section_name(key)
            if name is not None:
                profiles[name] = values
        elif key.startswith("services"):
            name = _section_name(key)
            if name is not None:
                services[name] = values
        elif key == "default":
            profiles[key] = values
    return profiles, services


def _true(value: Any) -> bool:
    """botocore's ``ensure_boolean``: a bool, or a string equal to 'true' in any case."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.lower() == "true"


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
    about 1 ms less to define on every cold start (dataclass generates and execs its
    methods when the class is made).
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


def configured_endpoint(
    service_id: str,
    *,
    environ: Mapping[str, str],
    settings: Mapping[str, Any],
    services: Mapping[str, Mapping[str, Any]],
) -> str | None:
    """A configured endpoint for a service, as botocore's ConfiguredEndpointProvider:
    ``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_ENDPOINT_URL``, the profile's services
    section, the profile's ``endpoint_url``; None if unset or ignored."""
    ignore = environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
    if ignore is None:
        ignore = settings.get("ignore_configured_endpoint_urls")
    if _true(ignore):
        return None
    for name in (f"AWS_ENDPOINT_URL_{service_id.upper()}", "AWS_ENDPOINT_URL"):
        if environ.get(name):
            return environ[name]
    section_name = settings.get("services")
    if section_name is not None:
        section = services.get(section_name)
        if not section:
            raise InvalidConfigError(
                f"The profile is configured to use the services section {section_name!r}, "
                "but no such [services ...] section exists."
            )
        entry = section.get(service_id.lower())
        if isinstance(entry, Mapping) and entry.get("endpoint_url"):
            return str(entry["endpoint_url"])
    value = settings.get("endpoint_url")
    return str(value) if value else None


def _setting(
    environ: Mapping[str, str], settings: Mapping[str, Any], env: str, key: str
) -> Any:
    value = environ.get(env)
    return value if value is not None else settings.get(key)


def _int_setting(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidConfigError(f"{name} must be an integer, got {value!r}") from None


def _choose_profile(profile: str | None, environ: Mapping[str, str]) -> str | None:
    if profile:
        return profile
    return environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or None


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
    config_file = env.get("AWS_CONFIG_FILE") or "~/.aws/config"
    credentials_file = env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    config_profiles, services = _split_config(read_ini(_expand(config_file)))
    credential_profiles = read_ini(_expand(credentials_file))

    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in config_profiles.items()}
    for name, values in credential_profiles.items():
        merged.setdefault(name, {}).update(values)

    named = _choose_profile(profile, env)
    if named is not None and named not in merged:
        where = "profile=" if profile else (
            "AWS_PROFILE" if env.get("AWS_PROFILE") else "AWS_DEFAULT_PROFILE")
        raise ProfileNotFoundError(
            f"The config profile ({named}) named by {where} could not be found in "
            f"{config_file} or {credentials_file}."
        )
    profile_name = named or "default"
    settings = merged.get(profile_name, {})

    found_region = (
        region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        or settings.get("region") or None
    )
    resolved_region = resolve_region(found_region)

    if use_fips is None:
        fips = _true(_setting(env, settings, "AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint"))
    else:
        fips = use_fips

    endpoint = endpoint_url or configured_endpoint(
        SERVICE_ID, environ=env, settings=settings, services=services
    )
    if endpoint:
        if fips:
            raise InvalidConfigError(
                "Invalid configuration: FIPS and a custom endpoint are not supported "
                f"together (endpoint {endpoint}). Drop use_fips / AWS_USE_FIPS_ENDPOINT / "
                "use_fips_endpoint, or the custom endpoint."
            )
        resolved_endpoint = endpoint.rstrip("/")
    else:
        resolved_endpoint = default_endpoint(resolved_region, use_fips=fips)

    sts = configured_endpoint("sts", environ=env, settings=settings, services=services)
    sts_endpoint = (sts.rstrip("/") if sts
                    else service_endpoint("sts", resolved_region, use_fips=fips))

    timeout = _setting(env, settings, "AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout")
    attempts = _int_setting(
        _setting(env, settings, "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
                 "metadata_service_num_attempts"), "metadata_service_num_attempts")
    try:
        timeout_s = float(timeout) if timeout not in (None, "") else 1.0
    except (TypeError, ValueError):
        raise InvalidConfigError(
            f"metadata_service_timeout must be a number, got {timeout!r}") from None

    return ClientConfig(
        region=resolved_region,
        endpoint_url=resolved_endpoint,
        profile=profile_name,
        endpoint_configured=bool(endpoint),
        profile_explicit=bool(profile),
        use_fips=fips,
        settings=_frozen(settings),
        profiles=_frozen(merged),
        config_file_profiles=_frozen(config_profiles),
        credentials_file_profiles=_frozen(credential_profiles),
        services=_frozen(services),
        config_file=config_file,
        credentials_file=credentials_file,
        ec2_metadata_v1_disabled=_true(
            _setting(env, settings, "AWS_EC2_METADATA_V1_DISABLED", "ec2_metadata_v1_disabled")),
        ec2_metadata_service_endpoint=_setting(
            env, settings, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "ec2_metadata_service_endpoint")
        or None,
        ec2_metadata_service_endpoint_mode=_setting(
            env, settings, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
            "ec2_metadata_service_endpoint_mode") or None,
        metadata_service_timeout=timeout_s,
        metadata_service_num_attempts=max(1, attempts) if attempts is not None else 2,
        sts_endpoint_url=sts_endpoint,
        sts_region=resolved_region,
    )
