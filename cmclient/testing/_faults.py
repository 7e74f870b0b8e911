"""The errors the mock answers with: each code's HTTP status and ``__type`` namespace.

One table, so the request core, the operation handlers and the validation messages
all raise ``ServiceFault(code, message)`` and never choose a status themselves.
"""

from __future__ import annotations

from cmclient.testing import _wire

__all__ = ["DEFAULT_MESSAGES", "STATUS", "ServiceFault"]

#: HTTP status of every error code the mock can send. TooManyRequestsException is 400,
#: as the service's API reference gives it (not 429): clients must key their retries on
#: the code, and the mock holds them to that.
STATUS: dict[str, int] = {
    "InvalidRequestException": 400, "ValidationException": 400,
    "InvalidEncodingException": 400, "TextSizeLimitExceededException": 400,
    "ResourceNotFoundException": 404, "TooManyRequestsException": 400,
    "InternalServerException": 500, "ServiceUnavailableException": 503,
    "MissingAuthenticationTokenException": 400, "IncompleteSignatureException": 400,
    "InvalidSignatureException": 400, "UnrecognizedClientException": 400,
    "AccessDeniedException": 400, "ExpiredTokenException": 400,
    "ThrottlingException": 400, "RequestTimeTooSkewed": 400,
    "UnknownOperationException": 400, "SerializationException": 400,
}

# The service's own (modeled) errors; everything else comes from AWS's front end.
_MODELED = frozenset({
    "InvalidRequestException", "InvalidEncodingException", "TextSizeLimitExceededException",
    "ResourceNotFoundException", "TooManyRequestsException", "InternalServerException",
    "ServiceUnavailableException",
})

DEFAULT_MESSAGES: dict[str, str] = {
    "TooManyRequestsException": "You have sent too many requests in a given amount of time.",
    "InternalServerException": "An internal server error occurred. Retry your request.",
    "ServiceUnavailableException": "The service is temporarily unavailable.",
    "ThrottlingException": "Rate exceeded",
}


class ServiceFault(Exception):
    """An error response: the code decides the status and the namespace."""

    def __init__(self, code: str, message: str = "", *, namespace: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message or DEFAULT_MESSAGES.get(code, "")
        if namespace is None:
            namespace = _wire.SERVICE_NAMESPACE if code in _MODELED else _wire.FRONT_END_NAMESPACE
        self.namespace = namespace

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)
