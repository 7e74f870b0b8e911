"""What both drivers need from httpx: timeouts, and its exceptions turned into ours."""

from __future__ import annotations

import math
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.request import getproxies

import httpx

from cmclient import errors
from cmclient._http.rules import transport_chosen_by_mock

#: Connect, read, write and pool timeout of each attempt, in seconds.
DEFAULT_TIMEOUT = 10.0
#: The whole call, every attempt and backoff included, in seconds.
DEFAULT_CALL_TIMEOUT = 60.0
#: Connections each client keeps open to the endpoint.
DEFAULT_MAX_CONNECTIONS = 100


def _httpx_pool(max_connections: int, tls: ssl.SSLContext | None) -> dict[str, Any]:
    """httpx's own pool, for a client behind a proxy. Without ``tls`` (an http
    endpoint), a bare context: httpx would load the CA bundle for ``verify=True``."""
    return {
        "verify": tls or ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
        "limits": httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
    }


def async_http_client(
    timeout: httpx.Timeout, max_connections: int, tls: ssl.SSLContext | None
) -> tuple[httpx.AsyncClient, httpx.AsyncBaseTransport | None]:
    """The async client's HTTP client, and its own transport if it has one (see
    ``asend``). That transport is ``AsyncPoolTransport``, which holds its request rate
    flat under concurrency where httpcore's pool collapses. Imported here, so the sync
    client never loads asyncio. (See ``_own_pool`` for when httpx's pool is used
    instead.)"""
    if not _own_pool():
        return httpx.AsyncClient(timeout=timeout, **_httpx_pool(max_connections, tls)), None
    from cmclient._http.async_pool import AsyncPoolTransport

    transport = AsyncPoolTransport(
        max_connections=max_connections, ssl_context=tls, all_requests_idempotent=True
    )
    return httpx.AsyncClient(timeout=timeout, transport=transport), transport


def sync_http_client(
    timeout: httpx.Timeout, max_connections: int, tls: ssl.SSLContext | None
) -> tuple[httpx.Client, httpx.BaseTransport | None]:
    """The sync client's HTTP client, and its own transport if it has one (see
    ``send``). That transport is ``SyncPoolTransport`` on http.client, which spares a
    cold start the import of httpcore (and anyio, h11, certifi). (See ``_own_pool`` for
    when httpx's pool is used instead.)"""
    if not _own_pool():
        return httpx.Client(timeout=timeout, **_httpx_pool(max_connections, tls)), None
    from cmclient._http.sync_pool import SyncPoolTransport

    transport = SyncPoolTransport(
        max_connections=max_connections, ssl_context=tls, all_requests_idempotent=True
    )
    return httpx.Client(timeout=timeout, transport=transport), transport


async def asend(
    client: httpx.AsyncClient, own: httpx.AsyncBaseTransport | None, request: httpx.Request
) -> httpx.Response:
    """Send ``request`` (built by ``client``) and return the response, its body still to
    be read. With a transport of its own, the client's request goes to it directly: a
    client cmclient built has no auth, cookies, redirects or event hooks for
    ``client.send`` to apply, and skipping that machinery is a quarter to a third more
    requests per second. (The transport itself steps aside for a mock of httpx's
    transports.) With a caller's ``http_client``, or while a test library chooses every
    client's transport, ``client.send`` is used, as anything else would step around
    the caller's settings or the mock."""
    if own is not None and not transport_chosen_by_mock(asynchronous=True):
        return await own.handle_async_request(request)
    # Never follow a redirect, whatever the caller's client says: it would carry the
    # session token, the signature and the clinical text to another origin. A 3xx is
    # answered as the error it is.
    return await client.send(request, stream=True, follow_redirects=False)


def send(
    client: httpx.Client, own: httpx.BaseTransport | None, request: httpx.Request
) -> httpx.Response:
    """``asend`` for the sync client."""
    if own is not None and not transport_chosen_by_mock(asynchronous=False):
        return own.handle_request(request)
    return client.send(request, stream=True, follow_redirects=False)


