"""The exceptions cmclient raises, as one small tree.

::

    ComprehendMedicalError
    ├── ParamValidationError          bad input, caught before any I/O
    ├── ConfigurationError
    │   ├── NoCredentialsError        no provider yielded credentials
    │   └── NoRegionError             no region from arguments, environment or profile
    ├── HTTPClientError               the request did not get a complete HTTP response
    │   ├── EndpointConnectionError   could not connect (DNS, refused, TLS)
    │   ├── ConnectionClosedError     the connection broke during the exchange
    │   └── ClientTimeoutError
    │       ├── ConnectTimeoutError
    │       ├── ReadTimeoutError
    │       └── CallTimeoutError      the whole call (every attempt) ran out of time
    ├── ResponseParseError            a success status whose body is not the documented shape
    ├── PaginationError               a list operation repeated a NextToken
    ├── WaiterError                   a wait_for_* call ended without completion
    │   ├── JobFailedError            FAILED (or PARTIAL_SUCCESS when not allowed)
    │   ├── JobStoppedError
    │   └── WaiterTimeoutError
    └── ServiceError                  AWS answered with an error
        └── one subclass per error code (InvalidRequestException, ...)

A ``ServiceError`` carries ``code``, ``message``, ``status_code``, ``request_id``,
``operation_name`` and ``response``, a dict shaped like botocore's
``ClientError.response``, so code written for boto3 can read it unchanged. Whether an
error is worth retrying, and whether it means throttling, is data on the class
(``retryable``, ``throttling``) that the retry logic reads.

An error that ends a call after more than one attempt says so: ``attempts`` holds the
number of attempts made, the message ends its first sentence with e.g. ``(reached max
retries: 2; 3 attempts)``, and a ``ServiceError``'s ``response["ResponseMetadata"]``
carries ``RetryAttempts`` and, when that is why retrying stopped,
``MaxAttemptsReached: True`` or ``RetryQuotaReached: True`` (as botocore does).

No message built here contains request text, credentials or signatures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "AccessDeniedException",
    "CallTimeoutError",
    "ClientTimeoutError",
    "ComprehendMedicalError",
    "ConfigurationError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "EndpointConnectionError",
    "ExpiredTokenException",
    "HTTPClientError",
    "IncompleteSignatureException",
    "InternalServerException",
    "InvalidEncodingException",
    "InvalidRequestException",
    "InvalidSignatureException",
    "JobFailedError",
    "JobStoppedError",
    "MissingAuthenticationTokenException",
    "NoCredentialsError",
    "NoRegionError",
    "PaginationError",
    "ParamValidationError",
    "ReadTimeoutError",
    "RequestTimeTooSkewed",
    "ResourceNotFoundException",
    "ResponseParseError",
    "ServiceError",
    "ServiceUnavailableException",
    "TextSizeLimitExceededException",
    "ThrottlingException",
    "TooManyRequestsException",
    "UnrecognizedClientException",
    "ValidationException",
    "WaiterError",
    "WaiterTimeoutError",
    "error_class_for",
    "note_attempts",
]


class ComprehendMedicalError(Exception):
    """Base of every exception cmclient raises on purpose."""

    #: Attempts the call made before raising this (set by the client; 0 = nothing sent).
    attempts: int = 0


class ParamValidationError(ComprehendMedicalError, ValueError):
    """The call's parameters break the service model's rules; nothing was sent.

    ``problems`` lists (parameter path, rule) pairs, one per broken rule.
    """

    def __init__(self, operation_name: str, problems: list[tuple[str, str]]) -> None:
        self.operation_name = operation_name
        self.problems = problems
        lines = "\n".join(f"  {path}: {rule}" for path, rule in problems)
        super().__init__(f"Invalid parameters for {operation_name}:\n{lines}")


class ConfigurationError(ComprehendMedicalError):
    """The client cannot be configured from what it was given and what it found."""


class NoCredentialsError(ConfigurationError):
    """No credential source yielded credentials."""


class NoRegionError(ConfigurationError):
    """No region was given or configured."""


class HTTPClientError(ComprehendMedicalError):
    """The request did not get a complete HTTP response. The httpx exception is chained."""

    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, operation_name: str | None = None) -> None:
        self.operation_name = operation_name
        super().__init__(message)


class EndpointConnectionError(HTTPClientError):
    """Could not connect to the endpoint."""


class ConnectionClosedError(HTTPClientError):
    """The connection was reset or closed before the response was complete."""


class ClientTimeoutError(HTTPClientError):
    """A configured time limit ran out."""


class ConnectTimeoutError(ClientTimeoutError):
    """Connecting took longer than the connect timeout."""


class ReadTimeoutError(ClientTimeoutError):
    """The server sent nothing for longer than the read timeout."""


class CallTimeoutError(ClientTimeoutError):
    """The whole call, every attempt and backoff included, exceeded ``call_timeout``."""

    retryable: ClassVar[bool] = False


class ResponseParseError(ComprehendMedicalError):
    """A success status came with a body that is not the operation's documented output."""

    def __init__(
        self, reason: str, *, operation_name: str, status_code: int, request_id: str | None
    ) -> None:
        self.operation_name = operation_name
        self.status_code = status_code
        self.request_id = request_id
        super().__init__(
            f"Could not parse the {operation_name} response "
            f"(HTTP {status_code}, request id {request_id}): {reason}"
        )


