"""Region and endpoint: resolved once, when a client is built, into plain values."""

from __future__ import annotations

from cmclient._operations import ENDPOINT_PREFIX
from cmclient.errors import NoRegionError

#: Regions that host Comprehend Medical today; others are allowed (AWS adds regions).
SERVICE_REGIONS = frozenset(
    {"us-east-1", "us-east-2", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
     "ap-southeast-2", "us-gov-west-1"}
)


def resolve_region(region: str | None) -> str:
    if not region:
        raise NoRegionError(
            "No region was given. Pass region='us-east-1' (or another region that hosts "
            "Comprehend Medical) to the client."
        )
    return region


def default_endpoint(region: str) -> str:
    """The service's endpoint rule for the standard AWS partition."""
    return f"https://{ENDPOINT_PREFIX}.{region}.amazonaws.com"
