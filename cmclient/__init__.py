"""cmclient: a small, fast, typed client for AWS Comprehend Medical.

``ComprehendMedical`` is the sync client and ``AsyncComprehendMedical`` the async one;
both have every operation as a method. Models are in ``cmclient.models`` and
exceptions in ``cmclient.errors``. The async client is imported on first use, so a
program that only uses the sync client never loads asyncio machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmclient import errors
from cmclient._protocol.quota import Quota
from cmclient._sync.client import ComprehendMedical
from cmclient.credentials import Credentials
from cmclient.errors import (
    ComprehendMedicalError,
    ParamValidationError,
    ServiceError,
)

if TYPE_CHECKING:
    from cmclient import models
    from cmclient._async.client import AsyncComprehendMedical

__version__ = "0.1.0"

__all__ = [
    "AsyncComprehendMedical",
    "ComprehendMedical",
    "ComprehendMedicalError",
    "Credentials",
    "ParamValidationError",
    "Quota",
    "ServiceError",
    "errors",
    "models",
]


def __getattr__(name: str) -> Any:
    if name == "AsyncComprehendMedical":
        from cmclient._async.client import AsyncComprehendMedical

        return AsyncComprehendMedical
    if name == "models":
        from cmclient import models

        return models
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
