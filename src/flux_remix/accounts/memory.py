"""In-process account state, written behind to SQLite so a restart keeps it.

Reads and changes happen in memory, under one threading lock, and never touch the disk on the
caller's thread (the event loop). Each change marks its rows (an account's health; an
(account, day) ledger line) dirty. With a `path`, a daemon writer thread wakes on the first
change, waits `FLUSH_INTERVAL` so that a burst of changes coalesces, takes a snapshot of the
dirty rows under the lock and writes them, outside the lock, in one SQLite transaction (WAL mode,
`synchronous=NORMAL`) of idempotent `INSERT OR REPLACE`s of the latest values. Only one writer
writes at a time and it snapshots under the lock, so the file never goes back to a state older
than one it already held.

What is durable when:

- a graceful stop (`close()`) writes everything still dirty first: it loses nothing;
- a hard kill (or an exit without `close()`) loses at most the changes of the last
  `FLUSH_INTERVAL` (plus any write still in flight), never more;
- a failed write (disk full, database locked) loses nothing either: memory stays right, one
  warning is logged, the rows stay dirty and are written by a later flush (every
  `RETRY_INTERVAL` until one succeeds).

`flush()` writes everything dirty at once (tests, shutdown). Ledger lines older than a week are
dropped when the file is opened.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flux_remix.accounts.state import DayUsage, Failure, Health

KEEP_DAYS = 7
# How long the writer lets changes gather before writing them. At 64 concurrent image calls the
# ledger changes some tens of times a second; 0.1 s turns those into at most ten small
# transactions a second (a writer that wakes rarely competes little with the loop for the GIL)
# while a hard kill loses no more than a tenth of a second of charges.
FLUSH_INTERVAL = 0.1
# After a failed write, how long until the next try (a locked database already waits up to the
# connection's 10 s busy timeout inside each try).
RETRY_INTERVAL = 1.0

log = logging.getLogger("flux_remix.accounts")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS account_health (
        key TEXT PRIMARY KEY,
        disabled TEXT,
        exhausted_until REAL,
        cooldown_until REAL,
        reason TEXT,
        streak INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS account_usage (
        day TEXT NOT NULL,
        key TEXT NOT NULL,
        neurons REAL NOT NULL DEFAULT 0,
        successes INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, key)
    )""",
)


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


