"""Open the job store the settings ask for: Redis Streams when `REDIS_URL` is set (shared by
every replica), else SQLite in the data directory (one process)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

from flux_remix.jobs.embedded import EmbeddedJobStore
from flux_remix.jobs.records import JobRecord
from flux_remix.jobs.redis_streams import RedisJobStore
from flux_remix.jobs.store import JobStore
from flux_remix.jobs.webhooks import Webhooks, webhook_secret
from flux_remix.jobs.workers import Describe, Runner, Workers
from flux_remix.metrics import Metrics
from flux_remix.settings import Settings

log = logging.getLogger("flux_remix.jobs")

JOBS_FILE = "jobs.sqlite3"
# reads that wait: the event hub's (every follower of this process) and the idle workers'
BLOCKING_CONNECTIONS = 4


@asynccontextmanager
async def open_job_store(settings: Settings, redis: Redis | None) -> AsyncIterator[JobStore]:
    store: JobStore
    if redis is not None and settings.redis_url:
        pool = BlockingConnectionPool.from_url(
            settings.redis_url, max_connections=BLOCKING_CONNECTIONS, timeout=10
        )
        store = await RedisJobStore(
            redis, Redis.from_pool(pool), settings.redis_prefix, retention=settings.job_retention
        ).open()
    else:
        store = EmbeddedJobStore(settings.data_dir / JOBS_FILE, retention=settings.job_retention)
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def open_workers(
    settings: Settings,
    store: JobStore,
    *,
    run: Runner,
    describe: Describe,
    render: Callable[[JobRecord], dict[str, Any]],
    metrics: Metrics,
    slots: int,
) -> AsyncIterator[Workers | None]:
    """`slots` workers on `store` (None when 0: this process only serves HTTP), and the
    webhook deliverer, which sends the outbox's due deliveries (left by any process, this one
    before a restart included); on exit, running jobs are handed back and pending deliveries
    stay in the outbox."""
    if slots <= 0:
        yield None
        return
    webhooks = Webhooks(
        store,
        render,
        webhook_secret(settings),
        attempts=settings.webhook_attempts,
        observer=metrics,
    )
    async with webhooks:  # closed after the workers: jobs finished in their grace get a try
        workers = Workers(
            store,
            run,
            describe,
            slots=slots,
            lease=settings.job_lease,
            finished=webhooks.wake,
            observer=metrics,
        )
        async with workers:
            yield workers
