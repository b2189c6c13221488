"""The embedded job store: SQLite in the data directory, for one process without Redis.

Jobs outlive the process: queued ones run after a restart, finished ones stay readable for the
retention time, and a job that was running when the process died is taken over at start-up
(`recover`) like one whose worker stopped renewing its lease. Statements are short and run on
the event loop (WAL, no fsync per commit); waiters are woken in-process, with a short poll as
a fallback for a second process (the `flux-remix jobs` command) sharing the file.

The webhook outbox is the `webhook_outbox` table: a row per job with a webhook, added in the
transaction that finishes the job, holding the next attempt's time (or, while a deliverer holds
it, the end of that lease) until the delivery settles; the attempts and last outcome are the
job's `webhook` state. A job is kept while its delivery is pending, and for the retention time
after it settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flux_remix.errors import JobConflictError
from flux_remix.ids import new_id
from flux_remix.jobs.fairness import fair_position, wait_estimate
from flux_remix.jobs.records import (
    FINAL,
    LOST,
    Claim,
    EventKind,
    JobEvent,
    JobRecord,
    QueueStats,
    Status,
)
from flux_remix.jobs.store import HookClaim, Renewal, job_limit, queue_full

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,            -- '' when keys are off
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    base_url TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    token TEXT,
    lease_until REAL,
    cancel INTEGER NOT NULL DEFAULT 0,
    stage TEXT,
    webhook_url TEXT,
    webhook TEXT,
    result TEXT,
    error TEXT,
    seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created);
CREATE INDEX IF NOT EXISTS jobs_by_finish ON jobs (finished);
CREATE TABLE IF NOT EXISTS job_events (
    job_id TEXT NOT NULL,
    id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS job_turns (owner TEXT PRIMARY KEY, served INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_outbox (
    job_id TEXT PRIMARY KEY,
    due REAL,                       -- next attempt, or a holder's lease end; NULL once settled
    token TEXT,                     -- the deliverer holding the attempt under way
    settled REAL                    -- when it was delivered or given up
);
CREATE INDEX IF NOT EXISTS webhook_outbox_by_due ON webhook_outbox (due);
"""

