"""A drop-in path from boto3: a client that takes and returns what boto3's does.

::

    # before                                   # after
    import boto3                               from cmclient import compat
    cm = boto3.client("comprehendmedical",     cm = compat.client("comprehendmedical",
                      region_name="us-east-1")                    region_name="us-east-1")

    try:
        job = cm.describe_entities_detection_v2_job(JobId=job_id)
    except cm.exceptions.ResourceNotFoundException:
        ...
    job["ComprehendMedicalAsyncJobProperties"]["SubmitTime"]   # aware datetime

Each method takes boto3's keyword arguments (the service's PascalCase member names,
nested dicts with AWS names) and returns boto3's dictionary: AWS member names, members
the service did not send left out, timezone-aware datetimes, and ``ResponseMetadata``
with ``RequestId``, ``HTTPStatusCode``, ``HTTPHeaders`` and ``RetryAttempts``.

Errors: ``client.exceptions.ResourceNotFoundException`` and the other codes are
cmclient's classes (``cmclient.errors``), all subclasses of
``client.exceptions.ClientError``, which is ``cmclient.errors.ServiceError``; each has
botocore's ``.response`` and ``.operation_name``. Bad parameters raise
``cmclient.errors.ParamValidationError`` (exported here as ``ParamValidationError``)
before anything is sent, as botocore's parameter validation does.

``config`` takes a ``botocore.config.Config`` or a dict with the same names. Mapped:
``region_name``, ``connect_timeout``, ``read_timeout``, ``max_pool_connections``,
``retries`` (``mode``: ``standard`` or ``adaptive``, ``legacy`` runs as ``standard``;
``max_attempts`` counts retries as botocore does; ``total_max_attempts`` counts every
attempt). Ignored: ``signature_version`` (always SigV4), ``parameter_validation``
(parameters are always validated), ``user_agent*``, ``proxies``, ``client_cert``,
``tcp_keepalive``, ``inject_host_prefix`` and the S3 and checksum options.
Timeouts default to botocore's 60 s, with no limit on the whole call, as in botocore.

Differences from boto3: there are no paginators or waiters (botocore has none for this
service either; cmclient's own ``iter_*_jobs`` and ``wait_for_*_job`` are on
``client.native``), and ``client.meta`` carries only ``region_name``,
``endpoint_url``, ``config`` and ``method_to_api_mapping``.
"""

from __future__ import annotations

import inspect
import os
import ssl
import threading
from collections.abc import Callable, Mapping
from enum import Enum
from types import SimpleNamespace, TracebackType
from typing import Any

import httpx

from cmclient import errors
from cmclient._generated.operations import OPERATIONS
from cmclient._http.tls import ca_bundle, tls_context
from cmclient._protocol.config import resolve_config
from cmclient._protocol.names import xform_name
from cmclient._protocol.operation import Operation
from cmclient._sync.client import ComprehendMedical
from cmclient.credentials import Credentials
from cmclient.errors import ParamValidationError

__all__ = ["ClientError", "CompatClient", "ParamValidationError", "client"]

ClientError = errors.ServiceError

SERVICE_NAME = "comprehendmedical"
#: botocore's defaults.
DEFAULT_CONNECT_TIMEOUT = 60.0
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_MAX_POOL_CONNECTIONS = 10

_METHODS: dict[str, Operation[Any, Any]] = {
    xform_name(name, "_"): op for name, op in OPERATIONS.items()
}


class _Exceptions:
    """``client.exceptions``: every AWS error code as its cmclient class, and
    ``ClientError`` (``cmclient.errors.ServiceError``), their base."""

    ClientError = errors.ServiceError

    def __init__(self) -> None:
        self._by_code: dict[str, type[errors.ServiceError]] = {}
        for name in errors.__all__:
            cls = getattr(errors, name)
            if (isinstance(cls, type) and issubclass(cls, errors.ServiceError)
                    and cls is not errors.ServiceError):
                self._by_code[name] = cls
                setattr(self, name, cls)

    def from_code(self, error_code: str) -> type[errors.ServiceError]:
        """The class for an error code (``ClientError`` for one not modeled), as
        botocore's ``client.exceptions.from_code``."""
        return self._by_code.get(error_code, errors.ServiceError)

    def __getattr__(self, name: str) -> type[errors.ServiceError]:
        raise AttributeError(f"{SERVICE_NAME} has no exception {name!r}")


def _setting(config: Any, name: str) -> Any:
    if config is None:
        return None
    if isinstance(config, Mapping):
        return config.get(name)
    return getattr(config, name, None)


def _retry_options(config: Any, accepted: Mapping[str, Any]) -> dict[str, Any]:
    retries = _setting(config, "retries") or {}
    options: dict[str, Any] = {}
    mode = retries.get("mode")
    if mode and "retry_mode" in accepted:
        options["retry_mode"] = "standard" if mode == "legacy" else mode
    total = retries.get("total_max_attempts")
    if total is None and retries.get("max_attempts") is not None:
        total = int(retries["max_attempts"]) + 1  # botocore's max_attempts counts retries
    if total is not None and "max_attempts" in accepted:
        options["max_attempts"] = int(total)
    return options


