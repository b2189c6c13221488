"""The job store contract, over both implementations (embedded SQLite and Redis Streams)."""

from __future__ import annotations

import asyncio
import time

import pytest

from flux_remix.errors import JobConflictError, JobLimitError, NoCapacityError
from flux_remix.jobs.store import JobStore
from tests.jobs.conftest import Stores, job

FAILURE = {"status": 409, "type": "cancelled", "message": "Cancelled", "param": None}


async def claim_one(store: JobStore, worker: str = "w1", lease: float = 30.0, **kw):
    claims = await store.claim(worker, 1, block=0, lease=lease, max_attempts=3, **kw)
    assert len(claims) == 1
    return claims[0]


async def submit(store: JobStore, record=None, *, per_key: int = 8, capacity: int = 100):
    record = record or job()
    return await store.submit(record, {"model": "m"}, per_key=per_key, capacity=capacity)


async def test_a_job_goes_from_queued_to_its_result_with_numbered_events(store: JobStore):
    queued = await submit(store)
    assert queued.status == "queued" and queued.position == 1 and queued.stage == "queued"
    first = await store.events(queued.id)
    assert [(e.id, e.kind) for e in first] == [(1, "stage")]
    assert first[0].data == {"stage": "queued", "model": "m", "position": 1, "wait_s": None}

    claim = await claim_one(store)
    assert claim.record.id == queued.id and claim.record.status == "running"
    assert claim.record.attempts == 1 and not claim.takeover
    assert await store.append(queued.id, claim.token, "stage", {"stage": "generating"}) == "ok"
    assert (await store.get(queued.id)).stage == "generating"
    result = {"images": [{"id": "x"}]}
    assert await store.append(queued.id, claim.token, "result", result, "succeeded") == "ok"

    done = await store.get(queued.id)
    assert done.status == "succeeded" and done.result == result and done.finished
    events = await store.events(queued.id)
    assert [(e.id, e.kind) for e in events] == [(1, "stage"), (2, "stage"), (3, "result")]
    assert [e.id for e in await store.events(queued.id, after=2)] == [3]
    assert await store.events(queued.id, after=3) == []
    # a finished job takes no more writes
    assert await store.append(queued.id, claim.token, "stage", {"stage": "x"}) == "lost"
    assert await store.get("0" * 32) is None


async def test_a_follower_is_woken_by_the_next_event_and_times_out_without_one(store: JobStore):
    queued = await submit(store)
    claim = await claim_one(store)
    assert await store.wait(queued.id, 1, block=0.2) == []

    async def later():
        await asyncio.sleep(0.1)
        await store.append(queued.id, claim.token, "stage", {"stage": "translating"})

    writer = asyncio.create_task(later())
    t0 = time.monotonic()
    events = await store.wait(queued.id, 1, block=5)
    assert [e.id for e in events] == [2]
    assert time.monotonic() - t0 < 2  # woken by the event, not by the timeout
    await writer


async def test_one_key_cannot_hold_more_than_its_share_and_others_still_get_in(store: JobStore):
    for _ in range(3):
        await submit(store, job("flood"), per_key=3)
    with pytest.raises(JobLimitError) as refused:
        await submit(store, job("flood"), per_key=3)
    assert refused.value.retry_after > 0
    other = await submit(store, job("other"), per_key=3)  # another key is not refused
    assert other.status == "queued"
    with pytest.raises(NoCapacityError):
        await submit(store, job("third"), per_key=3, capacity=4)
    # a finished job frees its key's share
    claim = await claim_one(store)
    await store.append(claim.record.id, claim.token, "result", {}, "succeeded")
    assert (await submit(store, job(claim.record.owner), per_key=3)).status == "queued"


async def test_queued_jobs_run_round_robin_by_key_and_positions_say_so(store: JobStore):
    flood = [await submit(store, job("flood")) for _ in range(4)]
    light = await submit(store, job("light"))
    assert light.position == 2  # one flood job, then it: not behind the whole flood
    assert (await store.get(flood[3].id)).position == 5
    order = []
    for _ in range(5):
        claim = await claim_one(store)
        order.append(claim.record.owner)
    assert order[:2] == ["flood", "light"]
    assert order.count("flood") == 4
    stats = await store.stats()
    assert stats.by_status.get("running") == 5 and stats.depth == 0


async def test_a_lapsed_lease_is_taken_over_and_the_old_worker_is_fenced_off(stores: Stores):
    one, two = await stores.open(), await stores.open()  # two processes
    queued = await submit(one)
    first = await claim_one(one, "w1", lease=0.5)
    await asyncio.sleep(0.8)  # w1 stops renewing (it died)
    taken = await claim_one(two, "w2", lease=0.5)  # every worker has the same lease setting
    assert taken.takeover and taken.record.id == queued.id and taken.record.attempts == 2
    assert await one.append(queued.id, first.token, "stage", {"stage": "late"}) == "lost"
    assert await one.renew(queued.id, first.token, 30) == "lost"
    assert await two.renew(queued.id, taken.token, 30) == "ok"
    assert await two.append(queued.id, taken.token, "result", {"ok": 1}, "succeeded") == "ok"
    assert (await one.get(queued.id)).result == {"ok": 1}


