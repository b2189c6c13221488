"""Jobs on two `serve` replicas (shared Redis, PostgreSQL, SeaweedFS) behind a round-robin
proxy with no sticky routing: any replica serves any job's status and events, and a replica
killed with SIGKILL mid-job has its job taken over by the other, with effects once."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from flux_remix.emulator import FaultSpec
from tests.conftest import ADMIN, AUTH
from tests.ops.proxy import RoundRobinProxy, round_robin
from tests.processes import CLI, ServeProcess, replica_pair
from tests.storage.backends import SeaweedFS
from tests.web.helpers import Event, read_events

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.s3]

DS8 = "@cf/lykon/dreamshaper-8-lcm"
LEASE = "2"  # seconds without a heartbeat before another replica takes a job over


@pytest.fixture(scope="module")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs-jobs")) as server:
        yield server


@pytest.fixture
def replicas(tmp_path, emulator, seaweedfs) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    with replica_pair(
        tmp_path, emulator.base_url, seaweedfs, "flux-jobs", FLUX_REMIX_JOB_LEASE=LEASE
    ) as pair:
        yield pair


@pytest.fixture
def proxy(replicas) -> Iterator[RoundRobinProxy]:
    with round_robin([r.url for r in replicas]) as rr:
        yield rr


def start(client: httpx.Client, prompt: str, **fields) -> dict:
    r = client.post("/api/v1/jobs", json={"prompt": prompt, "model": "DS-8-CF", **fields})
    assert r.status_code == 202, r.text
    return r.json()


def one_event_at_a_time(client: httpx.Client, job_id: str) -> list[Event]:
    """Read the stream reconnecting after every event (`Last-Event-ID`): through the proxy,
    each reconnection reaches the other replica."""
    events: list[Event] = []
    deadline = time.monotonic() + 60
    while not events or events[-1].event == "stage":
        assert time.monotonic() < deadline, events
        headers = {"Last-Event-ID": str(events[-1].id)} if events else {}
        with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=headers) as r:
            assert r.status_code == 200, r.read()
            events.append(next(read_events(r)))
    return events


def test_any_replica_serves_any_job_behind_round_robin(proxy, replicas, emulator):
    with httpx.Client(base_url=proxy.url, headers=AUTH, timeout=60) as c:
        jobs = [start(c, f"a lighthouse number {i}") for i in range(4)]
        for job in jobs:
            events = one_event_at_a_time(c, job["id"])
            assert [e.id for e in events] == list(range(1, len(events) + 1))
            assert events[-1].event == "result"
            snapshot = c.get(f"/api/v1/jobs/{job['id']}").json()
            assert snapshot["status"] == "succeeded"
            assert snapshot["result"] == events[-1].data
            image = events[-1].data["images"][0]
            assert image["url"].startswith(proxy.url)
            assert c.get(image["url"]).status_code == 200
            assert proxy.backends_for(job["id"]) == {r.url for r in replicas}
        images = c.get("/api/v1/images").json()["images"]
        assert len(images) == len(jobs)  # one stored image per job


def worker_pid(replica: ServeProcess, job_id: str) -> int:
    done = subprocess.run(
        [*CLI, "jobs", "show", job_id, "--json"], env=replica.env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    worker = json.loads(done.stdout)["worker"]
    return int(worker.rsplit("-", 2)[1])  # host-pid-tag


def test_a_replica_killed_mid_job_is_taken_over_with_effects_once(proxy, replicas, emulator):
    budget = {"label": "budgeted", "daily_neurons": 1e5}
    with httpx.Client(base_url=proxy.url, headers=ADMIN, timeout=60) as admin:
        made = admin.post("/api/v1/keys", json=budget)
    assert made.status_code == 201, made.text
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    key_id = made.json()["id"]
    emulator.state.add_fault(FaultSpec(kind="slow", delay=30, model=DS8, count=1))
    with httpx.Client(base_url=proxy.url, headers=key, timeout=60) as c:
        job = start(c, "a slow fox")
    a, b = replicas
    with a.client(headers=key) as ca:
        deadline = time.monotonic() + 30
        while ca.get(f"/api/v1/jobs/{job['id']}").json()["stage"] != "generating":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    pid = worker_pid(a, job["id"])
    victim, survivor = (a, b) if a.proc.pid == pid else (b, a)
    assert victim.proc.pid == pid
    victim.signal(signal.SIGKILL)
    victim.wait(10)

    with survivor.client(headers=key) as c:
        killed_at = time.monotonic()
        events: list[Event] = []
        with c.stream("GET", f"/api/v1/jobs/{job['id']}/events") as r:
            events = list(read_events(r))
        assert events[-1].event == "result", events[-1]
        assert time.monotonic() - killed_at < 30  # a lease (2 s) and a re-run, not 30 s
        done = c.get(f"/api/v1/jobs/{job['id']}").json()
        assert done["status"] == "succeeded" and done["attempts"] == 2
        images = c.get("/api/v1/images").json()["images"]
        assert [i["id"] for i in images] == [done["result"]["images"][0]["id"]]
        with survivor.client(headers=ADMIN) as admin:
            listed = admin.get("/api/v1/keys").json()["keys"]
        used = next(k for k in listed if k["id"] == key_id)["neurons_used_today"]
        assert used == pytest.approx(done["result"]["neurons"], abs=0.01)  # charged once
        metrics = c.get("/metrics").text
        assert "flux_remix_job_takeovers_total 1.0" in metrics
