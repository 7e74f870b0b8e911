"""The exceptions cmclient raises, as one small tree.

::

    ComprehendMedicalError
    ├── ParamValidationError          bad input, caught before any I/O
    ├── ConfigurationError
    │   ├── NoCredentialsError        no provider yielded credentials
    │   │   └── CredentialRetrievalError  a configured source failed
    │   ├── NoRegionError             no region from arguments, environment or profile
    │   ├── ProfileNotFoundError      the named profile is in no config file
    │   └── InvalidConfigError        arguments, environment or files contradict the rules
    ├── HTTPClientError               the request did not get a complete HTTP response
    │   ├── EndpointConnectionError   could not connect (DNS, refused, TLS)
    │   ├── ConnectionClosedError     the connection broke during the exchange
    │   ├── ResponseTooLargeError     the response is over max_response_bytes
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
    ├── BatchResultsError             a batch job's results cannot be read as documented
    │   ├── JobNotFinishedError       the job has not ended: no results yet
    │   └── JobOutputNotFoundError    no output (or no Manifest) where the job says
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
    "CredentialRetrievalError",
    "EndpointConnectionError",
    "ExpiredTokenException",
    "HTTPClientError",
    "IncompleteSignatureException",
    "InternalServerException",
    "InvalidConfigError",
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
    "ProfileNotFoundError",
    "ReadTimeoutError",
    "RequestTimeTooSkewed",
    "ResourceNotFoundException",
    "ResponseParseError",
    "ResponseTooLargeError",
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


class CredentialRetrievalError(NoCredentialsError):
    """A configured credential source failed (bad answer, unreachable, bad output)."""


class NoRegionError(ConfigurationError):
    """No region was given or configured."""


class ProfileNotFoundError(ConfigurationError):
    """A profile was named (argument or AWS_PROFILE) that no config file defines."""


class InvalidConfigError(ConfigurationError, ValueError):
    """The arguments, environment or config files contradict each other or the rules."""


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


class ResponseTooLargeError(HTTPClientError):
    """The response (its head, or its body once decoded) is larger than the client
    accepts (``max_response_bytes``). Nothing beyond the limit was kept in memory and
    the connection was dropped. Not retried: the same request would get the same
    answer."""

    retryable: ClassVar[bool] = False


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
    operation: message``. A service's message can echo the request (a validation
    message quoting the clinical text, say), so ``message`` and ``str(err)`` hold at
    most ``MESSAGE_LIMIT`` characters of it; the whole message stays in
    ``response["Error"]["Message"]`` for code that asks for it.
    """

    #: The most characters of the server's message kept in ``message`` and ``str(err)``.
    MESSAGE_LIMIT: ClassVar[int] = 200

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
        self.message = _capped(message, self.MESSAGE_LIMIT)
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
            f"An error occurred ({code}) when calling the {operation_name} operation: "
            f"{self.message}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only __init__: tell pickle (multiprocessing, Celery) how to rebuild us.
        meta = self.response["ResponseMetadata"]
        return (
            _rebuild_service_error,
            (type(self), self.code, self.response["Error"]["Message"], self.status_code,
             self.request_id, self.operation_name, meta["HTTPHeaders"], meta["RetryAttempts"]),
        )


def _capped(message: str, limit: int) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


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


