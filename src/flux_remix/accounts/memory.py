"""In-process account state, written through to SQLite so a restart keeps it.

Reads come from memory. Every change is one short SQLite transaction in WAL mode with
`synchronous=NORMAL` (no fsync per commit: tens of microseconds), made under the same lock as
the in-memory change, so the two never disagree and no increment is lost. Ledger lines older
than a week are dropped when the file is opened.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flux_remix.accounts.state import DayUsage, Failure, Health

KEEP_DAYS = 7

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
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._db = _open(path)
            self._load(self._db)

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
            self._save(key, health, day, usage)

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
            self._save(key, health, day, usage)

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
            self._save(key, health, None, None)

    def _save(self, key: str, health: Health, day: str | None, usage: DayUsage | None) -> None:
        """Store in SQLite first (so a failed write changes nothing), then in memory."""
        if self._db is not None:
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO account_health VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        health.disabled,
                        _ts(health.exhausted_until),
                        _ts(health.cooldown_until),
                        health.reason,
                        health.streak,
                    ),
                )
                if day is not None and usage is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO account_usage VALUES (?, ?, ?, ?, ?)",
                        (day, key, usage.neurons, usage.successes, usage.failures),
                    )
        self._health[key] = health
        if day is not None and usage is not None:
            self._usage[(day, key)] = usage

    async def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    with db:
        for statement in _SCHEMA:
            db.execute(statement)
    return db
