"""A job store per test, over both implementations: embedded (SQLite in a temporary data
directory) and Redis Streams (a unique key prefix on the local Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from flux_remix.ids import new_id
from flux_remix.jobs.embedded import EmbeddedJobStore
from flux_remix.jobs.records import JobRecord
from flux_remix.jobs.redis_streams import RedisJobStore
from flux_remix.jobs.store import JobStore
from flux_remix.redis_client import redis_from_url
from tests.servers import require_redis


async def drop_prefix(redis: Redis, prefix: str) -> None:
    keys = [k async for k in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)


class Stores:
    """Opens stores of one kind that share their data (two processes, or one after a restart)."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.path = tmp_path / "jobs.sqlite3"
        self.prefix = f"test-jobs-{new_id(4)}:"
        self.opened: list[JobStore] = []
        self.clients: list[Redis] = []
        self.url = require_redis() if kind == "redis" else ""

    async def open(self, retention: float = 900.0) -> JobStore:
        store: JobStore
        if self.kind == "redis":
            shared = redis_from_url(self.url)
            self.clients.append(shared)
            store = await RedisJobStore(
                shared, redis_from_url(self.url), self.prefix, retention=retention
            ).open()
        else:
            store = EmbeddedJobStore(self.path, retention=retention)
        self.opened.append(store)
        return store

    async def close(self) -> None:
        for store in self.opened:
            await store.close()
        for client in self.clients:
            await client.aclose()
        if self.kind == "redis":
            client = redis_from_url(self.url)
            await drop_prefix(client, self.prefix)
            await client.aclose()


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    opened = Stores(request.param, tmp_path)
    yield opened
    await opened.close()


@pytest.fixture
async def store(stores: Stores) -> JobStore:
    return await stores.open()


def job(owner: str | None = "key_a", **request: object) -> JobRecord:
    import time

    return JobRecord(
        id=new_id(),
        owner=owner,
        request={"prompt": "a fox", **request},
        base_url="http://test",
        created=time.time(),
    )
