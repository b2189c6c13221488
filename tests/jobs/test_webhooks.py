"""Webhook deliveries left behind by a stopped process are taken up, from the attempt they
had reached, with the same webhook-id and a signature the receiver verifies."""

from __future__ import annotations

import asyncio
import time

from standardwebhooks import Webhook

from flux_remix.jobs.store import JobStore
from flux_remix.jobs.webhooks import Webhooks
from tests.jobs.conftest import job
from tests.jobs.receiver import SECRET, Receiver


async def finished_with_webhook(store: JobStore, url: str, state: dict) -> str:
    record = job()
    record.webhook_url = url
    queued = await store.submit(record, {"model": "m"}, per_key=10, capacity=10)
    claim = (await store.claim("w1", 1, block=0, lease=30, max_attempts=3))[0]
    await store.append(queued.id, claim.token, "result", {"images": []}, "succeeded")
    await store.set_webhook(queued.id, state)
    return queued.id


async def test_an_abandoned_delivery_is_taken_up_where_it_stopped(store: JobStore):
    receiver = Receiver(failures=0)
    try:
        long_ago = time.time() - 600
        left = await finished_with_webhook(
            store, receiver.url, {"state": "retrying", "attempts": 2, "next_attempt_at": long_ago}
        )
        busy = await finished_with_webhook(
            store,
            receiver.url,
            {"state": "retrying", "attempts": 1, "next_attempt_at": time.time()},
        )
        hooks = Webhooks(store, lambda r: {"id": r.id, "status": r.status}, SECRET, attempts=5)
        try:
            assert await hooks.resume(await store.list_jobs()) == 1  # not the one still retried
            deadline = time.monotonic() + 10
            while (await store.get(left)).webhook["state"] != "delivered":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
        finally:
            await hooks.aclose()
        assert (await store.get(left)).webhook["attempts"] == 3
        assert (await store.get(busy)).webhook["state"] == "retrying"
        [(_, headers, body)] = receiver.received
        assert headers["webhook-id"] == f"msg_{left}"
        assert Webhook(SECRET).verify(body, headers) == {"id": left, "status": "succeeded"}
    finally:
        receiver.close()
