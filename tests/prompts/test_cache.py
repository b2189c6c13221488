"""The prompt cache: in-process LRU and Redis (the real server on 127.0.0.1:6379)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from flux_remix.prompts.cache import MemoryPromptCache, RedisPromptCache, cache_key
from flux_remix.redis_client import redis_from_url
from tests.servers import require_redis


def test_cache_key_separates_every_part_and_hides_the_text():
    base = cache_key("translate", "一只猫", "auto", "@cf/m", 0)
    variants = [
        cache_key("enhance", "一只猫", "auto", "@cf/m", 0),
        cache_key("translate", "一只狗", "auto", "@cf/m", 0),
        cache_key("translate", "一只猫", "always", "@cf/m", 0),
        cache_key("translate", "一只猫", "auto", "@cf/other", 0),
        cache_key("translate", "一只猫", "auto", "@cf/m", 500),
    ]
    assert len({base, *variants}) == 6
    assert base == cache_key("translate", "一只猫", "auto", "@cf/m", 0)
    assert "猫" not in base


async def test_memory_cache_drops_the_least_recently_used():
    cache = MemoryPromptCache(2)
    await cache.set("a", "1")
    await cache.set("b", "2")
    assert await cache.get("a") == "1"  # a is now the most recent
    await cache.set("c", "3")
    assert await cache.get("b") is None
    assert (await cache.get("a"), await cache.get("c"), len(cache)) == ("1", "3", 2)


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    client = redis_from_url(require_redis())
    prefix = f"flux-remix-test:{uuid.uuid4().hex[:12]}:"
    try:
        yield client, prefix
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_redis_cache_round_trip_with_ttl(redis):
    client, prefix = redis
    cache = RedisPromptCache(client, prefix, ttl=60)
    assert await cache.get("k") is None
    await cache.set("k", '{"final": "a cat"}')
    assert await cache.get("k") == '{"final": "a cat"}'
    other_replica = RedisPromptCache(client, prefix)
    assert await other_replica.get("k") == '{"final": "a cat"}'
    assert 0 < await client.ttl(f"{prefix}prompt:k") <= 60


async def test_an_unreachable_redis_is_a_miss_not_a_failure(caplog):
    client = Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    cache = RedisPromptCache(client, "flux-remix-test:down:")
    try:
        await cache.set("k", "v")
        assert await cache.get("k") is None
    finally:
        await client.aclose()
    warnings = [r for r in caplog.records if "prompt cache" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not on every call
