"""The default credential chain, and the refresh rules for credentials that expire.

``CredentialChain`` looks through its sources in order on the first ``load`` (not
when it is built: a client may exist before its credentials do), keeps the source
that answered, and asks that source again when its credentials near their expiry:

* more than 15 minutes left: the cached credentials are used;
* 15 to 10 minutes left (advisory window): one caller refreshes while the others
  keep using the still-valid credentials; if that refresh fails, the old ones stay;
* under 10 minutes left, expired, or ``invalidate()`` called (mandatory window):
  callers wait for one refresh, and its failure is raised.

One refresh runs at a time: a ``threading.Lock`` serialises ``load()`` across
threads and an ``asyncio.Lock`` (made lazily, per event loop) serialises ``aload()``
across tasks. The clock is injectable (``now``), so tests need not sleep.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from cmclient._protocol.config import ClientConfig
from cmclient.credentials._flow import Flow, run_sync
from cmclient.credentials._sources import (
    AssumeRoleSource,
    ContainerSource,
    EnvSource,
    ImdsSource,
    Misses,
    Source,
    profile_sources,
)
from cmclient.credentials._types import Credentials
from cmclient.errors import CredentialRetrievalError, NoCredentialsError

if TYPE_CHECKING:
    import asyncio

logger = logging.getLogger("cmclient.credentials")

ADVISORY_REFRESH = timedelta(minutes=15)
MANDATORY_REFRESH = timedelta(minutes=10)

_FRESH, _ADVISORY, _MANDATORY = "fresh", "advisory", "mandatory"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CredentialChain:
    """A ``CredentialProvider`` that finds credentials in ``sources``, in order, and
    refreshes them before they expire (see the module docstring)."""

    def __init__(
        self, sources: Sequence[Source], *, now: Callable[[], datetime] | None = None
    ) -> None:
        self._sources = list(sources)
        self._now = now or _utcnow
        self._active: Source | None = None
        self._credentials: Credentials | None = None
        self._stale = False
        self._lock = threading.Lock()
        self._alock: tuple[Any, asyncio.Lock] | None = None
        self._alock_guard = threading.Lock()

    @property
    def method(self) -> str | None:
        """The name of the source that supplied the credentials (botocore's ``method``),
        None before the first load."""
        return self._active.name if self._active is not None else None

    def __repr__(self) -> str:
        return f"CredentialChain(method={self.method!r})"

    # --- decisions (shared by load and aload) ---------------------------------------

    def _phase(self) -> str:
        creds = self._credentials
        if creds is None or self._stale:
            return _MANDATORY
        if creds.expiration is None:
            return _FRESH
        left = creds.expiration - self._now()
        if left <= MANDATORY_REFRESH:
            return _MANDATORY
        if left <= ADVISORY_REFRESH:
            return _ADVISORY
        return _FRESH

    def _fetch(self) -> Flow[Credentials]:
        if self._active is not None:
            misses: Misses = []
            creds = yield from self._active.flow(misses)
            if creds is None:
                raise CredentialRetrievalError(
                    f"The credential source that was in use ({self._active.name}) no longer "
                    "yields credentials: " + "; ".join(misses))
            return creds
        misses = []
        for source in self._sources:
            creds = yield from source.flow(misses)
            if creds is not None:
                self._active = source
                logger.debug("Found credentials with %s", source.name)
                return creds
        raise NoCredentialsError(
            "Unable to locate credentials. Looked in, in order:\n  - " + "\n  - ".join(misses)
            + "\nPass credentials=Credentials(...) to the client, or configure one of these."
        )

    def _store(self, creds: Credentials) -> Credentials:
        self._credentials = creds
        self._stale = False
        if creds.expiration is not None and creds.expiration - self._now() <= MANDATORY_REFRESH:
            logger.warning(
                "Refreshed credentials (%s) expire in under %s; they are used anyway.",
                self.method, MANDATORY_REFRESH)
        return creds

    # --- sync ------------------------------------------------------------------------

    def load(self) -> Credentials:
        phase = self._phase()
        current = self._credentials
        if phase == _FRESH and current is not None:
            return current
        if phase == _ADVISORY and current is not None:
            if not self._lock.acquire(blocking=False):
                return current  # another thread is refreshing; these are still valid
            try:
                if self._phase() == _ADVISORY:
                    try:
                        self._store(run_sync(self._fetch()))
                    except Exception:
                        logger.warning("Advisory credential refresh failed; using the "
                                       "current credentials", exc_info=True)
                return self._credentials or current
            finally:
                self._lock.release()
        with self._lock:
            if self._phase() == _MANDATORY:
                return self._store(run_sync(self._fetch()))
            assert self._credentials is not None
            return self._credentials

    # --- async -----------------------------------------------------------------------

    def _async_lock(self) -> asyncio.Lock:
        import asyncio

        loop = asyncio.get_running_loop()
        with self._alock_guard:
            pair = self._alock
            if pair is None or pair[0] is not loop:
                pair = self._alock = (loop, asyncio.Lock())
        return pair[1]

    async def aload(self) -> Credentials:
        from cmclient.credentials._aio import run_async

        phase = self._phase()
        current = self._credentials
        if phase == _FRESH and current is not None:
            return current
        lock = self._async_lock()
        if phase == _ADVISORY and current is not None:
            if lock.locked():
                return current
            async with lock:
                if self._phase() == _ADVISORY:
                    try:
                        self._store(await run_async(self._fetch()))
                    except Exception:
                        logger.warning("Advisory credential refresh failed; using the "
                                       "current credentials", exc_info=True)
                return self._credentials or current
        async with lock:
            if self._phase() == _MANDATORY:
                return self._store(await run_async(self._fetch()))
            assert self._credentials is not None
            return self._credentials

    def invalidate(self) -> None:
        """Make the next load fetch fresh credentials from the same source."""
        self._stale = True


def default_sources(
    config: ClientConfig,
    *,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] | None = None,
) -> list[Source]:
    """The default chain's sources, in botocore's order: environment, the profile's
    role_arn (AssumeRole), web identity, the credentials file's keys,
    credential_process, the config file's keys, container credentials, EC2 instance
    metadata. An explicit ``profile=`` drops the environment keys and the web identity
    variables, as botocore does."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    clock = now or _utcnow
    explicit = config.profile_explicit
    sources: list[Source] = []
    if not explicit:
        sources.append(EnvSource(env))
    sources.append(AssumeRoleSource(config.profile, config, env, clock))
    sources.extend(profile_sources(config.profile, config, None if explicit else env, clock))
    sources.append(ContainerSource(env))
    sources.append(ImdsSource(env, config))
    return sources
