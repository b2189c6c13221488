"""Workers: run the store's jobs in this process, a few at a time, under renewed leases.

A dispatcher claims jobs while slots are free (queued jobs in fair order, and jobs whose
worker died). Each job runs the `Runner` (the web layer's: the image pipeline) with a
`Progress` that writes stage events and a `checkpoint` the pipeline calls before it stores
anything; both raise once the job was cancelled (the store says so on the next write or
heartbeat), so a cancelled job stops at the next stage boundary and stores nothing after it.
A stage before spending (`generating`: the upstream calls) is written before the job goes on;
the others go with the next write, or while the job waits on something else, and `done` with
the result: three event writes a job instead of five, fewer of them before its answer.
A heartbeat renews the lease every third of it; a worker that lost its lease (taken over
after a stall) stops without another write. On shutdown the dispatcher stops claiming; jobs
still running after the grace period are handed back to the queue for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Protocol

from flux_remix.errors import FluxRemixError, JobCancelledError
from flux_remix.ids import new_id
from flux_remix.jobs.records import Claim, EventKind, JobRecord, Status
from flux_remix.jobs.store import JobStore, Renewal

log = logging.getLogger("flux_remix.jobs")

CLAIM_WAIT = 1.0  # seconds an idle dispatcher waits in one claim for work
STOP_WAIT = CLAIM_WAIT + 4.0  # for the dispatcher to notice a stop before it is cancelled

# stages after which a job spends (upstream calls): written before it goes on, so that a
# cancel stops it there; the others are written without holding the job up (`_Held.later`)
BOUNDARIES = frozenset({"generating"})

Describe = Callable[[BaseException], dict[str, Any]]
Progress = Callable[[str, dict[str, Any]], Awaitable[None]]
Finished = Callable[[], None]  # after the last event of a job with a webhook (its delivery is due)


class Runner(Protocol):
    async def __call__(
        self, record: JobRecord, progress: Progress, checkpoint: Callable[[], Awaitable[None]]
    ) -> dict[str, Any]: ...


class LeaseLost(Exception):
    """This worker's lease on the job lapsed and another worker took it over."""


class JobObserver(Protocol):
    def job_finished(self, status: str, run_s: float | None, wait_s: float | None) -> None: ...

    def job_taken_over(self) -> None: ...


class _Held:
    """One running job: its claim, what the store last said about it, and its events, written
    in order, one write at a time. Stage events that come one after the other while the job
    does no I/O go in one write, and one written `later` overlaps the job's next awaited call
    (storing, charging) instead of adding a round trip before it."""

    def __init__(self, store: JobStore, claim: Claim) -> None:
        self.store = store
        self.claim = claim
        self.state: Renewal = "ok"
        self._pending: list[dict[str, Any]] = []  # stage events not written yet
        self._writing = asyncio.Lock()
        self._flush: asyncio.Task[None] | None = None

    def note(self, state: Renewal) -> None:
        if self.state == "ok":
            self.state = state

    def later(self, stage: dict[str, Any]) -> None:
        """Write `stage` once the job waits for something (or with its next event)."""
        self._pending.append(stage)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._write_pending())

    async def _write_pending(self) -> None:
        async with self._writing:
            if not self._pending:
                return
            *before, last = self._pending
            self._pending = []
            try:
                self.note(await self._append("stage", last, None, before))
            except Exception as exc:  # progress only: the job goes on, its final write tells
                log.warning(
                    "job %s: a stage event was not written (%s)",
                    self.claim.record.id[:8],
                    type(exc).__name__,
                )

    async def now(
        self, kind: EventKind, data: dict[str, Any], status: Status | None = None
    ) -> Renewal:
        """Write an event now, after the stage events still waiting to be written."""
        async with self._writing:
            before, self._pending = self._pending, []
            return await self._append(kind, data, status, before)

    def _append(
        self,
        kind: EventKind,
        data: dict[str, Any],
        status: Status | None,
        before: list[dict[str, Any]],
    ) -> Awaitable[Renewal]:
        job_id, token = self.claim.record.id, self.claim.token
        return self.store.append(job_id, token, kind, data, status, before=before)

    def raise_if_stopped(self) -> None:
        if self.state == "cancel":
            raise JobCancelledError("The job was cancelled by its owner")
        if self.state == "lost":
            raise LeaseLost


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{new_id(3)}"


