"""The prompt cache: LLM translations and enhancements keyed by (task, text, mode, model, limit).

In-process LRU by default; Redis when the runtime has one (`REDIS_URL`), so replicas share it.
A cache never fails a request: a Redis error counts as a miss and is logged once per kind.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("flux_remix.prompts")

REDIS_TTL = 30 * 24 * 3600  # translations do not go stale; the TTL only bounds the memory


class PromptCache(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


def cache_key(task: str, text: str, mode: str, model: str, limit: int = 0) -> str:
    """A short stable key for one LLM job; the text itself never appears in it."""
    raw = json.dumps([task, text, mode, model, limit], ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]


class MemoryPromptCache:
    """Least recently used entries are dropped beyond `size`; size 0 keeps nothing."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    async def get(self, key: str) -> str | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: str) -> None:
        if self._size <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


class RedisPromptCache:
    """Entries under `{prefix}prompt:{key}` with a TTL, shared by every replica."""

    def __init__(self, redis: Redis, prefix: str, *, ttl: int = REDIS_TTL) -> None:
        self._redis = redis
        self._prefix = f"{prefix}prompt:"
        self._ttl = ttl
        self._warned = False

    def _failed(self, action: str, exc: Exception) -> None:
        if not self._warned:
            log.warning("prompt cache: Redis %s failed (%s); working uncached", action, exc)
            self._warned = True

    async def get(self, key: str) -> str | None:
        try:
            value = await self._redis.get(self._prefix + key)
        except (RedisError, OSError) as exc:
            self._failed("read", exc)
            return None
        self._warned = False
        if value is None:
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    async def set(self, key: str, value: str) -> None:
        try:
            await self._redis.set(self._prefix + key, value.encode("utf-8"), ex=self._ttl)
        except (RedisError, OSError) as exc:
            self._failed("write", exc)
