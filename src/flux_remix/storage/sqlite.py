"""Metadata in SQLite (the embedded default): one file in the data directory, WAL mode.

Every statement runs on one dedicated thread holding one connection, so the event loop never
blocks on disk and SQLite sees no cross-thread use. `synchronous=FULL` makes each committed row
survive a power cut, not just a killed process; `insert_many` commits a batch of rows in one
transaction, so one WAL fsync covers them all.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from flux_remix.errors import StorageError
from flux_remix.storage import sql
from flux_remix.storage.migrations import MIGRATIONS, MIGRATIONS_TABLE, Migration, pending
from flux_remix.storage.records import HistoryPage, HistoryQuery, ImageRecord

T = TypeVar("T")

# rows per INSERT statement (25 values each; SQLite allows 32,766). One statement is one step
# of the sqlite3 module, which releases and re-takes the GIL once per step: `executemany` took
# it back once per row, and under load each re-take waits for the busy event loop.
_ROWS_PER_INSERT = 500


class SQLiteMetadataStore:
    def __init__(self, path: Path, *, migrations: Sequence[Migration] = MIGRATIONS) -> None:
        self.path = path
        self.migrations = migrations
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        # one user of the connection at a time: the store's thread, or a worker thread writing
        # a batch of images (`insert_many_blocking`), which so needs no hop to the store's thread
        self._lock = threading.Lock()

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._executor is None or self._conn is None:
            raise StorageError("the metadata database is not open")
        conn = self._conn
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._locked, fn, conn)
        except sqlite3.Error as exc:
            raise StorageError(f"metadata database error: {exc}") from exc

    def _locked(self, fn: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
        with self._lock:
            return fn(conn)

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flux-remix-sqlite")
        loop = asyncio.get_running_loop()
        try:
            self._conn = await loop.run_in_executor(self._executor, self._connect)
        except (sqlite3.Error, OSError) as exc:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise StorageError(f"cannot open the metadata database {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            mode = _switch_to_wal(conn)
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot switch to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            _migrate(conn, self.migrations)
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        if self._executor is None:
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._locked, _close, conn)
        self._executor.shutdown(wait=True)
        self._executor = None

    async def insert(self, record: ImageRecord) -> None:
        await self.insert_many([record])

    async def insert_many(self, records: Sequence[ImageRecord]) -> None:
        if records:
            await self._run(_inserting(records))

    def insert_many_blocking(
        self, records: Sequence[ImageRecord], *, keep: Callable[[], Sequence[bool]] | None = None
    ) -> None:
        """`insert_many` in the calling worker thread (never the event loop); with `keep`, see
        `BlockingRowWrites` (the connection stays this thread's until the commit)."""
        if not records:
            return
        write = _inserting(records, keep)
        with self._lock:
            if self._conn is None:
                raise StorageError("the metadata database is not open")
            try:
                write(self._conn)
            except sqlite3.Error as exc:
                raise StorageError(f"metadata database error: {exc}") from exc

    async def get(self, image_id: str) -> ImageRecord | None:
        def fetch(c: sqlite3.Connection) -> ImageRecord | None:
            row = c.execute(sql.SELECT + " WHERE id = ?", (image_id,)).fetchone()
            return sql.from_row(row) if row else None

        return await self._run(fetch)

    async def find_cached(self, cache_key: str) -> ImageRecord | None:
        def fetch(c: sqlite3.Connection) -> ImageRecord | None:
            row = c.execute(
                sql.SELECT + " WHERE cache_key = ? ORDER BY created_us, id LIMIT 1", (cache_key,)
            ).fetchone()
            return sql.from_row(row) if row else None

        return await self._run(fetch)

    async def history(self, query: HistoryQuery) -> HistoryPage:
        text, args = sql.history_sql(query, "?", "sqlite")

        def fetch(c: sqlite3.Connection) -> list[ImageRecord]:
            return [sql.from_row(r) for r in c.execute(text, args).fetchall()]

        return HistoryPage.of(await self._run(fetch), query.limit)

    async def delete(self, image_id: str) -> ImageRecord | None:
        def remove(c: sqlite3.Connection) -> ImageRecord | None:
            row = c.execute(sql.DELETE_RETURNING.format("?"), (image_id,)).fetchone()
            return sql.from_row(row) if row else None

        return await self._run(remove)

    async def blob_in_use(self, blob_key: str) -> bool:
        def check(c: sqlite3.Connection) -> bool:
            row = c.execute("SELECT 1 FROM images WHERE blob_key = ? LIMIT 1", (blob_key,))
            return row.fetchone() is not None

        return await self._run(check)

    async def applied_migrations(self) -> list[str]:
        def fetch(c: sqlite3.Connection) -> list[str]:
            rows = c.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
            return [str(r[0]) for r in rows]

        return await self._run(fetch)


def _switch_to_wal(conn: sqlite3.Connection, attempts: int = 100) -> str:
    """`PRAGMA journal_mode = WAL`, retried: switching needs a moment alone with the file, and
    SQLite answers "database is locked" at once (not after busy_timeout) when another process
    opening the same new file holds it."""
    for attempt in range(attempts):
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)
    raise sqlite3.OperationalError("cannot switch to WAL mode")


def _migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> None:
    conn.execute(MIGRATIONS_TABLE)
    conn.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes too
    try:
        applied = [r[0] for r in conn.execute("SELECT name FROM schema_migrations")]
        for migration in pending(applied, migrations):
            for statement in migration.statements_for("sqlite"):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_us) VALUES (?, ?)",
                (migration.name, time.time_ns() // 1000),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _inserting(
    records: Sequence[ImageRecord], keep: Callable[[], Sequence[bool]] | None = None
) -> Callable[[sqlite3.Connection], None]:
    """The statement(s) inserting `records` in one transaction, to run on the store's thread;
    `keep()`, when given, is asked just before the commit which rows stay."""
    rows = [sql.to_row(record) for record in records]

    def write(c: sqlite3.Connection) -> None:
        if len(rows) == 1 and keep is None:  # autocommit: a statement alone is a transaction
            c.execute(sql.insert_sql("?"), rows[0])
            return
        c.execute("BEGIN")
        try:
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                chunk = rows[start : start + _ROWS_PER_INSERT]
                c.execute(sql.insert_sql("?", len(chunk)), [v for row in chunk for v in row])
            if keep is not None:
                flags = keep()
                gone = [(r.id,) for r, stays in zip(records, flags, strict=True) if not stays]
                if gone:
                    c.executemany("DELETE FROM images WHERE id = ?", gone)
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:  # SQLite may have rolled back already (disk full, I/O)
                c.execute("ROLLBACK")
            raise

    return write


def _close(conn: sqlite3.Connection) -> None:
    conn.close()
