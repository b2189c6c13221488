"""Metadata in SQLite (the embedded default): one file in the data directory, WAL mode.

Two connections, each used by one thread at a time. Writes go through the write connection,
under `_write_lock`: async ones on the store's write thread, a batch of new images from the
batch writer's thread (`staged`), which holds it from the rows' insert until their commit, i.e.
while the images' bytes are fsynced. Reads go through a read connection on a thread of their
own: in WAL mode a reader never waits for a writer, so a cache lookup or a history page is not
queued behind an fsync. `synchronous=FULL` makes each committed row survive a power cut, not
just a killed process; a batch of rows commits in one transaction, so one WAL fsync covers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
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
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._write_thread: ThreadPoolExecutor | None = None
        self._read_thread: ThreadPoolExecutor | None = None
        # one user of the write connection at a time: the write thread, or a batch's thread
        self._write_lock = threading.Lock()

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._write_thread is None or self._writer is None:
            raise StorageError("the metadata database is not open")
        return await _on(self._write_thread, functools.partial(self._locked, fn, self._writer))

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._read_thread is None or self._reader is None:
            raise StorageError("the metadata database is not open")
        return await _on(self._read_thread, functools.partial(fn, self._reader))

    def _locked(self, fn: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
        with self._write_lock:
            return fn(conn)

    async def open(self) -> None:
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="flux-remix-sqlite")
        self._read_thread = ThreadPoolExecutor(1, thread_name_prefix="flux-remix-sqlite-read")
        loop = asyncio.get_running_loop()
        try:
            self._writer = await loop.run_in_executor(self._write_thread, self._connect)
            self._reader = await loop.run_in_executor(self._read_thread, self._connect_reader)
        except (sqlite3.Error, OSError) as exc:
            await self.close()
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

    def _connect_reader(self) -> sqlite3.Connection:
        """A connection that only reads (the file is in WAL mode already: that is persistent)."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        reader, self._reader = self._reader, None
        writer, self._writer = self._writer, None
        if self._read_thread is not None:
            if reader is not None:
                await loop.run_in_executor(self._read_thread, reader.close)
            self._read_thread.shutdown(wait=True)
            self._read_thread = None
        if self._write_thread is not None:
            if writer is not None:
                await loop.run_in_executor(self._write_thread, self._locked, _close, writer)
            self._write_thread.shutdown(wait=True)
            self._write_thread = None

    async def insert(self, record: ImageRecord) -> None:
        await self.insert_many([record])

    async def insert_many(self, records: Sequence[ImageRecord]) -> None:
        if records:
            await self._write(_inserting(records))

    @contextlib.contextmanager
    def staged(self, records: Sequence[ImageRecord]) -> Iterator[Callable[[Sequence[bool]], None]]:
        """See `MetadataStore.staged`: the rows are inserted at once, and the write connection
        stays this thread's until they commit or roll back."""
        rows = [sql.to_row(record) for record in records]

        def commit(keep: Sequence[bool]) -> None:
            gone = [(r.id,) for r, stays in zip(records, keep, strict=True) if not stays]
            if gone:
                conn.executemany("DELETE FROM images WHERE id = ?", gone)
            conn.execute("COMMIT")

        with self._write_lock:
            if self._writer is None:
                raise StorageError("the metadata database is not open")
            conn = self._writer
            try:
                conn.execute("BEGIN")
                _insert_rows(conn, rows)
                yield commit
            except sqlite3.Error as exc:
                raise StorageError(f"metadata database error: {exc}") from exc
            finally:
                if conn.in_transaction:  # not committed (SQLite may have rolled back already)
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")

    async def get(self, image_id: str) -> ImageRecord | None:
        def fetch(c: sqlite3.Connection) -> ImageRecord | None:
            row = c.execute(sql.SELECT + " WHERE id = ?", (image_id,)).fetchone()
            return sql.from_row(row) if row else None

        return await self._read(fetch)

    async def find_cached(self, cache_key: str) -> ImageRecord | None:
        def fetch(c: sqlite3.Connection) -> ImageRecord | None:
            row = c.execute(
                sql.SELECT + " WHERE cache_key = ? ORDER BY created_us, id LIMIT 1", (cache_key,)
            ).fetchone()
            return sql.from_row(row) if row else None

        return await self._read(fetch)

    async def history(self, query: HistoryQuery) -> HistoryPage:
        text, args = sql.history_sql(query, "?", "sqlite")

        def fetch(c: sqlite3.Connection) -> list[ImageRecord]:
            return [sql.from_row(r) for r in c.execute(text, args).fetchall()]

        return HistoryPage.of(await self._read(fetch), query.limit)

    async def delete(self, image_id: str) -> ImageRecord | None:
        def remove(c: sqlite3.Connection) -> ImageRecord | None:
            row = c.execute(sql.DELETE_RETURNING.format("?"), (image_id,)).fetchone()
            return sql.from_row(row) if row else None

        return await self._write(remove)

    async def blob_in_use(self, blob_key: str) -> bool:
        def check(c: sqlite3.Connection) -> bool:
            row = c.execute("SELECT 1 FROM images WHERE blob_key = ? LIMIT 1", (blob_key,))
            return row.fetchone() is not None

        return await self._read(check)

    async def applied_migrations(self) -> list[str]:
        def fetch(c: sqlite3.Connection) -> list[str]:
            rows = c.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
            return [str(r[0]) for r in rows]

        return await self._read(fetch)


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


def _inserting(records: Sequence[ImageRecord]) -> Callable[[sqlite3.Connection], None]:
    """The statement(s) inserting `records` in one transaction, to run on the write thread."""
    rows = [sql.to_row(record) for record in records]

    def write(c: sqlite3.Connection) -> None:
        if len(rows) == 1:  # autocommit: a statement alone is a transaction
            c.execute(sql.insert_sql("?"), rows[0])
            return
        c.execute("BEGIN")
        try:
            _insert_rows(c, rows)
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:  # SQLite may have rolled back already (disk full, I/O)
                c.execute("ROLLBACK")
            raise

    return write


def _insert_rows(c: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        c.execute(sql.insert_sql("?", len(chunk)), [v for row in chunk for v in row])


async def _on(thread: ThreadPoolExecutor, call: Callable[[], T]) -> T:
    try:
        return await asyncio.get_running_loop().run_in_executor(thread, call)
    except sqlite3.Error as exc:
        raise StorageError(f"metadata database error: {exc}") from exc


def _close(conn: sqlite3.Connection) -> None:
    conn.close()