class MemoryState:
    """The default backend: a dict in this process, persisted to `path` when one is given."""

    def __init__(self, path: Path | None = None) -> None:
        self._health: dict[str, Health] = {}
        self._usage: dict[tuple[str, str], DayUsage] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a change, or a stop, for the writer
        self._dirty_health: set[str] = set()
        self._dirty_usage: set[tuple[str, str]] = set()
        self._write_lock = threading.Lock()  # one write at a time: snapshot order = write order
        self._stopping = False
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._writer: threading.Thread | None = None
        if path is not None:
            self._db = _open(path)
            self._load(self._db)
            self._writer = threading.Thread(
                target=self._run, name="account-state-writer", daemon=True
            )
            self._writer.start()

    def _load(self, db: sqlite3.Connection) -> None:
        oldest = (datetime.now(UTC) - timedelta(days=KEEP_DAYS)).strftime("%Y-%m-%d")
        with db:
            db.execute("DELETE FROM account_usage WHERE day < ?", (oldest,))
        for key, disabled, exhausted, cooldown, reason, streak in db.execute(
            "SELECT key, disabled, exhausted_until, cooldown_until, reason, streak "
            "FROM account_health"
        ):
            self._health[key] = Health(disabled, _dt(exhausted), _dt(cooldown), reason, streak)
        for day, key, neurons, successes, failures in db.execute(
            "SELECT day, key, neurons, successes, failures FROM account_usage"
        ):
            self._usage[(day, key)] = DayUsage(neurons, successes, failures)

    async def read(self, keys: list[str], day: str) -> dict[str, tuple[Health, DayUsage]]:
        with self._lock:
            return {
                k: (self._health.get(k, Health()), self._usage.get((day, k), DayUsage()))
                for k in keys
            }

    async def record_success(self, key: str, day: str, neurons: float) -> None:
        with self._lock:
            u = self._usage.get((day, key), DayUsage())
            usage = replace(u, neurons=u.neurons + neurons, successes=u.successes + 1)
            health = replace(self._health.get(key, Health()), streak=0)
            self._set(key, health, day, usage)

    async def record_failure(self, key: str, day: str, failure: Failure) -> None:
        with self._lock:
            h = self._health.get(key, Health())
            health = Health(
                disabled=failure.disabled or h.disabled,
                exhausted_until=failure.exhausted_until or h.exhausted_until,
                cooldown_until=failure.cooldown_until or h.cooldown_until,
                reason=failure.reason,
                streak=h.streak + 1,
            )
            u = self._usage.get((day, key), DayUsage())
            usage = replace(u, failures=u.failures + 1)
            self._set(key, health, day, usage)

    async def set_disabled(self, key: str, reason: str | None) -> None:
        with self._lock:
            h = self._health.get(key, Health())
            if reason is not None:
                health = replace(h, disabled=reason, reason=reason)
            elif h.disabled is not None:
                health = replace(
                    h, disabled=None, reason=None if h.reason == h.disabled else h.reason
                )
            else:
                return
            self._set(key, health, None, None)

    def _set(self, key: str, health: Health, day: str | None, usage: DayUsage | None) -> None:
        """Change memory and mark the rows dirty; the caller holds the lock. No I/O here."""
        self._health[key] = health
        if day is not None and usage is not None:
            self._usage[(day, key)] = usage
        if self._db is None:
            return
        was_clean = not (self._dirty_health or self._dirty_usage)
        self._dirty_health.add(key)
        if day is not None and usage is not None:
            self._dirty_usage.add((day, key))
        if was_clean:  # the writer only waits for a change while nothing is dirty
            self._changed.notify()

    def flush(self) -> None:
        """Write every pending change now, on the calling thread, in one transaction.

        Blocks on the disk: from async code, `await asyncio.to_thread(state.flush)`. Raises
        `sqlite3.Error` when the write fails; the changes then stay pending. Does nothing
        without a path or after `close()`.
        """
        with self._write_lock:
            self._write_dirty()

    def _write_dirty(self) -> None:
        """Snapshot the dirty rows under the lock, then write them outside it. The caller holds
        `_write_lock`, so snapshots reach the file in the order they were taken."""
        with self._lock:
            db = self._db
            if db is None or not (self._dirty_health or self._dirty_usage):
                return
            health = {k: self._health[k] for k in self._dirty_health}
            usage = {dk: self._usage[dk] for dk in self._dirty_usage}
            self._dirty_health.clear()
            self._dirty_usage.clear()
        try:
            with db:
                db.executemany(
                    "INSERT OR REPLACE INTO account_health VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            k,
                            h.disabled,
                            _ts(h.exhausted_until),
                            _ts(h.cooldown_until),
                            h.reason,
                            h.streak,
                        )
                        for k, h in health.items()
                    ],
                )
                db.executemany(
                    "INSERT OR REPLACE INTO account_usage VALUES (?, ?, ?, ?, ?)",
                    [(day, k, u.neurons, u.successes, u.failures) for (day, k), u in usage.items()],
                )
        except BaseException:
            with self._lock:  # still to write; the next flush takes the then-latest values
                self._dirty_health.update(health)
                self._dirty_usage.update(usage)
            raise

    def _run(self) -> None:
        """The writer thread: wait for a change, let changes gather, write them; until close."""
        delay = FLUSH_INTERVAL
        failing = False
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: self._stopping or bool(self._dirty_health or self._dirty_usage)
                )
                if not self._stopping:
                    self._changed.wait_for(lambda: self._stopping, timeout=delay)
                if self._stopping:
                    return  # close() writes what is left
            try:
                self.flush()
            except Exception as exc:  # the writer must outlive any failure
                if not failing:
                    log.warning(
                        "could not save account state to %s (%s: %s); "
                        "keeping the changes in memory and retrying",
                        self._path,
                        type(exc).__name__,
                        exc,
                    )
                failing = True
                delay = RETRY_INTERVAL
            else:
                if failing:
                    log.info("account state saved to %s again", self._path)
                failing = False
                delay = FLUSH_INTERVAL

    def _shutdown(self) -> None:
        """Stop the writer, write what is still dirty, close the file (blocking)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        with self._write_lock:
            try:
                self._write_dirty()
            except Exception as exc:  # closing must finish
                log.warning(
                    "could not save account state to %s on close (%s: %s); "
                    "the latest changes are lost",
                    self._path,
                    type(exc).__name__,
                    exc,
                )
            with self._lock:
                db, self._db = self._db, None
                self._dirty_health.clear()
                self._dirty_usage.clear()
            if db is not None:
                db.close()

    async def close(self) -> None:
        """Write every pending change and stop the writer (off the event loop)."""
        if self._db is None and self._writer is None:
            return
        await asyncio.to_thread(self._shutdown)


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    with db:
        for statement in _SCHEMA:
            db.execute(statement)
    return db
