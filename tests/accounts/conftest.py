"""Fixtures for the account tests: a controllable clock, accounts, and each state backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from flux_remix.accounts import AccountState, MemoryState, RedisState
from flux_remix.accounts.policy import next_utc_midnight, utc_day
from flux_remix.redis_client import redis_from_url
from flux_remix.settings import Account
from tests.servers import require_redis

# Ledger days for tests that reopen a SQLite ledger: it drops days older than KEEP_DAYS on
# open, so a fixed date would age out (it did: 2026-11-24 failed from December on).
TODAY = utc_day(datetime.now(UTC))
TOMORROW = utc_day(next_utc_midnight(datetime.now(UTC)))


class Clock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_accounts(n: int) -> list[Account]:
    return [
        Account(label=f"a{i}", account_id=SecretStr(f"acct-id-{i}"), token=SecretStr(f"tok-{i}"))
        for i in range(n)
    ]


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def drop_prefix(redis: Redis, prefix: str) -> None:
    keys = [k async for k in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[Redis, str]]:
    """A Redis client and a key prefix of this test's own, removed afterwards."""
    client = redis_from_url(require_redis())
    prefix = f"flux-remix-test:{uuid.uuid4().hex[:12]}:"
    try:
        yield client, prefix
    finally:
        await drop_prefix(client, prefix)
        await client.aclose()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AccountState]:
    """Each state backend in turn, fresh: the one test suite they must all pass."""
    if request.param == "redis":
        client = redis_from_url(require_redis())
        prefix = f"flux-remix-test:{uuid.uuid4().hex[:12]}:"
        try:
            yield RedisState(client, prefix)
        finally:
            await drop_prefix(client, prefix)
            await client.aclose()
        return
    state = MemoryState(tmp_path / "accounts.sqlite3" if request.param == "sqlite" else None)
    yield state
    await state.close()