async def test_a_job_that_keeps_losing_its_worker_fails_with_a_reason(store: JobStore):
    queued = await submit(store)
    for attempt in range(1, 3):
        claim = await claim_one(store, f"w{attempt}", lease=0.2)
        assert claim.record.attempts == attempt
        await asyncio.sleep(0.4)
    assert await store.claim("w9", 1, block=0, lease=0.2, max_attempts=2) == []
    failed = await store.get(queued.id)
    assert failed.status == "failed" and failed.error["type"] == "worker_lost"
    assert (await store.events(queued.id))[-1].kind == "failure"


async def test_cancel_in_each_state(store: JobStore):
    queued = await submit(store)
    cancelled = await store.cancel(queued.id, FAILURE)
    assert cancelled.status == "cancelled" and cancelled.error == FAILURE
    assert (await store.events(queued.id))[-1].data == FAILURE
    assert await store.claim("w1", 5, block=0, lease=30, max_attempts=3) == []  # never runs

    running = await submit(store)
    claim = await claim_one(store)
    marked = await store.cancel(running.id, FAILURE)
    assert marked.status == "running" and marked.cancel_requested
    assert await store.renew(running.id, claim.token, 30) == "cancel"
    assert await store.append(running.id, claim.token, "stage", {"stage": "x"}) == "cancel"
    await store.append(running.id, claim.token, "failure", FAILURE, "cancelled")
    assert (await store.get(running.id)).status == "cancelled"

    with pytest.raises(JobConflictError, match="cancelled"):
        await store.cancel(running.id, FAILURE)


async def test_a_handed_back_job_is_queued_again_for_another_worker(stores: Stores):
    one, two = await stores.open(), await stores.open()
    queued = await submit(one)
    claim = await claim_one(one, "w1")
    assert await one.hand_back(queued.id, claim.token, "shutting down")
    again = await two.get(queued.id)
    assert again.status == "queued"
    assert (await two.events(queued.id))[-1].data == {"stage": "queued", "reason": "shutting down"}
    taken = await claim_one(two, "w2")
    assert taken.record.id == queued.id and not taken.takeover
    assert await one.append(queued.id, claim.token, "stage", {"stage": "x"}) == "lost"


async def test_jobs_outlive_the_process_that_held_them(stores: Stores):
    before = await stores.open()
    finished = await submit(before)
    claim = await claim_one(before)
    await before.append(finished.id, claim.token, "result", {"done": True}, "succeeded")
    running = await submit(before)
    await claim_one(before, lease=3600)
    waiting = await submit(before)
    await before.close()
    stores.opened.remove(before)

    after = await stores.open()  # a restart
    await after.recover()
    assert (await after.get(finished.id)).result == {"done": True}
    assert [e.kind for e in await after.events(finished.id)][-1] == "result"
    if stores.kind == "embedded":  # the one process restarted: what it ran is taken over now
        claims = await after.claim("w2", 5, block=0, lease=30, max_attempts=3)
        assert {c.record.id for c in claims} == {running.id, waiting.id}
        assert next(c for c in claims if c.record.id == running.id).takeover
    else:  # another replica's lease may still run: only the queued job is free
        claims = await after.claim("w2", 5, block=0, lease=30, max_attempts=3)
        assert [c.record.id for c in claims] == [waiting.id]


async def test_finished_jobs_expire_after_the_retention_time(stores: Stores):
    store = await stores.open(retention=1)
    queued = await submit(store)
    claim = await claim_one(store)
    await store.append(queued.id, claim.token, "result", {}, "succeeded")
    assert await store.get(queued.id) is not None
    await asyncio.sleep(2.2)
    assert await store.get(queued.id) is None


async def test_listing_and_webhook_state(store: JobStore):
    a = await submit(store, job("key_a"))
    b = await submit(store, job("key_b"))
    await store.set_webhook(b.id, {"state": "pending", "attempts": 1})
    assert (await store.get(b.id)).webhook == {"state": "pending", "attempts": 1}
    listed = await store.list_jobs()
    assert [r.id for r in listed] == [b.id, a.id]
    assert [r.id for r in await store.list_jobs(owner="key_a")] == [a.id]
    assert await store.list_jobs(status="succeeded") == []
    await store.ping()


async def test_an_idle_worker_is_woken_by_a_submission(store: JobStore):
    async def idle():
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:
            claims = await store.claim("w1", 2, block=5, lease=30, max_attempts=3)
            if claims:
                return claims, time.monotonic()
        return [], time.monotonic()

    waiting = asyncio.create_task(idle())
    await asyncio.sleep(0.2)
    submitted = time.monotonic()
    queued = await submit(store)
    claims, at = await waiting
    assert [c.record.id for c in claims] == [queued.id]
    assert at - submitted < 0.5  # not at the end of the wait