def _own_pool() -> bool:
    """Whether a client gets cmclient's own connection pool: yes, unless a proxy is
    configured in the environment (HTTP(S)_PROXY, ALL_PROXY), since httpx's pool is
    the one that speaks to proxies (and httpx ignores those variables for a client
    given its own transport). Either pool may resend a request once on a fresh
    connection when a kept-alive one was closed under it: every Comprehend Medical
    operation is read-only or idempotent (Start*Job carries its ClientRequestToken)."""
    return not getproxies()


def as_timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    return timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)


def longest(timeout: httpx.Timeout) -> float:
    """The longest of the four limits (infinite when one of them is off)."""
    values = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    return math.inf if any(v is None for v in values) else max(v for v in values if v)


def within(timeout: httpx.Timeout, remaining: float) -> httpx.Timeout:
    """``timeout`` with every limit cut to ``remaining`` seconds."""
    def cut(value: float | None) -> float:
        return remaining if value is None else min(value, remaining)

    return httpx.Timeout(
        connect=cut(timeout.connect), read=cut(timeout.read),
        write=cut(timeout.write), pool=cut(timeout.pool),
    )


def call_timeout_error(
    operation_name: str, call_timeout: float | None, attempts: int
) -> errors.CallTimeoutError:
    error = errors.CallTimeoutError(
        f"The {operation_name} call did not complete within call_timeout={call_timeout}s",
        operation_name=operation_name,
    )
    error.attempts = attempts
    return error


async def asleep(seconds: float) -> None:
    """The async driver's wait between attempts (anyio: asyncio or trio)."""
    import anyio  # only the async driver gets here: the sync path never loads it

    await anyio.sleep(seconds)


@contextmanager
def abounded(seconds: float, operation_name: str, state: Any) -> Iterator[None]:
    """The async driver's whole-call bound: a cancel scope (anyio, so asyncio and trio
    both work) that stops the call wherever it is waiting when ``seconds`` run out."""
    import anyio  # only the async driver gets here: the sync path never loads it

    try:
        with anyio.fail_after(seconds):
            yield
    except TimeoutError:
        raise call_timeout_error(operation_name, seconds, state.attempt) from None


def transport_error(
    exc: httpx.RequestError, operation_name: str, hint: str | None = None
) -> errors.HTTPClientError | errors.ConfigurationError:
    """The cmclient exception for an httpx request failure (the caller chains ``exc``).

    The message names the failure and the operation, and for a failed connection adds
    ``hint`` (the regions that host the service); it does not echo httpx's message,
    which may quote the request.
    """
    if isinstance(exc, httpx.LocalProtocolError):
        # A request the HTTP layer refused to send (a header it cannot carry): the
        # same request would be refused again, so this is no transport failure to
        # retry. Its text, and that of every exception chained to it, may quote a
        # header's value (a session token): it is wiped, not echoed.
        link: BaseException | None = exc
        while link is not None:
            link.args = ("The HTTP layer refused to send the request",)
            link = link.__cause__ or link.__context__
        return errors.ConfigurationError(
            f"The {operation_name} request could not be sent as built "
            f"({type(exc).__name__}); check the credentials and headers"
        )
    kind: type[errors.HTTPClientError]
    if isinstance(exc, httpx.ConnectTimeout):
        kind, what = errors.ConnectTimeoutError, "Connecting to the endpoint timed out"
    elif isinstance(exc, httpx.ReadTimeout):
        kind, what = errors.ReadTimeoutError, "Reading the response timed out"
    elif isinstance(exc, httpx.TimeoutException):
        kind, what = errors.ClientTimeoutError, "A time limit ran out"
    elif isinstance(exc, httpx.ConnectError):
        kind, what = errors.EndpointConnectionError, "Could not connect to the endpoint"
    elif isinstance(exc, httpx.DecodingError):
        kind, what = errors.ConnectionClosedError, "The response body could not be decoded"
    else:
        kind, what = errors.ConnectionClosedError, "The connection failed during the exchange"
    message = f"{what} ({type(exc).__name__}) when calling the {operation_name} operation"
    if hint and kind is errors.EndpointConnectionError:
        message = f"{message}. {hint}"
    return kind(message, operation_name=operation_name)
