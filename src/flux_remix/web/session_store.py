"""Server-side records of the web page's sign-in sessions, so a session can end before its cookie.

A signed cookie alone stays valid for as long as it says; with a record per session (its nonce,
kept only as a hash) the server decides: `POST /signout` deletes the record, a session unused for
`FLUX_REMIX_SESSION_IDLE_TIMEOUT` seconds expires, and revoking a key ends its sessions (the key
is checked on every request, `web/deps.py`). With `REDIS_URL` the records live in Redis (a key
per session whose TTL is the idle timeout, renewed on use), so every replica sees a sign-out at
once; without it they live in the process, and a restart signs everyone out.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from flux_remix.errors import StorageError

log = logging.getLogger("flux_remix.web")
TOUCH_EVERY = 60.0  # seconds between renewals of one session's idle deadline in Redis


def _id(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()[:32]


class SessionStore(Protocol):
    async def start(self, nonce: str, key_id: str) -> None: ...

    async def touch(self, nonce: str) -> str | None:
        """The live session's key id (its idle deadline renewed), or None when it ended."""

    async def end(self, nonce: str) -> None: ...


class MemorySessionStore:
    def __init__(self, idle: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._idle = idle
        self._clock = clock
        self._live: dict[str, tuple[str, float]] = {}  # id -> (key id, last used)

    async def start(self, nonce: str, key_id: str) -> None:
        now = self._clock()
        if len(self._live) > 1000:
            self._live = {k: v for k, v in self._live.items() if now - v[1] < self._idle}
        self._live[_id(nonce)] = (key_id, now)

    async def touch(self, nonce: str) -> str | None:
        now = self._clock()
        found = self._live.get(_id(nonce))
        if found is None or now - found[1] >= self._idle:
            self._live.pop(_id(nonce), None)
            return None
        self._live[_id(nonce)] = (found[0], now)
        return found[0]

    async def end(self, nonce: str) -> None:
        self._live.pop(_id(nonce), None)


class RedisSessionStore:
    """Sessions shared by every replica; while Redis is down no session is accepted (sign-in
    and cookie requests fail with 503), because a sign-out must not be forgotten."""

    def __init__(
        self, redis: Redis, prefix: str, idle: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}session:"
        self._idle = max(1, int(idle))
        self._clock = clock
        self._touched: dict[str, float] = {}  # renewals done recently by this process

    async def start(self, nonce: str, key_id: str) -> None:
        await self._call(self._redis.set(self._prefix + _id(nonce), key_id, ex=self._idle))

    async def touch(self, nonce: str) -> str | None:
        key = self._prefix + _id(nonce)
        now = self._clock()
        if now - self._touched.get(key, float("-inf")) < TOUCH_EVERY:
            value = await self._call(self._redis.get(key))
        else:
            value = await self._call(self._redis.getex(key, ex=self._idle))
            if len(self._touched) > 10_000:
                self._touched.clear()
            self._touched[key] = now
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def end(self, nonce: str) -> None:
        key = self._prefix + _id(nonce)
        self._touched.pop(key, None)
        await self._call(self._redis.delete(key))

    async def _call(self, pending: Awaitable[Any]) -> Any:
        try:
            return await pending
        except RedisError as exc:
            log.warning("session store unavailable: Redis failed (%s)", type(exc).__name__)
            raise StorageError("The session store (Redis) is unavailable") from None


def session_store(redis: Redis | None, prefix: str, idle: float) -> SessionStore:
    return RedisSessionStore(redis, prefix, idle) if redis is not None else MemorySessionStore(idle)
