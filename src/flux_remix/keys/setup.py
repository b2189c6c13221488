"""Build the key ring and the per-key limiter from settings (after `open_storage`, whose
migrations created the `api_keys` table)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from flux_remix.errors import ConfigError, StorageError
from flux_remix.keys.hashing import KeyHasher, load_pepper
from flux_remix.keys.quota import Counters, KeyLimiter, MemoryCounters, RedisCounters
from flux_remix.keys.ring import KeyRing
from flux_remix.keys.store import key_store
from flux_remix.keys.throttle import AuthThrottle
from flux_remix.settings import Settings

MIN_KEY_CHARS = 16


@dataclass(frozen=True)
class Keys:
    ring: KeyRing
    limiter: KeyLimiter
    throttle: AuthThrottle  # failed authentication, per client address and key prefix


def check_key_lengths(settings: Settings) -> None:
    """A configured key shorter than `MIN_KEY_CHARS` stops start-up (guessable), unless
    `FLUX_REMIX_ALLOW_SHORT_KEYS` says it is a test or a demo."""
    if settings.allow_short_keys:
        return
    for var, keys in (("API_KEY", settings.api_keys), ("ADMIN_API_KEY", settings.admin_api_keys)):
        for i, key in enumerate(keys, start=1):
            if len(key.get_secret_value()) < MIN_KEY_CHARS:
                raise ConfigError(
                    f"invalid configuration: {var}: key #{i} is shorter than {MIN_KEY_CHARS} "
                    "characters and could be guessed; use a long random key (`flux-remix keys "
                    "create` makes one), or set FLUX_REMIX_ALLOW_SHORT_KEYS=true for a test"
                )


@asynccontextmanager
async def open_keys(settings: Settings, redis: Redis | None = None) -> AsyncIterator[Keys]:
    store = key_store(settings)
    var = "DATABASE_URL" if settings.database_url is not None else "FLUX_REMIX_DATA_DIR"
    try:
        pepper = load_pepper(settings)
        await store.open()
    except OSError as exc:
        raise ConfigError(
            f"invalid configuration: FLUX_REMIX_DATA_DIR: cannot keep the key pepper: {exc}"
        ) from None
    except StorageError as exc:
        raise ConfigError(f"invalid configuration: {var}: {exc.message}") from None
    try:
        ring = KeyRing(settings, store, KeyHasher(pepper))
        await ring.refresh(force=True)
        counters: Counters = (
            RedisCounters(redis, settings.redis_prefix) if redis is not None else MemoryCounters()
        )
        failures: Counters = counters if redis is not None else MemoryCounters()
        throttle = AuthThrottle(failures, settings.auth_failures_per_minute)
        yield Keys(ring, KeyLimiter(ring, counters, settings), throttle)
    finally:
        await store.close()
