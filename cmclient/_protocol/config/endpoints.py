"""Regions and endpoints: the partitions, the endpoint rules, configured endpoints.

Pure functions of their arguments: the environment and the profile's settings come in
as mappings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cmclient._generated.operations import ENDPOINT_PREFIX
from cmclient._protocol.config.profiles import is_true
from cmclient.errors import InvalidConfigError, NoRegionError

#: Regions that host Comprehend Medical today; others are allowed (AWS adds regions).
SERVICE_REGIONS = frozenset(
    {"us-east-1", "us-east-2", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
     "ap-southeast-2", "us-gov-west-1"}
)
#: The service's FIPS endpoints (for the hint; any region may still be asked).
FIPS_REGIONS = frozenset({"us-east-1", "us-east-2", "us-west-2", "ca-central-1", "us-gov-west-1"})

SERVICE_ID = "comprehendmedical"

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


# --- the region ------------------------------------------------------------------------

def find_region(
    region: str | None, environ: Mapping[str, str], settings: Mapping[str, Any]
) -> str:
    """The region: ``region=``, ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile's."""
    return resolve_region(
        region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        or settings.get("region") or None
    )


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


# --- endpoints -------------------------------------------------------------------------

def service_endpoint(prefix: str, region: str, *, use_fips: bool = False) -> str:
    """``https://{prefix}[-fips].{region}.{dnsSuffix}``: the endpoint rule Comprehend
    Medical (and STS's regional endpoints) use in every partition."""
    host = f"{prefix}-fips" if use_fips else prefix
    return f"https://{host}.{region}.{_dns_suffix(region)}"


def default_endpoint(region: str, *, use_fips: bool = False) -> str:
    """The service's own endpoint for a region, by its endpoint rules."""
    return service_endpoint(ENDPOINT_PREFIX, region, use_fips=use_fips)


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
    if is_true(ignore):
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


def client_endpoint(configured: str | None, region: str, *, use_fips: bool) -> str:
    """The client's endpoint: the configured one (``endpoint_url=`` or
    ``configured_endpoint``'s), else the service's rules for the region. FIPS with a
    configured endpoint is an ``InvalidConfigError``, as the service's rules say."""
    if not configured:
        return default_endpoint(region, use_fips=use_fips)
    if use_fips:
        raise InvalidConfigError(
            "Invalid configuration: FIPS and a custom endpoint are not supported "
            f"together (endpoint {configured}). Drop use_fips / AWS_USE_FIPS_ENDPOINT / "
            "use_fips_endpoint, or the custom endpoint."
        )
    return configured.rstrip("/")


def sts_endpoint(
    environ: Mapping[str, str],
    settings: Mapping[str, Any],
    services: Mapping[str, Mapping[str, Any]],
    region: str,
    *,
    use_fips: bool,
) -> str:
    """Where the credential chain's STS calls go: a configured STS endpoint (the same
    rules as the service's own), else STS's regional endpoint for ``region``."""
    configured = configured_endpoint("sts", environ=environ, settings=settings,
                                     services=services)
    if configured:
        return configured.rstrip("/")
    return service_endpoint("sts", region, use_fips=use_fips)
