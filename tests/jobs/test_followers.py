"""Followers of running jobs, over both stores: many at once, each resuming from its own id,
one that leaves early; on Redis, all of a process's followers wait through one read (the event
hub), and a follower that comes while that read is blocked is still woken at once."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from flux_remix.ids import new_id
from flux_remix.jobs.redis_streams import RedisJobStore
from flux_remix.jobs.store import JobStore
from tests.jobs.conftest import Stores, job
from tests.servers import require_redis


async def running(store: JobStore, jobs: int) -> list[tuple[str, str]]:
    """`jobs` jobs submitted and claimed: (id, token) each, with only the queued event."""
    for _ in range(jobs):
        await store.submit(job(), {"model": "m"}, per_key=jobs, capacity=jobs)
    claims = await store.claim("w1", jobs, block=0, lease=30, max_attempts=3)
    assert len(claims) == jobs
    return [(c.record.id, c.token) for c in claims]


async def test_many_followers_of_many_jobs_each_get_their_own_events(store: JobStore):
    held = await running(store, 8)
    waits = [
        asyncio.create_task(store.wait(job_id, 1, block=10))
        for job_id, _ in held
        for _ in range(5)  # five followers per job
    ]
    await asyncio.sleep(0.2)
    assert not any(w.done() for w in waits)  # nothing new yet: all of them wait
    t0 = time.monotonic()
    for n, (job_id, token) in enumerate(held):
        await store.append(job_id, token, "stage", {"stage": "generating", "job": n})
    got = await asyncio.gather(*waits)
    assert time.monotonic() - t0 < 5  # woken by the events, not by their timeout
    for index, events in enumerate(got):
        assert [(e.id, e.data["job"]) for e in events] == [(2, index // 5)]


async def test_followers_resume_from_their_own_ids_and_see_events_written_together(
    store: JobStore,
):
    [(job_id, token)] = await running(store, 1)
    await store.append(job_id, token, "stage", {"stage": "translating"})
    from_start, from_two = (
        asyncio.create_task(store.wait(job_id, after, block=10)) for after in (0, 2)
    )
    assert [e.id for e in await from_start] == [1, 2]  # already there: answered at once
    await asyncio.sleep(0.1)
    assert not from_two.done()
    done = {"stage": "done"}
    await store.append(job_id, token, "result", {"ok": True}, "succeeded", before=[done])
    events = await from_two
    assert [(e.id, e.kind) for e in events] == [(3, "stage"), (4, "result")]
    assert events[0].data == done
    assert (await store.get(job_id)).stage == "done"
    assert [e.id for e in await store.wait(job_id, 3, block=10)] == [4]


async def test_a_follower_that_leaves_does_not_hold_up_the_others(store: JobStore):
    [(job_id, token)] = await running(store, 1)
    leaving = asyncio.create_task(store.wait(job_id, 1, block=10))
    staying = asyncio.create_task(store.wait(job_id, 1, block=10))
    short = await store.wait(job_id, 1, block=0.2)  # times out: nothing new
    assert short == []
    await asyncio.sleep(0.1)
    leaving.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await leaving
    await store.append(job_id, token, "stage", {"stage": "generating"})
    assert [e.id for e in await asyncio.wait_for(staying, 5)] == [2]
    later = await asyncio.wait_for(store.wait(job_id, 1, block=10), 5)
    assert [e.id for e in later] == [2]


@pytest.mark.redis
async def test_a_process_s_followers_share_one_blocking_read_on_redis(tmp_path):
    url = require_redis()
    name = f"hub-{new_id(6)}"
    shared = Redis.from_url(url)
    blocking = Redis.from_url(url, client_name=name, max_connections=64)
    stores = Stores("redis", tmp_path)
    store = await RedisJobStore(shared, blocking, stores.prefix, retention=60).open()
    try:
        held = await running(store, 20)
        first = [asyncio.create_task(store.wait(i, 1, block=10)) for i, _ in held[:10]]
        await asyncio.sleep(0.3)  # the hub's read is blocked on the first ten
        more = [asyncio.create_task(store.wait(i, 1, block=10)) for i, _ in held[10:]]
        await asyncio.sleep(0.3)
        clients = await shared.client_list()
        blocked = [c for c in clients if c.get("name") == name and "b" in c.get("flags", "")]
        assert len(blocked) == 1  # twenty followers, one read
        t0 = time.monotonic()
        job_id, token = held[-1]  # a follower that came while the read was blocked
        await store.append(job_id, token, "stage", {"stage": "generating"})
        assert [e.id for e in await asyncio.wait_for(more[-1], 5)] == [2]
        assert time.monotonic() - t0 < 2
        for job_id, token in held[:-1]:
            await store.append(job_id, token, "stage", {"stage": "generating"})
        assert all([e.id for e in w] == [2] for w in await asyncio.gather(*first, *more[:-1]))
    finally:
        await store.close()
        await shared.aclose()
        await stores.close()


async def test_a_follower_behind_the_read_under_way_gets_every_event_it_missed(store: JobStore):
    """One follower waits after event 3, so a read of events after 3 is under way; another
    comes wanting everything after 2 (a client reconnecting with an older Last-Event-ID). When
    event 4 arrives, the late follower gets 3 and 4, never 4 alone (seen behind the round-robin
    proxy: a stream resumed after 2 began at 4)."""
    [(job_id, token)] = await running(store, 1)
    for stage in ("translating", "generating"):
        await store.append(job_id, token, "stage", {"stage": stage})
    ahead = asyncio.create_task(store.wait(job_id, 3, block=10))
    await asyncio.sleep(0.2)  # the read after 3 is under way
    behind = asyncio.create_task(store.wait(job_id, 2, block=10))
    await asyncio.sleep(0)
    await store.append(job_id, token, "stage", {"stage": "stored"})
    assert [e.id for e in await asyncio.wait_for(behind, 5)] in ([3], [3, 4])
    assert [e.id for e in await asyncio.wait_for(ahead, 5)] == [4]
