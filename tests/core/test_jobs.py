"""The job registry on its own: events, followers, failures, limits, shutdown."""

import asyncio

import pytest

from flux_remix.errors import ContentFlaggedError, FluxRemixError, NoCapacityError
from flux_remix.jobs import JobRegistry


def describe(exc: BaseException) -> dict:
    kind = exc.kind if isinstance(exc, FluxRemixError) else "internal_error"
    return {"type": kind}


async def finished(job) -> list:
    return [e async for e in job.follow(0, heartbeat=5) if e is not None]


async def test_events_are_numbered_and_end_with_the_result():
    async def run(progress):
        await progress("queued", {"model": "m"})
        await progress("generating", {"n": 1})
        return {"images": ["x"]}

    jobs = JobRegistry(describe)
    job = jobs.start(run, owner="key_1")
    events = await finished(job)
    assert [(e.id, e.kind) for e in events] == [(1, "stage"), (2, "stage"), (3, "result")]
    assert events[0].data == {"stage": "queued", "model": "m"}
    assert job.status == "succeeded" and job.stage == "generating"
    assert job.result == {"images": ["x"]}
    assert [e.id for e in await asyncio.wait_for(_collect(job.follow(2, heartbeat=5)), 5)] == [3]
    assert await asyncio.wait_for(_collect(job.follow(3, heartbeat=5)), 5) == []  # all seen
    assert jobs.get(job.id, "key_1") is job
    assert jobs.get(job.id, "key_2") is None  # another key's job is invisible
    assert jobs.get(job.id, None) is None


async def _collect(events):
    return [e async for e in events if e is not None]


async def test_followers_get_a_heartbeat_while_nothing_happens():
    gate = asyncio.Event()

    async def run(progress):
        await progress("queued", {})
        await gate.wait()
        return {}

    job = JobRegistry(describe).start(run, owner=None)
    stream = job.follow(0, heartbeat=0.05)
    assert (await anext(stream)).kind == "stage"
    assert await anext(stream) is None  # a heartbeat
    gate.set()
    assert (await anext(stream)).kind == "result"
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_a_failure_is_the_last_event_and_internal_errors_say_nothing_more():
    async def flagged(progress):
        await progress("queued", {})
        raise ContentFlaggedError("flagged")

    async def crash(progress):
        raise RuntimeError("secret detail")

    jobs = JobRegistry(describe)
    one = jobs.start(flagged, owner=None)
    events = await finished(one)
    assert events[-1].kind == "failure" and events[-1].data == {"type": "content_flagged"}
    assert one.status == "failed" and isinstance(one.error, ContentFlaggedError)
    two = jobs.start(crash, owner=None)
    assert (await two.first_event()).data == {"type": "internal_error"}


async def test_finished_jobs_expire_and_capacity_is_bounded():
    gate = asyncio.Event()

    async def wait(progress):
        await gate.wait()
        return {}

    async def quick(progress):
        return {}

    jobs = JobRegistry(describe, capacity=2, ttl=0.05)
    running = [jobs.start(wait, owner=None) for _ in range(2)]
    with pytest.raises(NoCapacityError):
        jobs.start(quick, owner=None)  # every slot is a running job
    gate.set()
    for job in running:
        await finished(job)
    extra = jobs.start(quick, owner=None)  # finished jobs make room
    await finished(extra)
    await asyncio.sleep(0.1)
    assert jobs.get(extra.id, None) is None  # expired
    assert len(jobs) == 0


async def test_closing_cancels_what_does_not_finish_in_time():
    async def forever(progress):
        await progress("queued", {})
        await asyncio.sleep(3600)
        return {}

    jobs = JobRegistry(describe, grace=0.05)
    job = jobs.start(forever, owner=None)
    await job.first_event()
    await jobs.aclose()
    assert job.status == "failed"
    assert job.events[-1].kind == "failure"
