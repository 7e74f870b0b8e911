"""Credentials: the value type, the provider contract, and the default chain.

``resolve_provider(credentials, config=...)`` gives a client its provider: the
caller's own, or ``CredentialChain`` over the sources botocore uses, in its order
(environment, the profile's role_arn, web identity, credentials file, credential_process,
config file, container endpoint, EC2 instance metadata). The chain is looked through
lazily, on the first load, and temporary credentials are refreshed before they expire.

The chain's modules (files, STS, metadata endpoints) are imported only when a client
needs the chain: a client given its credentials never loads them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any

from cmclient.credentials._types import CredentialProvider, Credentials, StaticProvider
from cmclient.errors import CredentialRetrievalError

if TYPE_CHECKING:
    from cmclient._protocol.config import ClientConfig
    from cmclient.credentials._chain import (
        ADVISORY_REFRESH,
        MANDATORY_REFRESH,
        CredentialChain,
        default_sources,
    )

__all__ = [
    "ADVISORY_REFRESH",
    "MANDATORY_REFRESH",
    "CredentialChain",
    "CredentialProvider",
    "CredentialRetrievalError",
    "Credentials",
    "StaticProvider",
    "default_sources",
    "resolve_provider",
]

_LAZY = {
    "ADVISORY_REFRESH": "_chain",
    "MANDATORY_REFRESH": "_chain",
    "CredentialChain": "_chain",
    "default_sources": "_chain",
}


def resolve_provider(
    credentials: Credentials | CredentialProvider | None,
    *,
    config: ClientConfig,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] | None = None,
) -> CredentialProvider:
    """The provider a client signs with: the caller's ``Credentials`` (static) or
    provider as given, else the default chain for ``config``'s profile. Does no I/O;
    the chain looks for credentials on its first ``load``/``aload``."""
    if isinstance(credentials, Credentials):
        return StaticProvider(credentials)
    if credentials is not None:
        return credentials
    from cmclient.credentials._chain import CredentialChain, default_sources

    return CredentialChain(default_sources(config, environ=environ, now=now), now=now)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
