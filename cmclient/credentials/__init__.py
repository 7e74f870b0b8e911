"""Credentials: the value type, and (in time) the providers and the chain that finds them."""

from cmclient.credentials._types import CredentialProvider, Credentials, StaticProvider

__all__ = ["CredentialProvider", "Credentials", "StaticProvider"]
