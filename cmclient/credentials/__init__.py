"""Credentials: the value type, the provider contract, and the default chain.

``resolve_provider(credentials, config=...)`` gives a client its provider: the
caller's own, or ``CredentialChain`` over the sources botocore uses, in its order
(environment, the profile's role_arn, web identity, credentials file, credential_process,
config file, container endpoint, EC2 instance metadata). The chain is looked through
lazily, on the first load, and temporary credentials are refreshed before they expire.
"""

from cmclient.credentials._chain import (
    ADVISORY_REFRESH,
    MANDATORY_REFRESH,
    CredentialChain,
    default_sources,
    resolve_provider,
)
from cmclient.credentials._sources import CredentialRetrievalError
from cmclient.credentials._types import CredentialProvider, Credentials, StaticProvider

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
