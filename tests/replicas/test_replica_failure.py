"""Two `flux-remix serve` replicas share Redis, PostgreSQL and an S3 bucket under load; one is
killed with SIGKILL. The other keeps serving, the shared account state stays consistent, and
every image whose answer reached a client is kept and served."""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from flux_remix.emulator import FaultSpec
from tests.conftest import ACCOUNT_IDS, ADMIN, AUTH
from tests.processes import ServeProcess, replica_pair

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.s3]

MODEL = "flux-2-klein-4b"  # priced per call, so the shared neuron ledger has something to count
WORKERS = 6


@pytest.fixture
def replicas(tmp_path, emulator, seaweed) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    with replica_pair(tmp_path, emulator.base_url, seaweed, "flux-failover") as pair:
        yield pair


class Load:
    """Workers sending generations to both replicas in turn, recording every outcome."""

    def __init__(self, a: ServeProcess, b: ServeProcess) -> None:
        self.targets = {"a": a, "b": b}
        self.results: list[tuple[str, float, int | None, dict | None]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.work, args=(i,)) for i in range(WORKERS)]

    def work(self, worker: int) -> None:
        n = 0
        with httpx.Client(timeout=60, headers=AUTH) as client:
            while not self.stop.is_set():
                name = "ab"[(worker + n) % 2]
                n += 1
                body = {"prompt": f"load {worker}-{n}", "model": MODEL, "width": 256, "height": 256}
                sent = time.monotonic()
                try:
                    r = client.post(f"{self.targets[name].url}/api/v1/images", json=body)
                    outcome: tuple[int | None, dict | None] = (r.status_code, r.json())
                except (httpx.TransportError, ValueError):
                    outcome = (None, None)  # the replica died under this request
                    time.sleep(0.05)
                with self.lock:
                    self.results.append((name, sent, *outcome))

    def ok(self, name: str) -> int:
        with self.lock:
            return sum(1 for n, _, status, _ in self.results if n == name and status == 200)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def wait_for(condition, seconds: float, what: str) -> None:
    ends = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < ends, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_sigkill_of_one_replica_under_load(replicas, emulator):
    a, b = replicas
    emulator.state.add_fault(FaultSpec(kind="slow", delay=0.3))  # calls are in flight at the kill
    emulator.state.set_used(ACCOUNT_IDS[0], 10_000)  # cf-1 is used up: a replica learns it
    with Load(a, b) as load:
        wait_for(lambda: load.ok("a") >= 6 and load.ok("b") >= 6, 60, "answers from both")
        assert a.proc is not None
        a.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        a.wait(10)
        wait_for(lambda: load.ok("b") >= 30, 60, "B to keep answering")
    assert a.proc.returncode == -signal.SIGKILL

    # B kept serving: everything sent to it succeeded, before and after the kill
    to_b = [status for name, _, status, _ in load.results if name == "b"]
    assert to_b and set(to_b) == {200}, to_b
    after = [r for r in load.results if r[0] == "b" and r[1] > killed]
    assert len(after) >= 10
    assert all(r[0] == "a" for r in load.results if r[2] != 200)  # only A's requests failed

    answered = [body for _, _, status, body in load.results if status == 200 and body]
    ids = {image["id"]: image for body in answered for image in body["images"]}
    with httpx.Client(base_url=b.url, timeout=60, headers=AUTH) as c:
        # no image whose answer reached a client is lost: listed, described and served by B
        listed: set[str] = set()
        cursor = None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = c.get("/api/v1/images", params=params).json()
            listed |= {i["id"] for i in page["images"]}
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert set(ids) <= listed
        for image_id in ids:
            meta = c.get(f"/api/v1/images/{image_id}").json()
            data = c.get(httpx.URL(meta["url"]).path)
            assert data.status_code == 200
            assert hashlib.sha256(data.content).hexdigest() == meta["sha256"]

        # the account state A wrote is B's: cf-1 exhausted, the others healthy, and the shared
        # ledger counts every answered image (an image A made but never answered may add one)
        accounts = {
            x["label"]: x for x in c.get("/api/v1/accounts", headers=ADMIN).json()["accounts"]
        }
        assert accounts["cf-1"]["state"] == "exhausted"
        assert accounts["cf-2"]["state"] == accounts["cf-3"]["state"] == "healthy"
        counted = sum(accounts[label]["neurons_used_today"] for label in ("cf-2", "cf-3"))
        answered_neurons = sum(body["neurons"] for body in answered)
        in_flight_at_kill = WORKERS * max(image["neurons"] for image in ids.values())
        assert answered_neurons <= counted + 0.01
        assert counted <= answered_neurons + in_flight_at_kill + 0.01
        assert c.get("/readyz").status_code == 200
    assert not emulator.state.calls() or all(
        call.account_id != ACCOUNT_IDS[0] or call.status != 200 for call in emulator.state.calls()
    )
