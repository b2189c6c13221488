"""Reading a job as it runs, from any replica: its events from a given id to the last one."""

from __future__ import annotations

from collections.abc import AsyncIterator

from flux_remix.jobs.records import JobEvent, JobRecord
from flux_remix.jobs.store import JobStore


async def follow_batches(
    store: JobStore, job_id: str, after: int = 0, *, heartbeat: float = 15.0
) -> AsyncIterator[list[JobEvent] | None]:
    """The events with an id above `after`, as they come, a batch per read (a stream sends
    each batch in one write), until the job's `result` or `failure`.

    Yields None every `heartbeat` seconds without news, so a stream can keep its connection
    alive (and notice a client that left); ends if the job expires meanwhile.
    """
    sent = max(0, after)
    while True:
        events = await store.wait(job_id, sent, heartbeat)
        if not events:
            record = await store.get(job_id, estimate=False)
            if record is None or (record.done and not await store.events(job_id, sent)):
                return
            yield None
            continue
        final = next((i for i, e in enumerate(events) if e.kind != "stage"), None)
        if final is not None:
            yield events[: final + 1]
            return
        yield events
        sent = events[-1].id


async def follow(
    store: JobStore, job_id: str, after: int = 0, *, heartbeat: float = 15.0
) -> AsyncIterator[JobEvent | None]:
    """`follow_batches`, one event at a time."""
    async for batch in follow_batches(store, job_id, after, heartbeat=heartbeat):
        if batch is None:
            yield None
            continue
        for event in batch:
            yield event


async def outcome(store: JobStore, job_id: str, *, heartbeat: float = 15.0) -> JobRecord | None:
    """Wait for the job to finish and return its final record (None if it expired): how a
    route that answers synchronously can run its work as a job on any worker."""
    async for _ in follow_batches(store, job_id, heartbeat=heartbeat):
        pass
    return await store.get(job_id)
