"""What both drivers need from httpx: timeouts, and its exceptions turned into ours."""

from __future__ import annotations

import httpx

from cmclient import errors


def as_timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    return timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)


def transport_error(exc: httpx.TransportError, operation_name: str) -> errors.HTTPClientError:
    """The cmclient exception for an httpx transport failure (the caller chains ``exc``).

    The message names the failure and the operation; it does not echo httpx's message,
    which may quote the request.
    """
    kind: type[errors.HTTPClientError]
    if isinstance(exc, httpx.ConnectTimeout):
        kind, what = errors.ConnectTimeoutError, "Connecting to the endpoint timed out"
    elif isinstance(exc, httpx.ReadTimeout):
        kind, what = errors.ReadTimeoutError, "Reading the response timed out"
    elif isinstance(exc, httpx.TimeoutException):
        kind, what = errors.ClientTimeoutError, "A time limit ran out"
    elif isinstance(exc, httpx.ConnectError):
        kind, what = errors.EndpointConnectionError, "Could not connect to the endpoint"
    else:
        kind, what = errors.ConnectionClosedError, "The connection failed during the exchange"
    return kind(
        f"{what} ({type(exc).__name__}) when calling the {operation_name} operation",
        operation_name=operation_name,
    )
