"""The credentials value and the provider contract every source of credentials meets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Credentials:
    """An AWS access key pair, with the session token and expiry of temporary keys.

    The repr shows the access key id only: the secret and the token never reach a log
    line or a traceback through this object.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expiration: datetime | None = None

    def __post_init__(self) -> None:
        if not self.access_key_id or not self.secret_access_key:
            raise ValueError("Credentials need a non-empty access_key_id and secret_access_key")


@runtime_checkable
class CredentialProvider(Protocol):
    """Where a client gets its credentials for each request.

    ``load`` may block (files, HTTP) and serves the sync client; ``aload`` serves the
    async client and must not block the event loop. Both return credentials that are
    valid now, refreshing them first when they are about to expire. ``invalidate``
    makes the next load fetch fresh ones (after an ExpiredToken error).
    """

    def load(self) -> Credentials: ...

    async def aload(self) -> Credentials: ...

    def invalidate(self) -> None: ...


class StaticProvider:
    """Credentials given by the caller: never refreshed."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials

    async def aload(self) -> Credentials:
        return self._credentials

    def invalidate(self) -> None:
        """Static credentials cannot be refreshed; the next call uses them again."""
