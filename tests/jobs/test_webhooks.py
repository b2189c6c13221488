"""Webhook deliveries are durable and any process makes them: the job store is the outbox (a
job that ends with a webhook has its delivery recorded with its final state), deliverers claim
due deliveries under a lease, and a delivery left by a stopped process is made by the next one
with the same webhook-id and a signature the receiver verifies. Over both stores."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis
from standardwebhooks import Webhook

from flux_remix.jobs.records import JobRecord
from flux_remix.jobs.store import JobStore
from flux_remix.jobs.webhooks import Webhooks
from flux_remix.redis_client import redis_from_url
from tests.conftest import AUTH
from tests.jobs.conftest import Stores, drop_prefix, job
from tests.jobs.receiver import SECRET, Receiver
from tests.processes import ServeProcess, base_env
from tests.servers import require_redis

CANCELLED = {"status": 409, "type": "cancelled", "message": "Cancelled", "param": None}


def render(record: JobRecord) -> dict:
    return {"id": record.id, "status": record.status}


def deliverer(store: JobStore, **options) -> Webhooks:
    options = {"attempts": 5, "schedule": (0.3,), **options}
    return Webhooks(store, render, SECRET, **options)


async def submit(store: JobStore, url: str | None) -> str:
    record = job()
    if url:
        record.webhook_url = url
        record.webhook = {"state": "waiting", "attempts": 0}
    queued = await store.submit(record, {"model": "m"}, per_key=100, capacity=100)
    return queued.id


async def finished(store: JobStore, url: str | None, status: str = "succeeded") -> str:
    """A job run to its end by a worker (the store's only queued one)."""
    job_id = await submit(store, url)
    [claim] = await store.claim("w1", 1, block=0, lease=30, max_attempts=3)
    assert claim.record.id == job_id
    kind = "result" if status == "succeeded" else "failure"
    await store.append(job_id, claim.token, kind, {"images": []}, status)  # type: ignore[arg-type]
    return job_id


async def settled(store: JobStore, job_id: str, within: float = 20) -> dict:
    deadline = time.monotonic() + within
    while (state := (await store.get(job_id)).webhook)["state"] not in ("delivered", "failed"):
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.05)
    return state


def verified(receiver: Receiver, job_id: str) -> list[float]:
    """The arrival times of `job_id`'s deliveries, each checked: its id and signature."""
    posts = receiver.by_id(f"msg_{job_id}")
    for _, headers, body in posts:
        assert Webhook(SECRET).verify(body, headers) == {"id": job_id, "status": "succeeded"}
    return [at for at, _, _ in posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=1)
    yield r
    r.close()


# --- the outbox, in the store ------------------------------------------------------------------


async def test_a_job_that_ends_with_a_webhook_is_due_at_once_and_held_by_one_deliverer(
    store: JobStore,
):
    url = "https://hooks.example/flux"
    plain = await finished(store, None)
    done = await finished(store, url)
    failed = await finished(store, url, "failed")
    cancelled = await submit(store, url)
    await store.cancel(cancelled, CANCELLED)  # a queued job's end is a delivery too
    waiting = await submit(store, url)  # not finished: nothing to deliver yet

    held, upcoming = await store.claim_webhooks("d1", 10, lease=30)
    assert sorted(c.record.id for c in held) == sorted([done, failed, cancelled])
    assert {c.record.id: c.record.status for c in held}[cancelled] == "cancelled"
    assert upcoming is not None and upcoming > time.time() + 20  # all held: due after the lease
    assert await store.claim_webhooks("d2", 10, lease=30) == ([], upcoming)
    assert plain not in [c.record.id for c in held] and waiting not in [c.record.id for c in held]

    first = next(c for c in held if c.record.id == done)
    retry = {"state": "retrying", "attempts": 1, "last_answer": 500}
    assert not await store.record_webhook(done, "d9:stranger", retry, time.time())
    assert await store.record_webhook(done, first.token, retry, time.time() - 1)
    assert (await store.get(done)).webhook == retry  # the status shows it
    [again], _ = await store.claim_webhooks("d2", 10, lease=30)
    assert again.record.id == done and again.record.webhook == retry
    assert not await store.record_webhook(done, first.token, retry, None)  # d1 holds it no more
    delivered = {"state": "delivered", "attempts": 2, "last_answer": 204}
    assert await store.record_webhook(done, again.token, delivered, None)
    assert (await store.get(done)).webhook == delivered
    for other in held:
        if other.record.id != done:
            assert await store.record_webhook(other.record.id, other.token, delivered, None)
    assert await store.claim_webhooks("d1", 10, lease=0) == ([], None)  # settled: none left


