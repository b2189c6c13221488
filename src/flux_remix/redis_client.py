"""The one shared Redis client (`REDIS_URL`), opened by the runtime and closed on exit.

The account pool keeps its shared state in it; caches and de-duplication may reuse it. Replies
are bytes (`decode_responses=False`), so binary values fit too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from flux_remix.errors import ConfigError
from flux_remix.settings import Settings

MAX_CONNECTIONS = 64  # callers beyond this wait for a free connection instead of failing
WAIT_FOR_CONNECTION = 10.0


def redis_from_url(url: str) -> Redis:
    """A client whose pool makes callers wait (up to 10 s) when every connection is busy."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=WAIT_FOR_CONNECTION,
        socket_connect_timeout=5,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)


@asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[Redis | None]:
    """A connected client when `REDIS_URL` is set (checked with PING), else None."""
    if not settings.redis_url:
        yield None
        return
    client = redis_from_url(settings.redis_url)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise ConfigError(
            f"invalid configuration: REDIS_URL: cannot reach Redis ({type(exc).__name__}); "
            "start it or unset REDIS_URL to keep account state in-process"
        ) from None
    try:
        yield client
    finally:
        await client.aclose()
