"""Workers over both stores: a job's stages and result, a cancel at the next stage boundary,
a hand-back at shutdown, a takeover after a worker stops renewing, and internal errors that
say nothing more."""

from __future__ import annotations

import asyncio

from flux_remix.errors import ContentFlaggedError, FluxRemixError
from flux_remix.jobs import Workers, follow
from flux_remix.jobs.store import JobStore
from tests.jobs.conftest import Stores, job


def describe(exc: BaseException) -> dict:
    return {"type": exc.kind if isinstance(exc, FluxRemixError) else "internal_error"}


async def events_of(store: JobStore, job_id: str) -> list:
    return [e async for e in follow(store, job_id, 0, heartbeat=5) if e is not None]


async def submit(store: JobStore, **request):
    return await store.submit(job(**request), {"model": "m"}, per_key=50, capacity=100)


async def test_a_job_runs_its_stages_and_ends_with_the_result(store: JobStore):
    async def run(record, progress, checkpoint):
        await progress("queued", {"model": "m"})  # said at submission: not repeated
        await progress("generating", {"n": 1})
        await checkpoint()
        return {"images": [record.request["prompt"]]}

    async with Workers(store, run, describe, slots=2, lease=5):
        queued = await submit(store)
        events = await asyncio.wait_for(events_of(store, queued.id), 10)
    assert [(e.kind, e.data.get("stage")) for e in events] == [
        ("stage", "queued"),
        ("stage", "generating"),
        ("result", None),
    ]
    assert events[-1].data == {"images": ["a fox"]}
    assert (await store.get(queued.id)).status == "succeeded"


async def test_failures_end_the_job_and_internal_ones_say_nothing_more(store: JobStore):
    async def run(record, progress, checkpoint):
        if record.request["prompt"] == "flagged":
            raise ContentFlaggedError("flagged")
        raise RuntimeError("secret detail")

    async with Workers(store, run, describe, slots=2, lease=5):
        flagged = await submit(store, prompt="flagged")
        crashed = await submit(store, prompt="crash")
        one = await asyncio.wait_for(events_of(store, flagged.id), 10)
        two = await asyncio.wait_for(events_of(store, crashed.id), 10)
    assert one[-1].data == {"type": "content_flagged"}
    assert two[-1].data == {"type": "internal_error"}
    assert (await store.get(crashed.id)).status == "failed"


async def test_a_cancel_stops_the_job_before_it_stores_anything(store: JobStore):
    started = asyncio.Event()
    release = asyncio.Event()
    stored: list[str] = []

    async def run(record, progress, checkpoint):
        await progress("generating", {})
        started.set()
        await release.wait()  # the upstream call in flight
        await checkpoint()  # before storing: raises, the job was cancelled
        stored.append(record.id)
        return {}

    async with Workers(store, run, describe, slots=1, lease=5):
        queued = await submit(store)
        await asyncio.wait_for(started.wait(), 10)
        await store.cancel(queued.id, {"type": "cancelled"})
        release.set()
        events = await asyncio.wait_for(events_of(store, queued.id), 10)
    assert events[-1].kind == "failure" and events[-1].data["type"] == "cancelled"
    assert stored == []
    assert (await store.get(queued.id)).status == "cancelled"


async def test_shutdown_hands_running_jobs_back_and_another_worker_finishes_them(stores: Stores):
    one, two = await stores.open(), await stores.open()
    started = asyncio.Event()

    async def stuck(record, progress, checkpoint):
        await progress("generating", {})
        started.set()
        await asyncio.sleep(3600)
        return {}

    async def quick(record, progress, checkpoint):
        return {"by": "second"}

    async with Workers(one, stuck, describe, slots=1, lease=5):
        queued = await submit(one)
        await asyncio.wait_for(started.wait(), 10)
    back = await two.get(queued.id)
    assert back.status == "queued"
    async with Workers(two, quick, describe, slots=1, lease=5):
        events = await asyncio.wait_for(events_of(two, queued.id), 10)
    assert events[-1].data == {"by": "second"}
    assert (await two.get(queued.id)).attempts == 2


async def test_a_stalled_worker_is_taken_over_and_its_late_writes_are_refused(stores: Stores):
    one, two = await stores.open(), await stores.open()
    stalled = asyncio.Event()
    late: list[str] = []

    async def stall(record, progress, checkpoint):
        await progress("generating", {})
        stalled.set()
        await asyncio.sleep(2.5)  # longer than the lease, and no heartbeat gets through
        try:
            await progress("translating", {})  # written with the next event: refused too
            await progress("generating", {})  # before spending: the job stops here
        except Exception as exc:
            late.append(type(exc).__name__)
            raise
        return {"by": "stalled"}

    async def finish(record, progress, checkpoint):
        return {"by": "successor"}

    first = Workers(one, stall, describe, slots=1, lease=0.6)
    first._heartbeat = _no_heartbeat  # type: ignore[method-assign]  # a frozen process
    async with first:
        queued = await submit(one)
        await asyncio.wait_for(stalled.wait(), 10)
        async with Workers(two, finish, describe, slots=1, lease=0.6):
            events = await asyncio.wait_for(events_of(two, queued.id), 10)
            await asyncio.sleep(2.5)
    assert events[-1].data == {"by": "successor"}
    reasons = [e.data.get("reason") for e in events if e.kind == "stage"]
    assert "taken over from a worker that stopped" in reasons
    assert late == ["LeaseLost"]
    assert [e.data.get("stage") for e in await two.events(queued.id)].count("translating") == 0
    assert (await two.get(queued.id)).result == {"by": "successor"}


async def _no_heartbeat(held) -> None:
    await asyncio.sleep(3600)
