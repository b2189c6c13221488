"""Generation jobs that outlive one HTTP connection.

A job runs one generation (a call of `ImageService.generate`) in its own task and records each
progress stage as a numbered event. Readers follow the events from any point, so a progress
stream that drops (a flaky network, a phone that sleeps) resumes where it stopped instead of
losing the generation. Jobs live in memory: finished ones are kept for `ttl` seconds and at most
`capacity` jobs are held at once.

    queued → translating → generating → stored … → done → result   (or → failure at any point)

The registry knows nothing about HTTP: the web layer supplies the runner (which shapes the
result) and `describe`, which turns a failure into the public error payload.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from flux_remix.errors import FluxRemixError, NoCapacityError
from flux_remix.ids import new_id
from flux_remix.service import Progress

log = logging.getLogger("flux_remix.jobs")

EventKind = Literal["stage", "result", "failure"]
Status = Literal["running", "succeeded", "failed"]
Runner = Callable[[Progress], Awaitable[dict[str, Any]]]
Describe = Callable[[BaseException], dict[str, Any]]


@dataclass(frozen=True)
class JobEvent:
    id: int  # 1, 2, 3 … within its job; the SSE event id
    kind: EventKind
    data: dict[str, Any]


@dataclass
class Job:
    id: str
    owner: str | None  # the API key id that started it (None when keys are off)
    created: float
    events: list[JobEvent] = field(default_factory=list)
    status: Status = "running"
    error: BaseException | None = None
    finished: float | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def stage(self) -> str | None:
        stages = [e.data.get("stage") for e in self.events if e.kind == "stage"]
        return str(stages[-1]) if stages else None

    @property
    def result(self) -> dict[str, Any] | None:
        return next((e.data for e in self.events if e.kind == "result"), None)

    async def _add(self, kind: EventKind, data: dict[str, Any], status: Status = "running") -> None:
        async with self._changed:  # the last event and the final status appear together
            self.events.append(JobEvent(len(self.events) + 1, kind, data))
            if status != "running":
                self.status = status
                self.finished = time.monotonic()
            self._changed.notify_all()

    def _newer_than(self, event_id: int) -> bool:
        return len(self.events) > event_id

    async def first_event(self) -> JobEvent:
        """The job's first event: its first stage once the request passed validation, or the
        error that stopped it before."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self.events))
        return self.events[0]

    async def follow(
        self, after: int = 0, *, heartbeat: float = 15.0
    ) -> AsyncIterator[JobEvent | None]:
        """Events with an id above `after`, as they come, until the job's last event.

        Yields None every `heartbeat` seconds without news, so a stream can keep its connection
        alive (and notice a client that left).
        """
        sent = max(0, after)
        while self.status == "running" or sent < len(self.events):
            async with self._changed:
                try:
                    news = functools.partial(self._newer_than, sent)
                    await asyncio.wait_for(self._changed.wait_for(news), heartbeat)
                except TimeoutError:
                    pending: list[JobEvent] = []
                else:
                    pending = self.events[sent:]
            if not pending:
                yield None
                continue
            for event in pending:
                yield event
            sent = pending[-1].id


class JobRegistry:
    """The jobs of one process. Use as an async context manager: closing waits a little for
    running jobs to finish, then cancels the rest."""

    def __init__(
        self,
        describe: Describe,
        *,
        ttl: float = 900.0,
        capacity: int = 512,
        grace: float = 30.0,
    ) -> None:
        self._describe = describe
        self._ttl = ttl
        self._capacity = capacity
        self._grace = grace
        self._jobs: dict[str, Job] = {}

    async def __aenter__(self) -> JobRegistry:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, job_id: str, owner: str | None) -> Job | None:
        """The job with this id, if `owner` started it (jobs of other keys are invisible)."""
        self._prune(time.monotonic())
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            return None
        return job

    def start(self, run: Runner, *, owner: str | None) -> Job:
        """Start `run(progress)` as a new job; its events follow the stages `run` reports."""
        now = time.monotonic()
        self._prune(now)
        if len(self._jobs) >= self._capacity:
            raise NoCapacityError(
                "Too many generations are in progress; try again shortly", retry_after=5
            )
        job = Job(id=new_id(), owner=owner, created=time.time())
        self._jobs[job.id] = job
        job._task = asyncio.create_task(self._run(job, run), name=f"job-{job.id[:8]}")
        return job

    async def _run(self, job: Job, run: Runner) -> None:
        async def progress(stage: str, info: dict[str, Any]) -> None:
            await job._add("stage", {"stage": stage, **info})

        try:
            result = await run(progress)
        except asyncio.CancelledError:
            await self._fail(job, FluxRemixError("The server stopped before the image was made"))
            raise
        except FluxRemixError as exc:
            await self._fail(job, exc)
        except Exception as exc:
            log.error("job %s failed: %s", job.id[:8], type(exc).__name__, exc_info=exc)
            await self._fail(job, exc)
        else:
            await job._add("result", result, "succeeded")

    async def _fail(self, job: Job, exc: BaseException) -> None:
        job.error = exc
        await job._add("failure", self._describe(exc), "failed")

    def _prune(self, now: float) -> None:
        expired = [
            j.id
            for j in self._jobs.values()
            if j.finished is not None and now - j.finished > self._ttl
        ]
        for job_id in expired:
            del self._jobs[job_id]
        if len(self._jobs) < self._capacity:
            return
        finished = sorted(
            (j for j in self._jobs.values() if j.finished is not None),
            key=lambda j: j.finished or 0,
        )
        for job in finished[: len(self._jobs) - self._capacity + 1]:
            del self._jobs[job.id]

    async def aclose(self) -> None:
        tasks = [j._task for j in self._jobs.values() if j._task and not j._task.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self._grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
