"""The EC2 instance metadata service's settings, for the credential chain's IMDS source
(STS's endpoint, the chain's other network setting, is in ``endpoints``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmclient._protocol.config.profiles import as_float, as_int, is_true, setting


class MetadataSettings:
    """Each from its environment variable, else the profile's setting (a plain class
    with slots, as the cold path's records are):

    * ``v1_disabled``: ``AWS_EC2_METADATA_V1_DISABLED`` / ``ec2_metadata_v1_disabled``;
    * ``endpoint``: ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` /
      ``ec2_metadata_service_endpoint``;
    * ``endpoint_mode``: ``AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE`` /
      ``ec2_metadata_service_endpoint_mode``;
    * ``timeout``: ``AWS_METADATA_SERVICE_TIMEOUT`` / ``metadata_service_timeout``
      (seconds; 1 when unset);
    * ``num_attempts``: ``AWS_METADATA_SERVICE_NUM_ATTEMPTS`` /
      ``metadata_service_num_attempts`` (2 when unset, at least 1).
    """

    __slots__ = ("endpoint", "endpoint_mode", "num_attempts", "timeout", "v1_disabled")

    def __init__(self, *, v1_disabled: bool, endpoint: str | None, endpoint_mode: str | None,
                 timeout: float, num_attempts: int) -> None:
        self.v1_disabled = v1_disabled
        self.endpoint = endpoint
        self.endpoint_mode = endpoint_mode
        self.timeout = timeout
        self.num_attempts = num_attempts


def metadata_settings(environ: Mapping[str, str], settings: Mapping[str, Any]) -> MetadataSettings:
    """The metadata service's settings, botocore's defaults where unset;
    ``InvalidConfigError`` for a timeout or a number of attempts that is no number."""
    attempts = as_int(
        setting(environ, settings, "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
                "metadata_service_num_attempts"), "metadata_service_num_attempts")
    timeout = as_float(
        setting(environ, settings, "AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout"),
        "metadata_service_timeout")
    return MetadataSettings(
        v1_disabled=is_true(
            setting(environ, settings, "AWS_EC2_METADATA_V1_DISABLED", "ec2_metadata_v1_disabled")),
        endpoint=setting(environ, settings, "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                         "ec2_metadata_service_endpoint") or None,
        endpoint_mode=setting(environ, settings, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                              "ec2_metadata_service_endpoint_mode") or None,
        timeout=1.0 if timeout is None else timeout,
        num_attempts=2 if attempts is None else max(1, attempts),
    )