class CompatClient:
    """A boto3-shaped Comprehend Medical client; see the module docstring."""

    def __init__(
        self,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        verify: bool | str | None = None,
        config: Any = None,
    ) -> None:
        credentials = None
        if aws_access_key_id or aws_secret_access_key:
            if not (aws_access_key_id and aws_secret_access_key):
                raise errors.ConfigurationError(
                    "Pass both aws_access_key_id and aws_secret_access_key, or neither")
            credentials = Credentials(aws_access_key_id, aws_secret_access_key,
                                      aws_session_token or None)
        connect = _setting(config, "connect_timeout")
        read = _setting(config, "read_timeout")
        timeout = httpx.Timeout(
            DEFAULT_READ_TIMEOUT,
            connect=DEFAULT_CONNECT_TIMEOUT if connect is None else (connect or None),
            read=DEFAULT_READ_TIMEOUT if read is None else (read or None),
        )
        pool = _setting(config, "max_pool_connections") or DEFAULT_MAX_POOL_CONNECTIONS
        self._local = threading.local()
        # verify as botocore reads it (the argument, else AWS_CA_BUNDLE, else the
        # profile's ca_bundle), turned into a context here: httpx deprecates a path.
        resolved = resolve_config(
            region=region_name or _setting(config, "region_name"), endpoint_url=endpoint_url
        )
        context = tls_context(
            resolved.endpoint_url, verify, ca_bundle(os.environ, resolved.settings)
        )
        self._http = httpx.Client(
            timeout=timeout,
            verify=context or ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),  # http: never used
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
            event_hooks={"response": [self._record]},
        )
        accepted = inspect.signature(ComprehendMedical.__init__).parameters
        options: dict[str, Any] = {
            "region": region_name or _setting(config, "region_name"),
            "endpoint_url": endpoint_url,
            "credentials": credentials,
            "timeout": timeout,
            "http_client": self._http,
        }
        if "call_timeout" in accepted:
            options["call_timeout"] = None  # botocore has no whole-call limit
        options.update(_retry_options(config, accepted))
        try:
            #: The cmclient client underneath, for its waiters and paginators.
            self.native = ComprehendMedical(**options)
        except BaseException:
            self._http.close()
            raise
        self.exceptions = _Exceptions()
        self.meta = SimpleNamespace(
            region_name=self.native.region,
            endpoint_url=self.native.endpoint_url,
            config=config,
            method_to_api_mapping={name: op.name for name, op in _METHODS.items()},
            service_model=SimpleNamespace(service_name=SERVICE_NAME),
        )

    # --- the operations -------------------------------------------------------------

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        operation = _METHODS.get(name)
        if operation is None:
            raise AttributeError(f"'{SERVICE_NAME}' client has no attribute {name!r}")

        def call(**kwargs: Any) -> dict[str, Any]:
            return self._call(operation, name, kwargs)

        call.__name__ = name
        call.__doc__ = f"Call {operation.name} with boto3's arguments; return boto3's dict."
        return call

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *_METHODS})

    def can_paginate(self, operation_name: str) -> bool:
        """False, as in botocore: the service defines no paginators."""
        return False

    def _record(self, response: httpx.Response) -> None:
        responses = getattr(self._local, "responses", None)
        if responses is not None:
            responses.append(response)

    def _call(self, operation: Operation[Any, Any], method: str,
              kwargs: dict[str, Any]) -> dict[str, Any]:
        fields = operation.input_model.model_fields
        by_alias = {info.alias or name: name for name, info in fields.items()}
        unknown = [key for key in kwargs if key not in by_alias]
        missing = [alias for alias, name in by_alias.items()
                   if fields[name].is_required() and alias not in kwargs]
        problems = [(key, f'Unknown parameter in input: "{key}", must be one of: '
                          f'{", ".join(by_alias)}') for key in unknown]
        problems += [(alias, f'Missing required parameter in input: "{alias}"')
                     for alias in missing]
        if problems:
            raise ParamValidationError(operation.name, problems)
        self._local.responses = []
        try:
            result = getattr(self.native, method)(
                **{by_alias[key]: value for key, value in kwargs.items()})
            responses: list[httpx.Response] = self._local.responses
        finally:
            self._local.responses = None
        document: dict[str, Any] = _plain(result.model_dump(by_alias=True, exclude_none=True))
        last = responses[-1] if responses else None
        document["ResponseMetadata"] = {
            "RequestId": last.headers.get("x-amzn-requestid") if last else None,
            "HTTPStatusCode": last.status_code if last else 200,
            "HTTPHeaders": {k.lower(): v for k, v in last.headers.items()} if last else {},
            "RetryAttempts": max(len(responses) - 1, 0),
        }
        return document

    # --- lifetime -------------------------------------------------------------------

    def close(self) -> None:
        self.native.close()
        self._http.close()

    def __enter__(self) -> CompatClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _plain(value: Any) -> Any:
    """Enums become the plain strings boto3 returns; datetimes stay aware datetimes."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    return value


def client(
    service_name: str,
    region_name: str | None = None,
    api_version: str | None = None,
    use_ssl: bool = True,
    verify: bool | str | None = None,
    endpoint_url: str | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
    config: Any = None,
) -> CompatClient:
    """``boto3.client("comprehendmedical", ...)`` with the same arguments.

    ``api_version`` must be None or ``2018-10-30``; ``use_ssl`` is honoured by
    choosing the endpoint's scheme only when ``endpoint_url`` is not given (False is
    refused: AWS endpoints need TLS)."""
    if service_name != SERVICE_NAME:
        raise ValueError(f"cmclient.compat only provides {SERVICE_NAME!r}, "
                         f"not {service_name!r}")
    if api_version not in (None, "2018-10-30"):
        raise ValueError(f"Unknown API version {api_version!r}; this client speaks 2018-10-30")
    if not use_ssl and endpoint_url is None:
        raise ValueError("use_ssl=False needs an endpoint_url: AWS endpoints are HTTPS only")
    return CompatClient(
        region_name=region_name,
        endpoint_url=endpoint_url,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        verify=verify,
        config=config,
    )
