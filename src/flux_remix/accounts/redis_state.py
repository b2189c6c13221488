"""Account state in Redis, shared by every replica (`REDIS_URL`).

Keys, under the configured prefix (`REDIS_PREFIX`, default `flux-remix:`):

    {prefix}account:{key}   hash: disabled, exhausted_until, cooldown_until, reason, streak
    {prefix}ledger:{day}    hash: {key}:neurons, {key}:successes, {key}:failures (kept 8 days)

Every update is one MULTI/EXEC transaction of increments and field writes (HINCRBYFLOAT,
HINCRBY, HSET), so concurrent replicas never lose an increment. Times are epoch seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from flux_remix.accounts.state import DayUsage, Failure, Health

LEDGER_TTL = 8 * 24 * 3600

# Enable an account again; drop its reason too when the reason was the one that disabled it.
_ENABLE = """
local disabled = redis.call('HGET', KEYS[1], 'disabled')
if not disabled then return 0 end
if redis.call('HGET', KEYS[1], 'reason') == disabled then
  redis.call('HDEL', KEYS[1], 'reason')
end
redis.call('HDEL', KEYS[1], 'disabled')
return 1
"""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _time(value: Any) -> datetime | None:
    text = _text(value)
    return datetime.fromtimestamp(float(text), UTC) if text else None


class RedisState:
    """Account state shared through Redis. The client is owned (and closed) by the runtime."""

    def __init__(self, redis: Redis, prefix: str = "flux-remix:") -> None:
        self._redis = redis
        self._prefix = prefix

    def _health_key(self, key: str) -> str:
        return f"{self._prefix}account:{key}"

    def _ledger_key(self, day: str) -> str:
        return f"{self._prefix}ledger:{day}"

    async def read(self, keys: list[str], day: str) -> dict[str, tuple[Health, DayUsage]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(self._health_key(key))
            pipe.hgetall(self._ledger_key(day))
            replies: list[Any] = await pipe.execute()
        ledger = {_text(k): _text(v) for k, v in replies[-1].items()}
        out: dict[str, tuple[Health, DayUsage]] = {}
        for key, raw in zip(keys, replies[:-1], strict=True):
            h = {_text(k): v for k, v in raw.items()}
            health = Health(
                disabled=_text(h.get("disabled")),
                exhausted_until=_time(h.get("exhausted_until")),
                cooldown_until=_time(h.get("cooldown_until")),
                reason=_text(h.get("reason")),
                streak=int(_text(h.get("streak")) or 0),
            )
            usage = DayUsage(
                neurons=float(ledger.get(f"{key}:neurons") or 0.0),
                successes=int(ledger.get(f"{key}:successes") or 0),
                failures=int(ledger.get(f"{key}:failures") or 0),
            )
            out[key] = (health, usage)
        return out

    async def record_success(self, key: str, day: str, neurons: float) -> None:
        ledger = self._ledger_key(day)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrbyfloat(ledger, f"{key}:neurons", neurons)
            pipe.hincrby(ledger, f"{key}:successes", 1)
            pipe.expire(ledger, LEDGER_TTL)
            pipe.hset(self._health_key(key), "streak", 0)
            await pipe.execute()

    async def record_failure(self, key: str, day: str, failure: Failure) -> None:
        fields: dict[FieldT, EncodableT] = {"reason": failure.reason}
        if failure.disabled is not None:
            fields["disabled"] = failure.disabled
        if failure.exhausted_until is not None:
            fields["exhausted_until"] = failure.exhausted_until.timestamp()
        if failure.cooldown_until is not None:
            fields["cooldown_until"] = failure.cooldown_until.timestamp()
        ledger = self._ledger_key(day)
        health = self._health_key(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(health, mapping=fields)
            pipe.hincrby(health, "streak", 1)
            pipe.hincrby(ledger, f"{key}:failures", 1)
            pipe.expire(ledger, LEDGER_TTL)
            await pipe.execute()

    async def set_disabled(self, key: str, reason: str | None) -> None:
        health = self._health_key(key)
        if reason is None:
            await self._redis.eval(_ENABLE, 1, health)
        else:
            await self._redis.hset(health, mapping={"disabled": reason, "reason": reason})

    async def close(self) -> None:
        """Nothing to do: the shared client belongs to the runtime."""