class BatchResultsError(ComprehendMedicalError):
    """A batch job's results cannot be read as the batch layout describes them
    (``job_results``, ``run_batch``). ``job_id`` names the job."""

    def __init__(self, message: str, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(message)


class JobNotFinishedError(BatchResultsError):
    """The job has not reached a final state: it has no results yet. Wait for it first
    (``wait_for_*``), or let ``run_batch`` do both. ``status`` is its status now."""

    def __init__(self, job_id: str, status: str | None) -> None:
        self.status = status
        super().__init__(
            f"Job {job_id} is {status or 'in an unknown state'}: its results are written "
            "when it ends COMPLETED or PARTIAL_SUCCESS; wait for it first", job_id)


class JobOutputNotFoundError(BatchResultsError):
    """No output folder (or no Manifest) for the job where its description says;
    ``where`` is the S3 location looked at."""

    def __init__(self, job_id: str, where: str) -> None:
        self.where = where
        super().__init__(f"No output of job {job_id} found at {where}", job_id)


__all__ += ["BatchResultsError", "JobNotFinishedError", "JobOutputNotFoundError"]


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


# === S3 errors (the batch path's object operations) ===============================
# S3 answers in XML with its own codes (no "Exception" suffix): one class per code the
# batch path can meet. Where a code means what a Comprehend Medical or common code above
# means, its class derives from that class, so one ``except`` serves both services
# (``except ThrottlingException`` also catches ``SlowDown``); ``code`` always says what
# AWS sent, and ``operation_name`` which operation got it. There is no "S3 error" base
# class: error codes are one namespace across AWS, and some of these are also sent by
# other XML services (STS sends ``AccessDenied`` and ``ExpiredToken``, with the same
# meaning), so a class cannot promise that S3 sent it. One code is sent by both S3 and
# Comprehend Medical: ``RequestTimeTooSkewed``. It keeps its one class above (same
# meaning, same retry rule: re-sign with the server's time). Retry classification reads
# the same class data as above (``SlowDown`` is throttling; ``InternalError``,
# ``ServiceUnavailable`` and ``RequestTimeout`` are transient), and any 503 is retried
# whatever its code.

class NoSuchKey(ServiceError):
    """The object does not exist (404). Also raised for a HEAD request's bare 404,
    which has no body to say whether the key or the bucket is missing."""


class NoSuchBucket(ServiceError):
    """The bucket does not exist (404)."""


class AccessDenied(AccessDeniedException):
    """Not allowed (403): an identity, bucket or key policy forbids the call."""


class InvalidAccessKeyId(UnrecognizedClientException):
    """The access key id is unknown to S3 (403)."""


class SignatureDoesNotMatch(InvalidSignatureException):
    """S3 computed a different signature: a wrong secret key or a signing bug (403)."""


class AuthorizationHeaderMalformed(IncompleteSignatureException):
    """The Authorization header is malformed, most often signed for the wrong region (400)."""


class ExpiredToken(ExpiredTokenException):
    """The session token has expired (400): the credentials are reloaded and the
    request made once more."""


class InvalidToken(ServiceError):
    """The session token is malformed or otherwise invalid (400)."""


class PermanentRedirect(ServiceError):
    """The bucket is in another region than the one the request was sent to (301)."""


class InvalidBucketName(ServiceError):
    """The bucket name breaks S3's naming rules (400)."""


class InvalidArgument(ServiceError):
    """A parameter of the request is invalid (400)."""


class InvalidRequest(ServiceError):
    """The request is invalid as a whole (400)."""


class InvalidObjectState(ServiceError):
    """The object is archived (Glacier) and must be restored before it can be read (403)."""


class KeyTooLongError(ServiceError):
    """The object key is longer than 1,024 bytes (400)."""


class EntityTooLarge(ServiceError):
    """The object is larger than a single PUT allows (400)."""


class XAmzContentSHA256Mismatch(ServiceError):
    """The body does not hash to the x-amz-content-sha256 the request signed (400):
    it was changed in transit."""


class RequestTimeout(ServiceError):
    """S3 did not receive the request body in time (400); worth another attempt."""

    retryable = True


class SlowDown(ThrottlingException):
    """S3 asks the caller to reduce its request rate (503): throttling, retried with backoff."""


class InternalError(InternalServerException):
    """S3 failed internally (500); worth another attempt."""


class ServiceUnavailable(ServiceUnavailableException):
    """S3 is temporarily unavailable (503); worth another attempt."""


_S3_ERRORS: tuple[type[ServiceError], ...] = (
    NoSuchKey, NoSuchBucket, AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch,
    AuthorizationHeaderMalformed, ExpiredToken, InvalidToken, PermanentRedirect,
    InvalidBucketName, InvalidArgument, InvalidRequest, InvalidObjectState, KeyTooLongError,
    EntityTooLarge, XAmzContentSHA256Mismatch, RequestTimeout, SlowDown, InternalError,
    ServiceUnavailable,
)
__all__ += [
    "AccessDenied", "AuthorizationHeaderMalformed", "EntityTooLarge", "ExpiredToken",
    "InternalError", "InvalidAccessKeyId", "InvalidArgument", "InvalidBucketName",
    "InvalidObjectState", "InvalidRequest", "InvalidToken", "KeyTooLongError", "NoSuchBucket",
    "NoSuchKey", "PermanentRedirect", "RequestTimeout", "ServiceUnavailable",
    "SignatureDoesNotMatch", "SlowDown", "XAmzContentSHA256Mismatch",
]
# === end of S3 errors ==============================================================


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
_BY_CODE.update({cls.__name__: cls for cls in _S3_ERRORS})  # S3's codes (section above)


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