POLL = 1.0  # seconds between checks for another process's writes
PRUNE_EVERY = 60.0
RECENT_RUNS = 20


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class EmbeddedJobStore:
    def __init__(self, path: Path, *, retention: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._retention = retention
        self._waiters: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._work = asyncio.Event()
        self._slots: dict[str, tuple[int, float]] = {}
        self._pruned = 0.0
        self._on_webhook: Callable[[], None] | None = None

    # --- reading -----------------------------------------------------------------------------

    async def get(self, job_id: str, *, estimate: bool = True) -> JobRecord | None:
        row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or self._expired(row):
            return None
        record = _record(row)
        if record.status == "queued" and estimate:
            record.position = self._position(row)
            record.wait_s = wait_estimate(record.position, self._slot_count(), self._runs())
        return record

    async def events(self, job_id: str, after: int = 0) -> list[JobEvent]:
        rows = self._db.execute(
            "SELECT id, kind, data FROM job_events WHERE job_id = ? AND id > ? ORDER BY id",
            (job_id, after),
        ).fetchall()
        return [JobEvent(r["id"], r["kind"], json.loads(r["data"])) for r in rows]

    async def wait(self, job_id: str, after: int, block: float) -> list[JobEvent]:
        deadline = time.monotonic() + block
        while True:
            found = await self.events(job_id, after)
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            waiter = asyncio.get_running_loop().create_future()
            self._waiters[job_id].add(waiter)
            try:
                await asyncio.wait_for(waiter, min(left, POLL))
            except TimeoutError:
                pass
            finally:
                self._waiters[job_id].discard(waiter)
                if not self._waiters[job_id]:
                    del self._waiters[job_id]

    def _expired(self, row: sqlite3.Row) -> bool:
        cutoff = time.time() - self._retention
        if (row["finished"] or time.time()) >= cutoff:
            return False
        kept = self._db.execute(  # a pending webhook delivery, or one settled lately, keeps it
            "SELECT 1 FROM webhook_outbox WHERE job_id = ? AND (due IS NOT NULL OR settled >= ?)",
            (row["id"], cutoff),
        ).fetchone()
        return kept is None

    def _wake(self, job_id: str) -> None:
        for waiter in self._waiters.get(job_id, ()):
            if not waiter.done():
                waiter.set_result(None)

    def _position(self, row: sqlite3.Row) -> int:
        own = self._db.execute(
            "SELECT count(*) FROM jobs WHERE status = 'queued' AND owner = ? AND created < ?",
            (row["owner"], row["created"]),
        ).fetchone()[0]
        others = self._db.execute(
            "SELECT count(*) FROM jobs WHERE status = 'queued' AND owner != ? GROUP BY owner",
            (row["owner"],),
        ).fetchall()
        return fair_position(own, [r[0] for r in others])

    def _runs(self) -> list[float]:
        rows = self._db.execute(
            "SELECT finished - started FROM jobs WHERE status = 'succeeded' "
            "AND started IS NOT NULL ORDER BY finished DESC LIMIT ?",
            (RECENT_RUNS,),
        ).fetchall()
        return [r[0] for r in rows]

    def _slot_count(self) -> int:
        now = time.monotonic()
        return sum(slots for slots, seen in self._slots.values() if now - seen < 60) or 1

    async def list_jobs(
        self, *, status: str | None = None, owner: str | None = None, limit: int = 50
    ) -> list[JobRecord]:
        sql, args = "SELECT * FROM jobs WHERE 1", list[str]()
        if status:
            sql, args = sql + " AND status = ?", [*args, status]
        if owner is not None:
            sql, args = sql + " AND owner = ?", [*args, owner]
        rows = self._db.execute(sql + " ORDER BY created DESC LIMIT ?", (*args, limit))
        return [_record(r) for r in rows.fetchall()]

    async def stats(self) -> QueueStats:
        rows = self._db.execute(
            "SELECT status, count(*) FROM jobs WHERE status IN ('queued', 'running') "
            "GROUP BY status"
        ).fetchall()
        return QueueStats({r[0]: r[1] for r in rows}, self._slot_count())

    # --- writing -----------------------------------------------------------------------------

    async def submit(
        self, record: JobRecord, queued: dict[str, Any], *, per_key: int, capacity: int
    ) -> JobRecord:
        self._prune()
        owner = record.owner or ""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            active = self._db.execute(
                "SELECT count(*), sum(owner = ?) FROM jobs WHERE status IN ('queued', 'running')",
                (owner,),
            ).fetchone()
            if (active[1] or 0) >= per_key:
                raise job_limit(per_key)
            if active[0] >= capacity:
                raise queue_full()
            self._db.execute(
                "INSERT INTO jobs (id, owner, status, request, base_url, created, webhook_url, "
                "webhook, stage, seq) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, 'queued', 1)",
                (
                    record.id,
                    owner,
                    dumps(record.request),
                    record.base_url,
                    record.created,
                    record.webhook_url,
                    dumps(record.webhook) if record.webhook else None,
                ),
            )
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (record.id,)).fetchone()
            position = self._position(row)
            wait_s = wait_estimate(position, self._slot_count(), self._runs())
            data = {"stage": "queued", **queued, "position": position, "wait_s": wait_s}
            self._db.execute(
                "INSERT INTO job_events VALUES (?, 1, 'stage', ?)", (record.id, dumps(data))
            )
        self._work.set()
        stored = await self.get(record.id, estimate=False)
        assert stored is not None
        return dataclasses.replace(stored, position=position, wait_s=wait_s)

    async def claim(
        self, worker: str, slots: int, *, block: float, lease: float, max_attempts: int
    ) -> list[Claim]:
        claims = self._claim(worker, slots, lease, max_attempts)
        if claims or block <= 0:
            return claims
        self._work.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), min(block, POLL))
        return self._claim(worker, slots, lease, max_attempts)

    def _claim(self, worker: str, slots: int, lease: float, max_attempts: int) -> list[Claim]:
        now = time.time()
        claims: list[Claim] = []
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            lapsed = self._db.execute(
                "SELECT id, attempts FROM jobs WHERE status = 'running' AND lease_until < ? "
                "ORDER BY lease_until LIMIT ?",
                (now, slots),
            ).fetchall()
            for row in lapsed:
                if row["attempts"] >= max_attempts:
                    self._finish_locked(row["id"], "failure", LOST, "failed", now)
                    continue
                claims.append(self._hold(row["id"], worker, lease, now, takeover=True))
            while len(claims) < slots:
                row = self._db.execute(
                    "SELECT j.id, j.owner FROM jobs j LEFT JOIN job_turns t ON t.owner = j.owner "
                    "WHERE j.status = 'queued' ORDER BY coalesce(t.served, 0), j.created LIMIT 1"
                ).fetchone()
                if row is None:
                    break
                turn = self._db.execute("SELECT coalesce(max(served), 0) + 1 FROM job_turns")
                self._db.execute(
                    "INSERT OR REPLACE INTO job_turns VALUES (?, ?)",
                    (row["owner"], turn.fetchone()[0]),
                )
                claims.append(self._hold(row["id"], worker, lease, now, takeover=False))
        return claims

    def _hold(self, job_id: str, worker: str, lease: float, now: float, *, takeover: bool) -> Claim:
        token = f"{worker}:{new_id(6)}"
        self._db.execute(
            "UPDATE jobs SET status = 'running', token = ?, lease_until = ?, "
            "attempts = attempts + 1, started = coalesce(started, ?) WHERE id = ?",
            (token, now + lease, now, job_id),
        )
        row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Claim(_record(row), token, takeover)

    def wake(self) -> None:
        self._work.set()

    async def renew(self, job_id: str, token: str, lease: float) -> Renewal:
        with self._db:
            cursor = self._db.execute(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND token = ? AND status = 'running' "
                "RETURNING cancel",
                (time.time() + lease, job_id, token),
            )
            row = cursor.fetchone()
        if row is None:
            return "lost"
        return "cancel" if row[0] else "ok"

    async def append(
        self,
        job_id: str,
        token: str,
        kind: EventKind,
        data: dict[str, Any],
        status: Status | None = None,
        *,
        before: Sequence[dict[str, Any]] = (),
    ) -> Renewal:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            held = self._db.execute(
                "SELECT cancel FROM jobs WHERE id = ? AND token = ? AND status = 'running'",
                (job_id, token),
            ).fetchone()
            if held is None:
                return "lost"
            for stage in before:
                self._finish_locked(job_id, "stage", stage, None, time.time())
            self._finish_locked(job_id, kind, data, status, time.time())
        self._wake(job_id)
        return "cancel" if held[0] and status is None else "ok"

    def _finish_locked(
        self, job_id: str, kind: str, data: dict[str, Any], status: Status | None, now: float
    ) -> None:
        seq = self._db.execute(
            "UPDATE jobs SET seq = seq + 1 WHERE id = ? RETURNING seq", (job_id,)
        ).fetchone()[0]
        self._db.execute(
            "INSERT INTO job_events VALUES (?, ?, ?, ?)", (job_id, seq, kind, dumps(data))
        )
        if kind == "stage":
            self._db.execute("UPDATE jobs SET stage = ? WHERE id = ?", (data.get("stage"), job_id))
        if status in FINAL:
            text = dumps(data)
            result, error = (text, None) if kind == "result" else (None, text)
            self._db.execute(
                "UPDATE jobs SET status = ?, finished = ?, token = NULL, "
                "result = coalesce(?, result), error = coalesce(?, error) WHERE id = ?",
                (status, now, result, error, job_id),
            )
            outbox = self._db.execute(
                "INSERT OR IGNORE INTO webhook_outbox (job_id, due) "
                "SELECT id, ? FROM jobs WHERE id = ? AND webhook_url IS NOT NULL",
                (now, job_id),
            )
            if outbox.rowcount and self._on_webhook is not None:
                self._on_webhook()  # the deliverer runs after this transaction commits

    async def hand_back(self, job_id: str, token: str, reason: str) -> bool:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            cursor = self._db.execute(
                "UPDATE jobs SET status = 'queued', token = NULL, lease_until = NULL "
                "WHERE id = ? AND token = ? AND status = 'running' RETURNING id",
                (job_id, token),
            )
            if cursor.fetchone() is None:
                return False
            self._finish_locked(job_id, "stage", {"stage": "queued", "reason": reason}, None, 0)
        self._work.set()
        self._wake(job_id)
        return True

    async def cancel(self, job_id: str, failure: dict[str, Any]) -> JobRecord:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobConflictError("No such job")
            if row["status"] in FINAL:
                raise JobConflictError(f"The job has already {row['status']}; nothing to cancel")
            self._db.execute("UPDATE jobs SET cancel = 1 WHERE id = ?", (job_id,))
            if row["status"] == "queued":
                self._finish_locked(job_id, "failure", failure, "cancelled", time.time())
        self._wake(job_id)
        record = await self.get(job_id)
        assert record is not None
        return record

    async def set_webhook(self, job_id: str, state: dict[str, Any]) -> None:
        with self._db:
            self._db.execute("UPDATE jobs SET webhook = ? WHERE id = ?", (dumps(state), job_id))

    async def register(self, worker: str, slots: int) -> None:
        self._slots[worker] = (slots, time.monotonic())

    async def recover(self) -> None:
        with self._db:
            self._db.execute("UPDATE jobs SET lease_until = 0 WHERE status = 'running'")
        self._work.set()

    def _prune(self) -> None:
        now = time.time()
        if now - self._pruned < PRUNE_EVERY:
            return
        self._pruned = now
        with self._db:
            cutoff = now - self._retention
            self._db.execute(
                "DELETE FROM job_events WHERE job_id IN (SELECT id FROM jobs WHERE finished < ? "
                "AND id NOT IN (SELECT job_id FROM webhook_outbox WHERE due IS NOT NULL "
                "OR settled >= ?))",
                (cutoff, cutoff),
            )
            self._db.execute(
                "DELETE FROM jobs WHERE finished < ? AND id NOT IN (SELECT job_id FROM "
                "webhook_outbox WHERE due IS NOT NULL OR settled >= ?)",
                (cutoff, cutoff),
            )
            self._db.execute("DELETE FROM webhook_outbox WHERE job_id NOT IN (SELECT id FROM jobs)")

    async def ping(self) -> None:
        self._db.execute("SELECT 1").fetchone()

    # --- the webhook outbox --------------------------------------------------------------------

    async def claim_webhooks(
        self, deliverer: str, limit: int, *, lease: float
    ) -> tuple[list[HookClaim], float | None]:
        now = time.time()
        claims: list[HookClaim] = []
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            due = self._db.execute(
                "SELECT job_id FROM webhook_outbox WHERE due <= ? ORDER BY due LIMIT ?",
                (now, limit),
            ).fetchall()
            for (job_id,) in due:
                row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if row is None:
                    self._db.execute("DELETE FROM webhook_outbox WHERE job_id = ?", (job_id,))
                    continue
                token = f"{deliverer}:{new_id(6)}"
                self._db.execute(
                    "UPDATE webhook_outbox SET due = ?, token = ? WHERE job_id = ?",
                    (now + lease, token, job_id),
                )
                claims.append(HookClaim(_record(row), token))
            upcoming = self._db.execute("SELECT min(due) FROM webhook_outbox").fetchone()[0]
        return claims, upcoming

    async def record_webhook(
        self, job_id: str, token: str, state: dict[str, Any], due: float | None
    ) -> bool:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            held = self._db.execute(
                "UPDATE webhook_outbox SET due = ?, token = NULL, settled = ? "
                "WHERE job_id = ? AND token = ? RETURNING job_id",
                (due, time.time() if due is None else None, job_id, token),
            ).fetchone()
            if held is None:
                return False
            self._db.execute("UPDATE jobs SET webhook = ? WHERE id = ?", (dumps(state), job_id))
        return True

    def on_webhook(self, wake: Callable[[], None]) -> None:
        self._on_webhook = wake

    async def close(self) -> None:
        self._db.close()


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def _record(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        owner=row["owner"] or None,
        request=json.loads(row["request"]),
        base_url=row["base_url"],
        created=row["created"],
        status=row["status"],
        stage=row["stage"],
        started=row["started"],
        finished=row["finished"],
        attempts=row["attempts"],
        worker=row["token"].rsplit(":", 1)[0] if row["token"] else None,
        cancel_requested=bool(row["cancel"]),
        webhook_url=row["webhook_url"],
        webhook=_loads(row["webhook"]),
        result=_loads(row["result"]),
        error=_loads(row["error"]),
    )