class Workers:
    def __init__(
        self,
        store: JobStore,
        run: Runner,
        describe: Describe,
        *,
        slots: int,
        lease: float,
        max_attempts: int = 3,
        grace: float = 0.0,
        finished: Finished | None = None,
        observer: JobObserver | None = None,
    ) -> None:
        self.store = store
        self.name = worker_name()
        self._run = run
        self._describe = describe
        self._slots = slots
        self._lease = lease
        self._max_attempts = max_attempts
        self._grace = grace
        self._finished = finished
        self._observer = observer
        self._running: dict[str, asyncio.Task[None]] = {}
        self._free = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._alive: asyncio.Task[None] | None = None
        self._handing_back = False
        self._stopping = False

    async def __aenter__(self) -> Workers:
        await self.store.recover()
        await self.store.register(self.name, self._slots)
        self._dispatcher = asyncio.create_task(self._dispatch(), name="jobs-dispatcher")
        self._alive = asyncio.create_task(self._announce(), name="jobs-alive")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def running(self) -> int:
        return len(self._running)

    def stop_claiming(self) -> None:
        """No new jobs: the dispatcher stops after its current claim (at most a second, so
        that no Redis read is cut short: a cancelled blocking read can leave redis-py's
        connection waiting)."""
        self._stopping = True
        self._free.set()
        self.store.wake()
        if self._alive is not None:
            self._alive.cancel()

    async def wait_idle(self, grace: float) -> None:
        """Let the running jobs finish, for up to `grace` seconds."""
        tasks = list(self._running.values())
        if tasks and grace > 0:
            await asyncio.wait(tasks, timeout=grace)

    async def aclose(self) -> None:
        """Stop claiming, give running jobs the grace period, hand back the rest."""
        self.stop_claiming()
        for task in (self._dispatcher, self._alive):
            if task is None:
                continue
            if not task.done():
                await asyncio.wait({task}, timeout=STOP_WAIT)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.wait_idle(self._grace)
        self._handing_back = True
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _announce(self) -> None:
        while True:
            await asyncio.sleep(15)
            with contextlib.suppress(Exception):
                await self.store.register(self.name, self._slots)

    async def _dispatch(self) -> None:
        while not self._stopping:
            free = self._slots - len(self._running)
            if free <= 0:
                self._free.clear()
                await self._free.wait()
                continue
            try:
                claims = await self.store.claim(
                    self.name,
                    free,
                    block=CLAIM_WAIT,
                    lease=self._lease,
                    max_attempts=self._max_attempts,
                )
            except Exception as exc:  # the store is unreachable: try again shortly
                log.warning("claiming jobs failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            for claim in claims:
                if claim.takeover:
                    log.info(
                        "job %s taken over (attempt %d)", claim.record.id[:8], claim.record.attempts
                    )
                    if self._observer is not None:
                        self._observer.job_taken_over()
                job_id = claim.record.id
                self._running[job_id] = asyncio.create_task(
                    self._execute(claim), name=f"job-{job_id[:8]}"
                )

    async def _execute(self, claim: Claim) -> None:
        held = _Held(self.store, claim)
        record = claim.record
        heartbeat = asyncio.create_task(self._heartbeat(held))
        try:
            await self._attempt(held)
        except asyncio.CancelledError:
            if self._handing_back:
                with contextlib.suppress(Exception):
                    await asyncio.shield(
                        self.store.hand_back(record.id, claim.token, "handed back at shutdown")
                    )
            raise
        finally:
            heartbeat.cancel()
            self._running.pop(record.id, None)
            self._free.set()

    async def _attempt(self, held: _Held) -> None:
        claim = held.claim
        record = claim.record
        if claim.takeover:  # readers see why the stages start over
            event = {"stage": "queued", "reason": "taken over from a worker that stopped"}
            held.note(await held.now("stage", event))

        async def checkpoint() -> None:  # before the pipeline stores anything: ask the store
            held.note(await self.store.renew(record.id, claim.token, self._lease))
            held.raise_if_stopped()

        async def progress(stage: str, info: dict[str, Any]) -> None:
            held.raise_if_stopped()
            if stage == "queued":  # said at submission (with the job's place in the queue)
                return
            if stage not in BOUNDARIES:
                held.later({"stage": stage, **info})
                return
            held.note(await held.now("stage", {"stage": stage, **info}))
            held.raise_if_stopped()

        try:
            result = await self._run(record, progress, checkpoint)
        except LeaseLost:
            log.warning("job %s: lease lost to another worker; stopped", record.id[:8])
            return
        except JobCancelledError as exc:
            await self._end(held, "failure", self._describe(exc), "cancelled")
        except FluxRemixError as exc:
            await self._end(held, "failure", self._describe(exc), "failed")
        except Exception as exc:
            log.error("job %s failed: %s", record.id[:8], type(exc).__name__, exc_info=exc)
            await self._end(held, "failure", self._describe(exc), "failed")
        else:
            await self._end(held, "result", result, "succeeded")

    async def _end(
        self, held: _Held, kind: EventKind, data: dict[str, Any], status: Status
    ) -> None:
        claim = held.claim
        state = await held.now(kind, data, status)
        if state == "lost":
            return
        if self._observer is not None:
            record = claim.record
            now = time.time()
            run_s = now - record.started if record.started else None
            wait_s = record.started - record.created if record.started else None
            self._observer.job_finished(status, run_s, wait_s)
        if self._finished is not None and claim.record.webhook_url:
            self._finished()  # the final write put its delivery in the outbox

    async def _heartbeat(self, held: _Held) -> None:
        claim = held.claim
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                held.note(await self.store.renew(claim.record.id, claim.token, self._lease))
            except Exception as exc:
                log.warning(
                    "job %s: heartbeat failed (%s)", claim.record.id[:8], type(exc).__name__
                )
