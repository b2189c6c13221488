"""Stored API keys, in the same database as the image history (table `api_keys`, created by the
`0004_api_keys` migration): SQLite by default, PostgreSQL with `DATABASE_URL`.

The key store opens its own connection beside the metadata store; `open_storage` has applied
the migrations before it opens.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from flux_remix.errors import StorageError
from flux_remix.keys.records import ApiKey, KeyChanges
from flux_remix.settings import Settings

T = TypeVar("T")
COLUMNS = (
    "id",
    "digest",
    "label",
    "admin",
    "rate_limit",
    "daily_neurons",
    "created_us",
    "revoked_us",
)
_COLS = ", ".join(COLUMNS)
SELECT = f"SELECT {_COLS} FROM api_keys ORDER BY created_us, id"  # noqa: S608


class KeyStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def insert(self, key: ApiKey) -> None: ...

    async def all(self) -> list[ApiKey]:
        """Every stored key, revoked ones too, oldest first."""

    async def change(self, key_id: str, changes: KeyChanges) -> ApiKey | None: ...

    async def revoke(self, key_id: str, at_us: int) -> ApiKey | None:
        """Mark the key revoked (the first revocation time stays); None when there is none."""


def _row(key: ApiKey) -> tuple[Any, ...]:
    return tuple(getattr(key, c) for c in COLUMNS)


def _key(row: Sequence[Any]) -> ApiKey:
    v = dict(zip(COLUMNS, row, strict=True))
    return ApiKey(
        id=str(v["id"]),
        digest=str(v["digest"]),
        label=str(v["label"]),
        admin=bool(v["admin"]),
        rate_limit=None if v["rate_limit"] is None else int(v["rate_limit"]),
        daily_neurons=None if v["daily_neurons"] is None else float(v["daily_neurons"]),
        created_us=int(v["created_us"]),
        revoked_us=None if v["revoked_us"] is None else int(v["revoked_us"]),
    )


def _update_sql(mark: str, changes: KeyChanges) -> tuple[str, list[Any]]:
    sets: list[str] = []
    args: list[Any] = []
    if changes.label is not None:
        sets.append(f"label = {mark}")
        args.append(changes.label)
    if changes.reset_rate_limit or changes.rate_limit is not None:
        sets.append(f"rate_limit = {mark}")
        args.append(None if changes.reset_rate_limit else changes.rate_limit)
    if changes.reset_daily_neurons or changes.daily_neurons is not None:
        sets.append(f"daily_neurons = {mark}")
        args.append(None if changes.reset_daily_neurons else changes.daily_neurons)
    if not sets:
        sets.append("id = id")
    sql = f"UPDATE api_keys SET {', '.join(sets)} WHERE id = {mark} RETURNING {_COLS}"  # noqa: S608
    return sql, args


class SQLiteKeyStore:
    """One connection on one thread, like the SQLite metadata store (WAL lets both write)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flux-remix-keys")

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA synchronous = FULL")
            return conn

        try:
            self._conn = await asyncio.get_running_loop().run_in_executor(self._executor, connect)
        except sqlite3.Error as exc:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise StorageError(f"cannot open the key table in {self.path}: {exc}") from exc

    async def close(self) -> None:
        if self._executor is None:
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)
        self._executor = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._executor is None or self._conn is None:
            raise StorageError("the key table is not open")
        conn = self._conn
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, conn)
        except sqlite3.Error as exc:
            raise StorageError(f"key table error: {exc}") from exc

    async def insert(self, key: ApiKey) -> None:
        marks = ", ".join("?" * len(COLUMNS))
        sql = f"INSERT INTO api_keys ({_COLS}) VALUES ({marks})"  # noqa: S608
        await self._run(lambda c: c.execute(sql, _row(key)))

    async def all(self) -> list[ApiKey]:
        return await self._run(lambda c: [_key(r) for r in c.execute(SELECT).fetchall()])

    async def change(self, key_id: str, changes: KeyChanges) -> ApiKey | None:
        sql, args = _update_sql("?", changes)
        return await self._one(sql, (*args, key_id))

    async def revoke(self, key_id: str, at_us: int) -> ApiKey | None:
        sql = (
            f"UPDATE api_keys SET revoked_us = COALESCE(revoked_us, ?) WHERE id = ? "  # noqa: S608
            f"RETURNING {_COLS}"
        )
        return await self._one(sql, (at_us, key_id))

    async def _one(self, sql: str, args: tuple[Any, ...]) -> ApiKey | None:
        def run(c: sqlite3.Connection) -> ApiKey | None:
            row = c.execute(sql, args).fetchone()
            return _key(row) if row else None

        return await self._run(run)


Conn = psycopg.AsyncConnection[Any]


class PostgresKeyStore:
    def __init__(self, url: str) -> None:
        self._url = url  # holds the password: never logged or shown
        self._pool: AsyncConnectionPool[Conn] | None = None

    async def open(self) -> None:
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self._url, min_size=1, max_size=2, kwargs={"autocommit": True}, open=False
        )
        try:
            await pool.open(wait=True, timeout=15)
        except (psycopg.Error, OSError) as exc:
            await pool.close()
            raise StorageError(f"cannot open the key table (DATABASE_URL): {exc}") from exc
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[ApiKey]:
        if self._pool is None:
            raise StorageError("the key table is not open")
        try:
            async with self._pool.connection() as conn:
                cur = await conn.execute(sql, args)
                rows = await cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise StorageError(f"key table error: {exc}") from exc
        return [_key(r) for r in rows]

    async def insert(self, key: ApiKey) -> None:
        marks = ", ".join(["%s"] * len(COLUMNS))
        await self._rows(f"INSERT INTO api_keys ({_COLS}) VALUES ({marks})", _row(key))  # noqa: S608

    async def all(self) -> list[ApiKey]:
        return await self._rows(SELECT)

    async def change(self, key_id: str, changes: KeyChanges) -> ApiKey | None:
        sql, args = _update_sql("%s", changes)
        rows = await self._rows(sql, (*args, key_id))
        return rows[0] if rows else None

    async def revoke(self, key_id: str, at_us: int) -> ApiKey | None:
        sql = (
            f"UPDATE api_keys SET revoked_us = COALESCE(revoked_us, %s) WHERE id = %s "  # noqa: S608
            f"RETURNING {_COLS}"
        )
        rows = await self._rows(sql, (at_us, key_id))
        return rows[0] if rows else None


def key_store(settings: Settings) -> KeyStore:
    if settings.database_url is not None:
        return PostgresKeyStore(settings.database_url.get_secret_value())
    return SQLiteKeyStore(settings.db_path)
