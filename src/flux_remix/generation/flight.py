"""Identical work in flight at the same time runs once.

In one process, the first caller for a key leads and later callers await its result. Across
replicas (with Redis) the leader also holds a short-lived lock `{prefix}inflight:{key}`, kept
alive while it works; a replica that finds the lock taken polls `lookup` (the shared metadata
store) until the leader's result appears, and takes over if the lock lapses without one (the
leader died or failed). Redis being down only costs the cross-replica sharing, never a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from flux_remix.errors import UpstreamTimeoutError

log = logging.getLogger("flux_remix.generation")
T = TypeVar("T")

LOCK_TTL_MS = 15_000
_REFRESH_EVERY = LOCK_TTL_MS / 3000  # seconds
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)
_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)


class Flights(Generic[T]):
    def __init__(self, redis: Redis | None = None, prefix: str = "flux-remix:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._local: dict[str, asyncio.Future[T]] = {}

    def in_flight(self) -> int:
        return len(self._local)

    async def run(
        self,
        key: str,
        lead: Callable[[], Awaitable[T]],
        lookup: Callable[[], Awaitable[T | None]],
        *,
        deadline: float,
    ) -> tuple[T, bool]:
        """`(result, joined)`: `lead()`'s result, or the result of an identical call already in
        flight (`joined` true). `lookup()` finds a result another replica stored."""
        while (existing := self._local.get(key)) is not None:
            try:
                return await asyncio.shield(existing), True
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not existing.cancelled() or (task is not None and task.cancelling()):
                    raise
                # the leader was cancelled, not this caller: look again, perhaps lead
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._local[key] = future
        try:
            result, joined = await self._across_replicas(key, lead, lookup, deadline)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody joined
            raise
        else:
            future.set_result(result)
            return result, joined
        finally:
            del self._local[key]

    async def _across_replicas(
        self,
        key: str,
        lead: Callable[[], Awaitable[T]],
        lookup: Callable[[], Awaitable[T | None]],
        deadline: float,
    ) -> tuple[T, bool]:
        redis = self._redis
        if redis is None:
            return await lead(), False
        lock = f"{self._prefix}inflight:{key}"
        token = uuid.uuid4().hex
        ends = time.monotonic() + deadline
        delay = 0.05
        waited = False
        while True:
            try:
                acquired = bool(await redis.set(lock, token, nx=True, px=LOCK_TTL_MS))
            except (RedisError, OSError) as exc:
                log.warning(
                    "Redis unavailable for de-duplication (%s); going alone", type(exc).__name__
                )
                return await lead(), False
            if acquired:
                if waited:  # the leader may have finished between our last look and the lock
                    found = await lookup()
                    if found is not None:
                        await self._release(lock, token)
                        return found, True
                return await self._lead_holding(lock, token, lead), False
            waited = True
            found = await lookup()
            if found is not None:
                return found, True
            if time.monotonic() + delay > ends:
                raise UpstreamTimeoutError(
                    "an identical request on another replica did not finish within the deadline"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    async def _lead_holding(self, lock: str, token: str, lead: Callable[[], Awaitable[T]]) -> T:
        keeper = asyncio.create_task(self._keep_alive(lock, token))
        try:
            return await lead()
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await self._release(lock, token)

    async def _keep_alive(self, lock: str, token: str) -> None:
        assert self._redis is not None
        while True:
            await asyncio.sleep(_REFRESH_EVERY)
            with contextlib.suppress(RedisError, OSError):
                await self._redis.eval(_EXTEND, 1, lock, token, str(LOCK_TTL_MS))

    async def _release(self, lock: str, token: str) -> None:
        assert self._redis is not None
        with contextlib.suppress(RedisError, OSError):
            await self._redis.eval(_RELEASE, 1, lock, token)
