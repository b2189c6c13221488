"""Metadata in PostgreSQL (`DATABASE_URL`), for several replicas sharing one history.

psycopg 3 with its async connection pool: fully typed, and the binary wheel carries libpq, so
nothing but PyPI is needed. Migrations run under a transaction-scoped advisory lock, so replicas
starting together apply each one exactly once. `insert_many` writes a batch of rows in one
transaction (one `executemany`, pipelined by psycopg); the batch writer's `staged` commits the
kept rows that way, from its worker thread through the store's event loop.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from flux_remix.errors import StorageError
from flux_remix.storage import sql
from flux_remix.storage.bridge import LoopBridge
from flux_remix.storage.migrations import MIGRATIONS, MIGRATIONS_TABLE, Migration, pending
from flux_remix.storage.records import HistoryPage, HistoryQuery, ImageRecord

T = TypeVar("T")
_MIGRATION_LOCK = 0x666C7578  # "flux": the advisory lock id held while migrating
Conn = psycopg.AsyncConnection[Any]


class PostgresMetadataStore:
    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 10,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self._url = url  # holds the password: never logged or shown
        self.migrations = migrations
        self._max = max_connections
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._loop = LoopBridge()

    async def open(self) -> None:
        self._loop.bind()
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self._url,
            min_size=1,
            max_size=self._max,
            kwargs={"autocommit": True},
            open=False,
        )
        try:
            await pool.open(wait=True, timeout=15)
            self._pool = pool
            await self._run(lambda conn: _migrate(conn, self.migrations))
        except (psycopg.Error, OSError, StorageError) as exc:
            await pool.close()
            self._pool = None
            if isinstance(exc, StorageError):
                raise
            raise StorageError(
                f"cannot open the PostgreSQL database (DATABASE_URL): {exc}"
            ) from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _run(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        if self._pool is None:
            raise StorageError("the metadata database is not open")
        try:
            async with self._pool.connection() as conn:
                return await fn(conn)
        except psycopg.Error as exc:
            raise StorageError(f"metadata database error: {exc}") from exc

    async def _one(self, query: str, args: tuple[Any, ...]) -> ImageRecord | None:
        async def fetch(conn: Conn) -> ImageRecord | None:
            cur = await conn.execute(query, args)
            row = await cur.fetchone()
            return sql.from_row(row) if row else None

        return await self._run(fetch)

    async def insert(self, record: ImageRecord) -> None:
        row = sql.to_row(record)

        async def write(conn: Conn) -> None:
            await conn.execute(sql.insert_sql("%s"), row)

        await self._run(write)

    async def insert_many(self, records: Sequence[ImageRecord]) -> None:
        if not records:
            return
        rows = [sql.to_row(record) for record in records]

        async def write(conn: Conn) -> None:
            async with conn.transaction(), conn.cursor() as cur:
                await cur.executemany(sql.insert_sql("%s"), rows)

        await self._run(write)

    @contextlib.contextmanager
    def staged(self, records: Sequence[ImageRecord]) -> Iterator[Callable[[Sequence[bool]], None]]:
        """See `MetadataStore.staged`: nothing is written before `commit`, which inserts the
        kept rows in one transaction (a transaction held open across threads would pin a pooled
        connection to a worker thread while the bytes are written)."""

        def commit(keep: Sequence[bool]) -> None:
            kept = [r for r, stays in zip(records, keep, strict=True) if stays]
            if kept:
                self._loop.call(self.insert_many(kept))

        yield commit

    async def get(self, image_id: str) -> ImageRecord | None:
        return await self._one(sql.SELECT + " WHERE id = %s", (image_id,))

    async def find_cached(self, cache_key: str) -> ImageRecord | None:
        query = sql.SELECT + " WHERE cache_key = %s ORDER BY created_us, id LIMIT 1"
        return await self._one(query, (cache_key,))

    async def history(self, query: HistoryQuery) -> HistoryPage:
        text, args = sql.history_sql(query, "%s", "postgres")

        async def fetch(conn: Conn) -> list[ImageRecord]:
            cur = await conn.execute(text, args)
            return [sql.from_row(r) for r in await cur.fetchall()]

        return HistoryPage.of(await self._run(fetch), query.limit)

    async def delete(self, image_id: str) -> ImageRecord | None:
        return await self._one(sql.DELETE_RETURNING.format("%s"), (image_id,))

    async def blob_in_use(self, blob_key: str) -> bool:
        async def check(conn: Conn) -> bool:
            cur = await conn.execute(
                "SELECT 1 FROM images WHERE blob_key = %s LIMIT 1", (blob_key,)
            )
            return await cur.fetchone() is not None

        return await self._run(check)

    async def applied_migrations(self) -> list[str]:
        async def fetch(conn: Conn) -> list[str]:
            cur = await conn.execute("SELECT name FROM schema_migrations ORDER BY name")
            return [str(r[0]) for r in await cur.fetchall()]

        return await self._run(fetch)


async def _migrate(conn: Conn, migrations: Sequence[Migration]) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        await conn.execute(MIGRATIONS_TABLE)
        cur = await conn.execute("SELECT name FROM schema_migrations")
        applied = [str(r[0]) for r in await cur.fetchall()]
        for migration in pending(applied, migrations):
            for statement in migration.statements_for("postgres"):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (name, applied_us) VALUES (%s, %s)",
                (migration.name, time.time_ns() // 1000),
            )
