"""The credentials value and the provider contract every source of credentials meets."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable


class Credentials:
    """An AWS access key pair, with the session token and expiry of temporary keys.

    Immutable, compared and hashed by value, picklable. The repr shows the access key
    id and the expiry only: the secret and the token never reach a log line or a
    traceback through this object. Written out rather than a frozen dataclass, which
    generates and execs its methods when the class is made, on every cold start.
    """

    __slots__ = ("_access_key_id", "_expiration", "_secret_access_key", "_session_token")

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None = None,
        expiration: datetime | None = None,
    ) -> None:
        if not access_key_id or not secret_access_key:
            raise ValueError("Credentials need a non-empty access_key_id and secret_access_key")
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._session_token = session_token
        self._expiration = expiration

    @property
    def access_key_id(self) -> str:
        return self._access_key_id

    @property
    def secret_access_key(self) -> str:
        return self._secret_access_key

    @property
    def session_token(self) -> str | None:
        return self._session_token

    @property
    def expiration(self) -> datetime | None:
        return self._expiration

    def _values(self) -> tuple[str, str, str | None, datetime | None]:
        return (self._access_key_id, self._secret_access_key, self._session_token,
                self._expiration)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Credentials) and other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return (f"Credentials(access_key_id={self._access_key_id!r}, "
                f"expiration={self._expiration!r})")

    def __reduce__(self) -> tuple[type[Credentials], tuple[Any, ...]]:
        return (type(self), self._values())


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
