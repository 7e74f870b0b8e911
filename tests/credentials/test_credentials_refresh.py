"""Refresh windows and single-flight refresh, with an injected clock and a loopback
container endpoint that counts fetches (and hands out a new key id per fetch)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cmclient._protocol.config import resolve_config
from cmclient.credentials import CredentialProvider, Credentials, resolve_provider
from cmclient.errors import NoCredentialsError
from tests.helpers.aws_fakes import AwsHome, FakeContainer

START = datetime(2030, 1, 1, tzinfo=timezone.utc)
EXPIRY = START + timedelta(hours=1)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def until_expiry(self, left: timedelta) -> None:
        self.now = EXPIRY - left


@pytest.fixture
def container() -> Iterator[FakeContainer]:
    with FakeContainer() as fake:
        fake.expiration = EXPIRY
        yield fake


def provider(tmp_path: Path, fake: FakeContainer, clock: Clock) -> CredentialProvider:
    env = AwsHome(tmp_path).env(AWS_CONTAINER_CREDENTIALS_FULL_URI=fake.url + "/creds")
    config = resolve_config(region="us-east-1", environ=env)
    return resolve_provider(None, config=config, environ=env, now=clock)


def test_credentials_are_cached_while_fresh(tmp_path: Path, container: FakeContainer) -> None:
    clock = Clock()
    p = provider(tmp_path, container, clock)
    assert p.load().access_key_id == "ASIAFAKE1"
    clock.until_expiry(timedelta(minutes=16))
    assert p.load().access_key_id == "ASIAFAKE1"
    assert container.fetches() == 1


def test_advisory_window_refreshes(tmp_path: Path, container: FakeContainer) -> None:
    clock = Clock()
    p = provider(tmp_path, container, clock)
    p.load()
    clock.until_expiry(timedelta(minutes=14))
    assert p.load().access_key_id == "ASIAFAKE2"


def test_failed_advisory_refresh_keeps_the_old_credentials(tmp_path: Path, container: FakeContainer) -> None:
    clock = Clock()
    p = provider(tmp_path, container, clock)
    p.load()
    container.status = 500
    clock.until_expiry(timedelta(minutes=12))
    assert p.load().access_key_id == "ASIAFAKE1"
    assert asyncio.run(p.aload()).access_key_id == "ASIAFAKE1"


def test_failed_mandatory_refresh_raises(tmp_path: Path, container: FakeContainer) -> None:
    clock = Clock()
    p = provider(tmp_path, container, clock)
    p.load()
    container.status = 500
    clock.until_expiry(timedelta(minutes=9))
    with pytest.raises(NoCredentialsError, match="HTTP 500"):
        p.load()
    with pytest.raises(NoCredentialsError, match="HTTP 500"):
        asyncio.run(p.aload())


def test_mandatory_window_and_expired_credentials_refresh(tmp_path: Path, container: FakeContainer) -> None:
    clock = Clock()
    p = provider(tmp_path, container, clock)
    p.load()
    clock.until_expiry(timedelta(minutes=9))
    assert p.load().access_key_id == "ASIAFAKE2"
    container.expiration = EXPIRY + timedelta(hours=1)
    clock.now = EXPIRY + timedelta(minutes=1)  # ASIAFAKE2 (same expiry) has expired
    assert asyncio.run(p.aload()).access_key_id == "ASIAFAKE3"


def test_invalidate_makes_the_next_load_fetch_again(tmp_path: Path, container: FakeContainer) -> None:
    clock = Clock()
    p = provider(tmp_path, container, clock)
    p.load()
    p.invalidate()
    assert p.load().access_key_id == "ASIAFAKE2"
    assert p.load().access_key_id == "ASIAFAKE2"


@pytest.mark.parametrize("left", [timedelta(minutes=12), timedelta(minutes=5)], ids=["advisory", "mandatory"])
def test_100_threads_see_exactly_one_refresh(tmp_path: Path, container: FakeContainer, left: timedelta) -> None:
    clock = Clock()
    p = provider(tmp_path, container, clock)
    p.load()
    container.expiration = EXPIRY + timedelta(hours=1)  # the refresh brings fresh ones
    clock.until_expiry(left)
    barrier = threading.Barrier(100)
    results: list[Credentials] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        creds = p.load()
        with lock:
            results.append(creds)

    threads = [threading.Thread(target=worker) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert container.fetches() == 2  # the first load and exactly one refresh
    assert len(results) == 100
    keys = {c.access_key_id for c in results}
    if left < timedelta(minutes=10):
        assert keys == {"ASIAFAKE2"}  # everyone waited for the refresh
    else:
        assert keys <= {"ASIAFAKE1", "ASIAFAKE2"}  # the old ones stayed usable
    assert p.load().access_key_id == "ASIAFAKE2"


@pytest.mark.parametrize("left", [timedelta(minutes=12), timedelta(minutes=5)], ids=["advisory", "mandatory"])
def test_100_tasks_see_exactly_one_refresh(tmp_path: Path, container: FakeContainer, left: timedelta) -> None:
    clock = Clock()
    p = provider(tmp_path, container, clock)

    async def main() -> list[Credentials]:
        await p.aload()
        container.expiration = EXPIRY + timedelta(hours=1)
        clock.until_expiry(left)
        return list(await asyncio.gather(*(p.aload() for _ in range(100))))

    results = asyncio.run(main())
    assert container.fetches() == 2
    keys = {c.access_key_id for c in results}
    if left < timedelta(minutes=10):
        assert keys == {"ASIAFAKE2"}
    else:
        assert "ASIAFAKE1" in keys  # the others did not wait for the advisory refresh
    assert asyncio.run(p.aload()).access_key_id == "ASIAFAKE2"


def test_async_lock_works_across_event_loops(tmp_path: Path, container: FakeContainer) -> None:
    clock = Clock()
    p = provider(tmp_path, container, clock)
    asyncio.run(p.aload())
    clock.until_expiry(timedelta(minutes=5))
    assert asyncio.run(p.aload()).access_key_id == "ASIAFAKE2"
    clock.now = EXPIRY + timedelta(hours=2)
    container.expiration = clock.now + timedelta(hours=1)
    assert asyncio.run(p.aload()).access_key_id == "ASIAFAKE3"
