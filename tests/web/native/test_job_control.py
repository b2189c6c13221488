"""Jobs over HTTP beyond one run: cancel in each state, a key's share of the queue, fair
order across keys, queue position, webhooks, and the same contract on the Redis store."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from standardwebhooks import Webhook

from flux_remix.emulator import FaultSpec
from tests.conftest import ADMIN, AUTH
from tests.jobs.receiver import SECRET, Receiver
from tests.servers import require_redis
from tests.web.helpers import follow_job

DS8 = "@cf/lykon/dreamshaper-8-lcm"


def start(client: httpx.Client, **fields) -> dict:
    r = client.post("/api/v1/jobs", json={"prompt": "a red fox", "model": "DS-8-CF", **fields})
    assert r.status_code == 202, r.text
    return r.json()


def wait_for(client: httpx.Client, job_id: str, status: str, within: float = 20) -> dict:
    deadline = time.monotonic() + within
    while (job := client.get(f"/api/v1/jobs/{job_id}").json())["status"] != status:
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def images_of(client: httpx.Client) -> list[dict]:
    return client.get("/api/v1/images").json()["images"]


def test_a_queued_job_cancelled_never_runs_and_a_finished_one_cannot_be(start_app, emulator):
    server = start_app(FLUX_REMIX_WORKERS="0")  # web only: jobs wait for a worker
    with server.client(headers=AUTH) as c:
        job = start(c)
        assert job["status"] == "queued" and job["position"] == 1
        assert job["events"][0]["data"]["position"] == 1
        r = c.delete(f"/api/v1/jobs/{job['id']}")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled"
        events = follow_job(c, job["id"])
        assert events[-1].event == "failure"
        assert events[-1].data["type"] == "cancelled" and events[-1].data["status"] == 409
        again = c.delete(f"/api/v1/jobs/{job['id']}")
        assert again.status_code == 409 and "cancelled" in again.json()["error"]["message"]
    with server.client(headers=ADMIN) as other:  # only its owner may cancel it
        assert other.delete(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert not emulator.state.calls()


def test_a_running_job_cancelled_stops_and_stores_nothing_after(app_server, emulator):
    emulator.state.add_fault(FaultSpec(kind="slow", delay=1.5, model=DS8))
    with app_server.client(headers=AUTH) as c:
        job = start(c, n=2)
        wait_for(c, job["id"], "running")
        while c.get(f"/api/v1/jobs/{job['id']}").json()["stage"] != "generating":
            time.sleep(0.05)
        r = c.delete(f"/api/v1/jobs/{job['id']}")
        assert r.status_code == 200 and r.json()["status"] == "running"  # stops at its next stage
        events = follow_job(c, job["id"])
        assert events[-1].event == "failure" and events[-1].data["type"] == "cancelled"
        assert c.get(f"/api/v1/jobs/{job['id']}").json()["status"] == "cancelled"
        time.sleep(0.5)
        assert images_of(c) == []  # the calls in flight finished, but nothing was stored
        finished = c.delete(f"/api/v1/jobs/{job['id']}")
        assert finished.status_code == 409


def test_one_key_is_held_to_its_share_and_another_key_still_gets_in(start_app, emulator):
    server = start_app(FLUX_REMIX_WORKERS="0", FLUX_REMIX_JOBS_PER_KEY="2")
    with server.client(headers=AUTH) as flood, server.client(headers=ADMIN) as other:
        first, second = start(flood), start(flood)
        refused = flood.post("/api/v1/jobs", json={"prompt": "x", "model": "DS-8-CF"})
        assert refused.status_code == 429
        assert refused.json()["error"]["type"] == "job_limit"
        assert int(refused.headers["Retry-After"]) > 0
        mine = start(other)
        assert mine["position"] == 2  # after the flood's first job, not behind all of it
        flood.delete(f"/api/v1/jobs/{first['id']}")
        assert start(flood)["status"] == "queued"  # a finished job frees the key's share
        assert second["status"] == "queued"


def test_jobs_run_round_robin_by_key_and_finished_ones_stay(start_app, emulator):
    emulator.state.add_fault(FaultSpec(kind="slow", delay=0.3, model=DS8))
    server = start_app(FLUX_REMIX_WORKERS="1")
    with server.client(headers=AUTH) as flood, server.client(headers=ADMIN) as other:
        floods = [start(flood) for _ in range(4)]
        mine = start(other)
        assert mine["position"] <= 2
        done = wait_for(other, mine["id"], "succeeded")
        finished_floods = [
            f
            for f in floods
            if flood.get(f"/api/v1/jobs/{f['id']}").json()["status"] == "succeeded"
        ]
        assert len(finished_floods) <= 2  # it did not wait for the whole flood
        for f in floods:
            wait_for(flood, f["id"], "succeeded")
        assert other.get(f"/api/v1/jobs/{mine['id']}").json()["result"] == done["result"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=2)
    yield r
    r.close()


def test_a_webhook_is_signed_and_retried_with_the_same_id(start_app, emulator, receiver):
    allow = receiver.url.rsplit("/", 1)[0] + "/"
    server = start_app(FLUX_REMIX_WEBHOOK_ALLOW=allow, FLUX_REMIX_WEBHOOK_SECRET=SECRET)
    with server.client(headers=AUTH) as c:
        job = start(c, webhook_url=receiver.url)
        follow_job(c, job["id"])
        deadline = time.monotonic() + 30
        while len(receiver.received) < 3:
            assert time.monotonic() < deadline, receiver.received
            time.sleep(0.1)
        ids = {headers["webhook-id"] for _, headers, _ in receiver.received}
        assert len(ids) == 1  # every try of one delivery has the same id
        for _, headers, body in receiver.received:
            payload = Webhook(SECRET).verify(body, headers)  # raises on a bad signature
            assert payload["id"] == job["id"] and payload["status"] == "succeeded"
            assert payload["result"]["images"][0]["url"].startswith(server.url)
        times = [at for at, _, _ in receiver.received]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert gaps[0] < gaps[1]  # backing off
        while (state := c.get(f"/api/v1/jobs/{job['id']}").json()["webhook"])["state"] != (
            "delivered"
        ):
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        assert state["attempts"] == 3 and state["last_answer"] == 204


@pytest.mark.parametrize(
    ("allow", "url"),
    [
        ("", "http://127.0.0.1:9/hook"),  # loopback
        ("", "http://10.0.0.7/hook"),  # private
        ("", "http://169.254.169.254/latest/meta-data"),  # link-local (cloud metadata)
        ("", "http://[::1]/hook"),
        ("", "ftp://example.com/hook"),
        ("https://hooks.example.com/flux", "https://hooks.example.com.evil.test/flux/x"),
        ("https://hooks.example.com/flux", "https://hooks.example.com/other"),
    ],
)
def test_a_webhook_outside_the_allowed_targets_is_refused(start_app, emulator, allow, url):
    server = start_app(FLUX_REMIX_WEBHOOK_ALLOW=allow)
    with server.client(headers=AUTH) as c:
        r = c.post("/api/v1/jobs", json={"prompt": "x", "model": "DS-8-CF", "webhook_url": url})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["param"] == "webhook_url"
    assert not emulator.state.calls()


@pytest.mark.redis
def test_the_same_contract_on_the_redis_store(start_app, emulator):
    prefix = f"flux-test-{uuid.uuid4().hex[:8]}:"
    server = start_app(REDIS_URL=require_redis(), REDIS_PREFIX=prefix)
    with server.client(headers=AUTH) as c:
        job = start(c, n=2, seed=3)
        events = follow_job(c, job["id"])
        stages = [e.data["stage"] for e in events if e.event == "stage"]
        assert stages == ["queued", "translating", "generating", "stored", "stored", "done"]
        assert [e.id for e in events] == list(range(1, len(events) + 1))
        assert events[-1].event == "result"
        rest = follow_job(c, job["id"], after=3)
        assert [e.id for e in rest] == [e.id for e in events[3:]]
        assert json.loads(json.dumps(c.get(f"/api/v1/jobs/{job['id']}").json()["result"])) == (
            events[-1].data
        )
        ready = c.get("/readyz").json()
        assert ready["checks"]["jobs"]["ok"]
        metrics = c.get("/metrics").text
        assert 'flux_remix_jobs_finished_total{status="succeeded"} 1.0' in metrics
        assert 'flux_remix_jobs{status="queued"} 0.0' in metrics
