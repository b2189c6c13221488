"""The job store interface: one protocol, an embedded (SQLite) and a Redis Streams implementation.

Every replica's web routes and workers talk to the same store, so any replica serves any job:
the routes `submit`, `get`, follow (`events`, `wait`) and `cancel`; the workers `claim` jobs
(queued ones in fair order, and running ones whose worker stopped renewing its lease),
`renew` their lease while they run, `append` progress and the final event, and `hand_back`
what they cannot finish. Writes with a lapsed lease are refused (`append` answers False).

The store is also the webhooks' outbox: a job with a `webhook_url` that ends (whichever way) has
its delivery recorded in the same write as its final state, due at once. Deliverers (in every
process that runs workers) `claim_webhooks` that are due, each under a lease so that two never
send the same attempt, and `record_webhook` each attempt's outcome with the next one's time; a
deliverer that stops holding one lets another take it over when the lease lapses. A job stays
stored while its delivery is pending; its retention counts from when the delivery settles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from flux_remix.errors import JobLimitError, NoCapacityError
from flux_remix.jobs.records import Claim, EventKind, JobEvent, JobRecord, QueueStats, Status

Renewal = Literal["ok", "cancel", "lost"]  # keep going / stop at the next stage / stop now


@dataclass(frozen=True)
class HookClaim:
    """A due webhook delivery a deliverer now holds: its finished job (with the delivery state
    so far in `record.webhook`); record the attempt's outcome with `token`."""

    record: JobRecord
    token: str


class JobStore(Protocol):
    async def submit(
        self, record: JobRecord, queued: dict[str, Any], *, per_key: int, capacity: int
    ) -> JobRecord:
        """Queue `record` with its first event (`queued`, with position and wait added: what
        `first_event` of the returned record says). `JobLimitError` when its key has `per_key`
        jobs queued or running already, `NoCapacityError` when `capacity` jobs are."""
        ...

    async def get(self, job_id: str, *, estimate: bool = True) -> JobRecord | None:
        """The job's record; while it is queued, with its position and wait (`estimate`)."""
        ...

    async def events(self, job_id: str, after: int = 0) -> list[JobEvent]:
        """The job's events with an id above `after` (all of them when it is 0)."""
        ...

    async def wait(self, job_id: str, after: int, block: float) -> list[JobEvent]:
        """Like `events`, but waits up to `block` seconds for one when there is none yet."""
        ...

    async def claim(
        self, worker: str, slots: int, *, block: float, lease: float, max_attempts: int
    ) -> list[Claim]:
        """Up to `slots` jobs for `worker`, waiting up to `block` seconds for one: running jobs
        whose lease lapsed first (a job past `max_attempts` fails instead), then queued ones round
        robin by key. Each is held for `lease` seconds unless renewed."""
        ...

    def wake(self) -> None:
        """Let this process's waiting `claim` return early (at shutdown), where the store can."""
        ...

    async def renew(self, job_id: str, token: str, lease: float) -> Renewal: ...

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
        """Add an event (and, with a final `status`, finish the job): "lost" (nothing written)
        when the token no longer holds the job, "cancel" when its owner asked to cancel it.
        `before`: stage events written just before it, in the same write."""
        ...

    async def hand_back(self, job_id: str, token: str, reason: str) -> bool:
        """Put a running job back at the head of its key's queue (graceful shutdown)."""
        ...

    async def cancel(self, job_id: str, failure: dict[str, Any]) -> JobRecord:
        """A queued job ends now with `failure`; a running one is marked, and its worker stops
        at the next stage boundary. `JobConflictError` when the job is finished."""
        ...

    async def set_webhook(self, job_id: str, state: dict[str, Any]) -> None:
        """Replace the job's webhook delivery state (as its status shows it)."""
        ...

    async def claim_webhooks(
        self, deliverer: str, limit: int, *, lease: float
    ) -> tuple[list[HookClaim], float | None]:
        """Up to `limit` webhook deliveries due now, each held by `deliverer` for `lease` seconds
        (after that, another deliverer may take it); and when the next one not taken is due
        (epoch seconds; None when the outbox is empty)."""
        ...

    async def record_webhook(
        self, job_id: str, token: str, state: dict[str, Any], due: float | None
    ) -> bool:
        """Store an attempt's outcome `state` in the job and let the delivery go: due again at
        `due`, or settled when None (delivered, or given up). False, and nothing written, when
        `token` no longer holds the delivery (its lease lapsed and another deliverer took it)."""
        ...

    def on_webhook(self, wake: Callable[[], None]) -> None:
        """Call `wake` when this store object records a new delivery it knows of (a job it
        finished), so this process's deliverer need not wait for its next look."""
        ...

    async def list_jobs(
        self, *, status: str | None = None, owner: str | None = None, limit: int = 50
    ) -> list[JobRecord]: ...

    async def stats(self) -> QueueStats: ...

    async def register(self, worker: str, slots: int) -> None:
        """A worker process says it is alive with `slots` (for wait estimates)."""
        ...

    async def recover(self) -> None:
        """At start-up of an embedded process: what the last one was running is taken over."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def first_event(record: JobRecord, queued: dict[str, Any]) -> JobEvent:
    """The event `submit` wrote for `record` (as it returned it), without reading it back."""
    data = {"stage": "queued", **queued, "position": record.position, "wait_s": record.wait_s}
    return JobEvent(1, "stage", data)


def job_limit(per_key: int) -> JobLimitError:
    return JobLimitError(
        f"This API key already has {per_key} jobs queued or running (FLUX_REMIX_JOBS_PER_KEY); "
        "wait for one to finish",
        retry_after=5,
    )


def queue_full() -> NoCapacityError:
    return NoCapacityError("The job queue is full; try again shortly", retry_after=5)
