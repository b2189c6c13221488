"""Per-key limits: requests per minute and neurons per UTC day, answered with 429 + Retry-After.

Requests per minute use GCRA (the generic cell rate algorithm): one timestamp per key, a burst
of up to the whole minute's allowance, then one request per `60 / limit` seconds. Neurons are a
counter per key and UTC day, checked before a generation (the used neurons plus the request's
estimate must fit) and charged after it with what the images really cost.

Counters live in this process by default and in Redis when `REDIS_URL` is set, so replicas share
them. A key's own limits win; a key without its own gets `FLUX_REMIX_KEY_RATE_LIMIT` and
`FLUX_REMIX_KEY_DAILY_NEURONS`; 0 means no limit.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from flux_remix.accounts.policy import next_utc_midnight, utc_day
from flux_remix.errors import KeyBudgetExhaustedError, KeyRateLimitedError
from flux_remix.keys.records import ApiKey
from flux_remix.keys.ring import KeyRing
from flux_remix.settings import Settings

log = logging.getLogger("flux_remix.keys")
PERIOD = 60.0  # seconds the rate limit is counted over
DAY_TTL = 2 * 86_400  # seconds a day's neuron counter is kept in Redis


def gcra(tat: float | None, now: float, per_minute: int) -> tuple[float, float]:
    """`(new theoretical arrival time, 0)` when a request at `now` is allowed, else
    `(tat unchanged, seconds until it would be)`."""
    interval = PERIOD / per_minute
    start = now if tat is None or tat < now else tat
    new_tat = start + interval
    allow_at = new_tat - PERIOD
    if allow_at > now:
        return (tat if tat is not None else now), allow_at - now
    return new_tat, 0.0


class Counters(Protocol):
    async def take(self, key_id: str, per_minute: int, now: float) -> float:
        """Count one request; 0 when allowed, else seconds until one would be."""

    async def peek(self, key_id: str, per_minute: int, now: float) -> float:
        """What `take` would answer now, without counting anything."""

    async def used(self, key_id: str, day: str) -> float: ...

    async def add(self, key_id: str, day: str, neurons: float, once: str | None = None) -> None:
        """Add `neurons` to the key's day; with `once` (a job id), only the first time."""
        ...


class MemoryCounters:
    PRUNE_AT = 10_000  # timestamps kept before the ones already in the past are dropped

    def __init__(self) -> None:
        self._tat: dict[str, float] = {}
        self._neurons: dict[tuple[str, str], float] = {}
        self._prune_at = self.PRUNE_AT
        self._charged: set[tuple[str, str]] = set()  # (day, once) already counted

    async def take(self, key_id: str, per_minute: int, now: float) -> float:
        tat, wait = gcra(self._tat.get(key_id), now, per_minute)
        if wait == 0:
            self._tat[key_id] = tat
            if len(self._tat) > self._prune_at:  # many callers (guessed keys): keep it small
                self._tat = {k: t for k, t in self._tat.items() if t > now}
                self._prune_at = max(self.PRUNE_AT, 2 * len(self._tat))
        return wait

    async def peek(self, key_id: str, per_minute: int, now: float) -> float:
        return gcra(self._tat.get(key_id), now, per_minute)[1]

    async def used(self, key_id: str, day: str) -> float:
        return self._neurons.get((day, key_id), 0.0)

    async def add(self, key_id: str, day: str, neurons: float, once: str | None = None) -> None:
        for old in [k for k in self._neurons if k[0] != day]:
            del self._neurons[old]  # yesterday's counts are no longer needed
        self._charged = {c for c in self._charged if c[0] == day}
        if once is not None:
            if (day, once) in self._charged:
                return
            self._charged.add((day, once))
        self._neurons[(day, key_id)] = self._neurons.get((day, key_id), 0.0) + neurons


# GCRA in one atomic step; floats travel as strings (Lua numbers would be cut to integers)
_TAKE = """
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if allow_at > now then return tostring(allow_at - now) end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return '0'
"""