class ServiceError(ComprehendMedicalError):
    """AWS answered the request with an error.

    ``str(err)`` reads like botocore's: ``An error occurred (Code) when calling the Op
    operation: message``.
    """

    retryable: ClassVar[bool] = False
    throttling: ClassVar[bool] = False

    def __init__(
        self,
        *,
        code: str,
        message: str,
        status_code: int,
        request_id: str | None,
        operation_name: str,
        headers: Mapping[str, str] | None = None,
        retry_attempts: int = 0,
    ) -> None:
        self.code = code
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.operation_name = operation_name
        self.response: dict[str, Any] = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {
                "RequestId": request_id,
                "HTTPStatusCode": status_code,
                "HTTPHeaders": {k.lower(): v for k, v in (headers or {}).items()},
                "RetryAttempts": retry_attempts,
            },
        }
        super().__init__(
            f"An error occurred ({code}) when calling the {operation_name} operation: {message}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only __init__: tell pickle (multiprocessing, Celery) how to rebuild us.
        meta = self.response["ResponseMetadata"]
        return (
            _rebuild_service_error,
            (type(self), self.code, self.message, self.status_code, self.request_id,
             self.operation_name, meta["HTTPHeaders"], meta["RetryAttempts"]),
        )


def _rebuild_service_error(
    cls: type[ServiceError], code: str, message: str, status: int, request_id: str | None,
    operation: str, headers: Mapping[str, str], attempts: int,
) -> ServiceError:
    return cls(code=code, message=message, status_code=status, request_id=request_id,
               operation_name=operation, headers=headers, retry_attempts=attempts)


class PaginationError(ComprehendMedicalError):
    """A list operation returned a NextToken it had already returned: following it
    would loop for ever."""

    def __init__(self, operation_name: str, page: int) -> None:
        self.operation_name = operation_name
        super().__init__(
            f"{operation_name} returned a NextToken already seen (page {page}); "
            "stopped instead of looping"
        )


class WaiterError(ComprehendMedicalError):
    """A ``wait_for_*`` call ended without the job completing."""

    def __init__(self, message: str, job_id: str, status: str | None) -> None:
        self.job_id = job_id
        self.status = status
        super().__init__(message)


class JobFailedError(WaiterError):
    """The job ended FAILED (or PARTIAL_SUCCESS with ``allow_partial=False``).
    ``job_message`` is the job's own Message, the reason AWS gives."""

    def __init__(self, job_id: str, status: str, job_message: str | None) -> None:
        self.job_message = job_message
        super().__init__(f"Job {job_id} ended {status}: {job_message or 'no message'}",
                         job_id, status)


class JobStoppedError(WaiterError):
    """The job was stopped before it completed."""

    def __init__(self, job_id: str, status: str, job_message: str | None) -> None:
        self.job_message = job_message
        super().__init__(f"Job {job_id} was stopped", job_id, status)


class WaiterTimeoutError(WaiterError):
    """The job was still not finished when the waiter's timeout ran out."""

    def __init__(self, job_id: str, status: str | None, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(
            f"Job {job_id} not finished after {timeout:g} s (last status: {status})",
            job_id, status,
        )


# --- the service's modeled errors -------------------------------------------------

class InvalidRequestException(ServiceError):
    """The request is invalid (400)."""


class ValidationException(ServiceError):
    """The filter or another parameter is invalid (400)."""


class InvalidEncodingException(ServiceError):
    """The input text is not valid UTF-8 (400)."""


class TextSizeLimitExceededException(ServiceError):
    """The input text is longer than the operation accepts (400)."""


class ResourceNotFoundException(ServiceError):
    """No resource, such as a job, has that id (404)."""


class TooManyRequestsException(ServiceError):
    """The request rate is over the account's quota (429)."""

    retryable = True
    throttling = True


class InternalServerException(ServiceError):
    """The service failed internally (500)."""

    retryable = True


class ServiceUnavailableException(ServiceError):
    """The service is temporarily unavailable (503)."""

    retryable = True


# --- errors any AWS JSON service can send -----------------------------------------

class AccessDeniedException(ServiceError):
    """The caller's identity may not make this call."""


class UnrecognizedClientException(ServiceError):
    """The access key id is unknown to AWS."""


class InvalidSignatureException(ServiceError):
    """The signature does not match, or it has expired (clock skew)."""


class IncompleteSignatureException(ServiceError):
    """The Authorization header is malformed."""


class MissingAuthenticationTokenException(ServiceError):
    """The request was not signed."""


class ExpiredTokenException(ServiceError):
    """The session token has expired."""


class ThrottlingException(ServiceError):
    """The request was throttled."""

    retryable = True
    throttling = True


class RequestTimeTooSkewed(ServiceError):
    """The request's X-Amz-Date is too far from the server's clock."""


_BY_CODE: dict[str, type[ServiceError]] = {
    cls.__name__: cls
    for cls in (
        InvalidRequestException, ValidationException, InvalidEncodingException,
        TextSizeLimitExceededException, ResourceNotFoundException, TooManyRequestsException,
        InternalServerException, ServiceUnavailableException, AccessDeniedException,
        UnrecognizedClientException, InvalidSignatureException, IncompleteSignatureException,
        MissingAuthenticationTokenException, ExpiredTokenException, ThrottlingException,
        RequestTimeTooSkewed,
    )
}


def note_attempts(
    error: ComprehendMedicalError,
    attempts: int,
    *,
    max_attempts_reached: bool = False,
    quota_reached: bool = False,
) -> ComprehendMedicalError:
    """Record on ``error`` how many attempts its call made and why retrying stopped;
    returns ``error`` so a driver can ``raise note_attempts(...)``."""
    error.attempts = attempts
    if isinstance(error, ServiceError):
        meta = error.response["ResponseMetadata"]
        meta["RetryAttempts"] = attempts - 1
        if max_attempts_reached:
            meta["MaxAttemptsReached"] = True
        if quota_reached:
            meta["RetryQuotaReached"] = True
    if attempts > 1 and error.args and isinstance(error.args[0], str):
        note = f"{attempts} attempts"
        if max_attempts_reached:
            note = f"reached max retries: {attempts - 1}; {note}"
        elif quota_reached:
            note = f"retry quota exhausted; {note}"
        message: str = error.args[0]
        marker = " operation"
        at = message.find(marker)
        if at >= 0:
            at += len(marker)
            message = f"{message[:at]} ({note}){message[at:]}"
        else:
            message = f"{message} ({note})"
        error.args = (message, *error.args[1:])
    return error


def error_class_for(code: str) -> type[ServiceError]:
    """The exception class for an AWS error code; plain ``ServiceError`` for codes we
    do not know, so a new code from AWS still raises something catchable."""
    return _BY_CODE.get(code, ServiceError)
