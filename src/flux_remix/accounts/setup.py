"""Build the account pool from settings: pick the state backend, check tokens, close on exit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from flux_remix.accounts.memory import MemoryState
from flux_remix.accounts.pool import AccountPool
from flux_remix.accounts.redis_state import RedisState
from flux_remix.accounts.state import AccountState
from flux_remix.settings import Account, Settings

STATE_FILE = "accounts.sqlite3"


def account_state(settings: Settings, redis: Redis | None) -> AccountState:
    """Redis when configured; else in-process, persisted in the data directory (not in the
    demo, whose emulator starts with a fresh ledger every time)."""
    if redis is not None:
        return RedisState(redis, settings.redis_prefix)
    if settings.demo:
        return MemoryState()
    return MemoryState(settings.data_dir / STATE_FILE)


@asynccontextmanager
async def open_pool(
    settings: Settings,
    redis: Redis | None,
    verify: Callable[[Account], Awaitable[bool]] | None = None,
) -> AsyncIterator[AccountPool]:
    """The pool for `settings.accounts`, its tokens checked with `verify` when given."""
    state = account_state(settings, redis)
    try:
        pool = AccountPool(
            settings.accounts,
            state=state,
            daily_neurons=settings.daily_neurons,
            trip_after=settings.breaker_failures,
        )
        if verify is not None:
            await pool.check_tokens(verify)
        yield pool
    finally:
        await state.close()