async def test_a_delivery_whose_holder_stopped_is_taken_over_after_the_lease(store: JobStore):
    job_id = await finished(store, "https://hooks.example/flux")
    [lost], _ = await store.claim_webhooks("dead", 1, lease=0.3)
    nothing, upcoming = await store.claim_webhooks("alive", 1, lease=30)
    assert nothing == [] and upcoming is not None  # held, not due
    await asyncio.sleep(0.4)
    [taken], _ = await store.claim_webhooks("alive", 1, lease=30)
    assert taken.record.id == job_id and taken.token != lost.token
    state = {"state": "retrying", "attempts": 1}
    assert not await store.record_webhook(job_id, lost.token, state, time.time())  # too late


async def test_a_job_is_kept_while_its_delivery_is_pending_then_for_its_retention(
    stores: Stores,
):
    store = await stores.open(retention=1)
    pending = await finished(store, "https://hooks.example/flux")
    plain = await finished(store, None)
    await asyncio.sleep(1.3)
    await submit(store, None)  # the embedded store prunes at submissions
    assert await store.get(plain) is None
    assert (await store.get(pending)).status == "succeeded"  # its webhook is still due
    [claim], _ = await store.claim_webhooks("d1", 1, lease=30)
    assert await store.record_webhook(pending, claim.token, {"state": "delivered"}, None)
    assert (await store.get(pending)).webhook == {"state": "delivered"}  # kept a while yet
    await asyncio.sleep(1.3)
    await submit(store, None)
    assert await store.get(pending) is None


# --- the deliverer -----------------------------------------------------------------------------


async def test_a_delivery_left_by_a_stopped_process_is_made_by_the_next_one(
    stores: Stores, receiver: Receiver
):
    first = await stores.open()
    async with deliverer(first, schedule=(1.0,)) as hooks:
        job_id = await finished(first, receiver.url)
        hooks.wake()  # as the workers call it when a job with a webhook ends
        deadline = time.monotonic() + 10
        while (await first.get(job_id)).webhook["state"] != "retrying":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    # the process stopped after the receiver answered 500; the retry waits in the outbox
    left = (await first.get(job_id)).webhook
    assert left["attempts"] == 1 and left["last_answer"] == 500 and left["next_attempt_at"]
    assert len(receiver.received) == 1

    second = await stores.open()  # another process, or the same one started again
    async with deliverer(second):
        state = await settled(second, job_id)
    assert state["state"] == "delivered" and state["attempts"] == 2
    assert state["last_answer"] == 204 and state["next_attempt_at"] is None
    tried, retried = verified(receiver, job_id)  # the same webhook-id, a valid signature
    assert retried - tried >= 0.9  # not before its retry time (less the clocks' rounding)


async def test_two_deliverers_never_send_the_same_attempt_twice(stores: Stores):
    receiver = Receiver(failures=2, per_id=True)
    try:
        one, two = await stores.open(), await stores.open()
        ids = [await finished(one, receiver.url) for _ in range(6)]
        options = {"schedule": (0.2,), "poll": 0.02}
        async with deliverer(one, **options) as a, deliverer(two, **options) as b:
            a.wake()
            b.wake()
            states = [await settled(one, job_id) for job_id in ids]
        for job_id, state in zip(ids, states, strict=True):
            assert state["state"] == "delivered" and state["attempts"] == 3, state
            assert len(verified(receiver, job_id)) == 3  # 500, 500, 204: no attempt sent twice
        assert len(receiver.received) == 3 * len(ids)
    finally:
        receiver.close()


async def test_a_delivery_is_retried_after_two_500s_with_the_same_id_then_delivered(
    store: JobStore,
):
    receiver = Receiver(failures=2)
    try:
        async with deliverer(store, schedule=(0.3, 1.2)) as hooks:
            job_id = await finished(store, receiver.url)
            hooks.wake()
            state = await settled(store, job_id)
        assert state == {
            "id": f"msg_{job_id}",
            "state": "delivered",
            "attempts": 3,
            "last_answer": 204,
            "next_attempt_at": None,
        }
        times = verified(receiver, job_id)
        assert len(times) == 3 and times[2] - times[1] > times[1] - times[0]  # backing off
    finally:
        receiver.close()


async def test_a_delivery_fails_when_its_attempts_are_spent(store: JobStore):
    receiver = Receiver(failures=100)
    try:
        async with deliverer(store, attempts=3, schedule=(0.1,)) as hooks:
            job_id = await finished(store, receiver.url)
            hooks.wake()
            state = await settled(store, job_id)
        assert state["state"] == "failed" and state["attempts"] == 3
        assert state["last_answer"] == 500 and state["next_attempt_at"] is None
        assert len(verified(receiver, job_id)) == 3
        assert await store.claim_webhooks("d1", 10, lease=30) == ([], None)  # out of the outbox
    finally:
        receiver.close()