class RedisCounters:
    """The counters in Redis, shared by every replica. While Redis is unreachable the limits
    are not applied (a warning says so): an outage of a safeguard does not fail requests."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._take = redis.register_script(_TAKE)

    async def take(self, key_id: str, per_minute: int, now: float) -> float:
        key = f"{self._prefix}key-rate:{key_id}"
        args: list[str | float] = [repr(now), repr(PERIOD / per_minute), PERIOD]
        try:
            return float(await self._take(keys=[key], args=args))
        except RedisError as exc:
            log.warning("per-key rate limit not applied: Redis failed (%s)", type(exc).__name__)
            return 0.0

    async def peek(self, key_id: str, per_minute: int, now: float) -> float:
        try:
            value = await self._redis.get(f"{self._prefix}key-rate:{key_id}")
        except RedisError as exc:
            log.warning("rate limit not checked: Redis failed (%s)", type(exc).__name__)
            return 0.0
        return gcra(float(value) if value is not None else None, now, per_minute)[1]

    async def used(self, key_id: str, day: str) -> float:
        try:
            value = await self._redis.get(f"{self._prefix}key-neurons:{day}:{key_id}")
        except RedisError as exc:
            log.warning("per-key budget not checked: Redis failed (%s)", type(exc).__name__)
            return 0.0
        return float(value) if value is not None else 0.0

    async def add(self, key_id: str, day: str, neurons: float, once: str | None = None) -> None:
        key = f"{self._prefix}key-neurons:{day}:{key_id}"
        try:
            if once is not None:  # a job re-run after a takeover: counted by its first charge
                marker = f"{self._prefix}key-charged:{day}:{once}"
                if not await self._redis.set(marker, b"1", nx=True, ex=DAY_TTL):
                    return
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incrbyfloat(key, neurons)
                pipe.expire(key, DAY_TTL)
                await pipe.execute()
        except RedisError as exc:
            log.warning("per-key neurons not counted: Redis failed (%s)", type(exc).__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class KeyLimiter:
    """Applies each key's limits; callers without a key (auth off) are never limited."""

    def __init__(
        self,
        ring: KeyRing,
        counters: Counters,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._ring = ring
        self._counters = counters
        self._default_rate = settings.key_rate_limit
        self._default_budget = settings.key_daily_neurons
        self._clock = clock

    def rate_limit(self, key: ApiKey) -> int:
        """Requests per minute (0: none)."""
        return self._default_rate if key.rate_limit is None else key.rate_limit

    def daily_neurons(self, key: ApiKey) -> float:
        """Neurons per UTC day (0: none)."""
        return self._default_budget if key.daily_neurons is None else key.daily_neurons

    async def admit(self, key: ApiKey) -> None:
        """Count a request made with `key`; `KeyRateLimitedError` when it is over its rate."""
        limit = self.rate_limit(key)
        if limit <= 0:
            return
        wait = await self._counters.take(key.id, limit, time.time())
        if wait > 0:
            raise KeyRateLimitedError(
                f"This API key may make {limit} requests per minute; try again in "
                f"{math.ceil(wait)} s",
                retry_after=wait,
            )

    async def used_today(self, key_id: str) -> float:
        return await self._counters.used(key_id, utc_day(self._clock()))

    async def check_budget(self, key_id: str | None, estimate: float) -> None:
        """Before a generation: `KeyBudgetExhaustedError` unless today's neurons plus
        `estimate` fit the key's daily budget."""
        key = self._ring.get(key_id) if key_id else None
        budget = self.daily_neurons(key) if key else 0.0
        if key is None or budget <= 0:
            return
        now = self._clock()
        used = await self._counters.used(key.id, utc_day(now))
        if used + estimate <= budget:
            return
        wait = (next_utc_midnight(now) - now).total_seconds()
        if used >= budget:
            message = (
                f"This API key's daily budget of {budget:g} neurons is used up "
                f"({used:.1f} used today); it resets at 00:00 UTC"
            )
        else:
            message = (
                f"This request needs about {estimate:.1f} neurons but this API key has "
                f"{budget - used:.1f} of its daily {budget:g} left; it resets at 00:00 UTC"
            )
        raise KeyBudgetExhaustedError(message, retry_after=wait)

    async def charge(self, key_id: str | None, neurons: float, once: str | None = None) -> None:
        """After a generation: add what it really cost to the key's day (with `once`, a job's
        id: only its first charge counts, however often the job is re-run)."""
        if key_id is None or neurons <= 0 or self._ring.get(key_id) is None:
            return
        await self._counters.add(key_id, utc_day(self._clock()), neurons, once)