async def test_a_try_under_way_at_shutdown_stays_in_the_outbox_due_at_once(store: JobStore):
    receiver = Receiver(failures=0, delay=3)
    try:
        async with deliverer(store, grace=0.1) as hooks:
            job_id = await finished(store, receiver.url)
            hooks.wake()
            deadline = time.monotonic() + 10
            while not receiver.received:  # the try is under way; the receiver is slow
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
        [left], _ = await store.claim_webhooks("next", 1, lease=30)  # not after a lease: now
        assert left.record.id == job_id
        assert left.record.webhook == {"state": "waiting", "attempts": 0}  # that try not counted
    finally:
        receiver.close()


# --- across a restart of a real server ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_server_stopped_between_tries_leaves_the_delivery_to_the_next_server(
    start_app, emulator, kind
):
    receiver = Receiver(failures=2)
    env = {"FLUX_REMIX_WEBHOOK_ALLOW": receiver.url, "FLUX_REMIX_WEBHOOK_SECRET": SECRET}
    prefix = f"flux-test-{uuid.uuid4().hex[:8]}:"
    if kind == "redis":
        env |= {"REDIS_URL": require_redis(), "REDIS_PREFIX": prefix}
    try:
        first = start_app(**env)
        with first.client(headers=AUTH) as c:
            r = c.post(
                "/api/v1/jobs",
                json={"prompt": "a fox", "model": "DS-8-CF", "webhook_url": receiver.url},
            )
            job_id = r.json()["id"]
            deadline = time.monotonic() + 20
            while not receiver.received:
                assert time.monotonic() < deadline
                time.sleep(0.02)
        first.__exit__(None, None, None)  # graceful stop, between the first try and the next
        stopped = time.monotonic()
        second = start_app(**env)  # the same data directory, or the same Redis
        with second.client(headers=AUTH) as c:
            deadline = time.monotonic() + 30
            while (state := c.get(f"/api/v1/jobs/{job_id}").json()["webhook"])["state"] != (
                "delivered"
            ):
                assert time.monotonic() < deadline, state
                time.sleep(0.1)
        assert state["attempts"] == 3 and state["last_answer"] == 204
        posts = receiver.by_id(f"msg_{job_id}")
        assert len(posts) == 3 == len(receiver.received)
        assert any(at > stopped for at, _, _ in posts)  # the second server sent some
        for _, headers, body in posts:
            assert Webhook(SECRET).verify(body, headers)["id"] == job_id
    finally:
        receiver.close()
        if kind == "redis":
            asyncio.run(_drop(prefix))


@pytest.mark.parametrize("kind", ["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_delivery_whose_process_was_killed_after_a_failed_try_is_made_by_another(
    tmp_path, emulator, kind
):
    receiver = Receiver(failures=1)
    prefix = f"flux-test-{uuid.uuid4().hex[:8]}:"
    env = base_env(
        tmp_path,
        emulator.base_url,
        FLUX_REMIX_WEBHOOK_ALLOW=receiver.url,
        FLUX_REMIX_WEBHOOK_SECRET=SECRET,
    )
    after = dict(env)
    if kind == "redis":  # another replica: same Redis, its own data directory
        env |= {"REDIS_URL": require_redis(), "REDIS_PREFIX": prefix}
        after = env | {"FLUX_REMIX_DATA_DIR": str(tmp_path / "replica")}
    try:
        with ServeProcess(env, tmp_path / "first.log") as first, first.client(headers=AUTH) as c:
            r = c.post(
                "/api/v1/jobs",
                json={"prompt": "a fox", "model": "DS-8-CF", "webhook_url": receiver.url},
            )
            job_id = r.json()["id"]
            deadline = time.monotonic() + 20
            while c.get(f"/api/v1/jobs/{job_id}").json()["webhook"]["state"] != "retrying":
                assert time.monotonic() < deadline
                time.sleep(0.02)
            first.signal(signal.SIGKILL)  # well before the retry, due a second later
            first.wait(10)
        killed = time.monotonic()
        assert len(receiver.received) == 1
        second = ServeProcess(after, tmp_path / "second.log")
        with second, second.client(headers=AUTH) as c:
            deadline = time.monotonic() + 30
            while (state := c.get(f"/api/v1/jobs/{job_id}").json()["webhook"])["state"] != (
                "delivered"
            ):
                assert time.monotonic() < deadline, state
                time.sleep(0.1)
        assert state["attempts"] == 2 and state["last_answer"] == 204
        [_, (retried, headers, body)] = receiver.by_id(f"msg_{job_id}")
        assert retried > killed  # the other process sent it
        assert Webhook(SECRET).verify(body, headers)["id"] == job_id
    finally:
        receiver.close()
        if kind == "redis":
            asyncio.run(_drop(prefix))


async def _drop(prefix: str) -> None:
    client: Redis = redis_from_url(require_redis())
    await drop_prefix(client, prefix)
    await client.aclose()
