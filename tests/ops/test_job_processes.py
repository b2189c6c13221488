"""Jobs across real processes: a single embedded `serve` killed mid-job and started again,
the `flux-remix jobs` command, and `flux-remix worker` handing a job back on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from flux_remix.emulator import FaultSpec
from tests.conftest import AUTH
from tests.processes import CLI, ServeProcess, base_env
from tests.servers import require_redis

DS8 = "@cf/lykon/dreamshaper-8-lcm"


def start(client: httpx.Client, prompt: str) -> dict:
    r = client.post("/api/v1/jobs", json={"prompt": prompt, "model": "DS-8-CF"})
    assert r.status_code == 202, r.text
    return r.json()


def wait_for(client: httpx.Client, job_id: str, check, within: float = 40) -> dict:
    deadline = time.monotonic() + within
    while not check(job := client.get(f"/api/v1/jobs/{job_id}").json()):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    return job


def calls(emulator) -> int:
    return sum(1 for c in emulator.state.calls() if c.model == DS8)


def test_an_embedded_process_killed_mid_job_finishes_it_after_a_restart(tmp_path, emulator):
    env = base_env(tmp_path, emulator.base_url, FLUX_REMIX_WORKERS="1")
    with ServeProcess(env, tmp_path / "first.log") as first, first.client(headers=AUTH) as c:
        finished = start(c, "finished before")
        wait_for(c, finished["id"], lambda j: j["status"] == "succeeded")
        emulator.state.add_fault(FaultSpec(kind="slow", delay=30, model=DS8, count=1))
        running = start(c, "running when killed")
        wait_for(c, running["id"], lambda j: j["stage"] == "generating")
        queued = start(c, "queued when killed")
        assert queued["status"] == "queued"
        first.signal(signal.SIGKILL)
        first.wait(10)

    with ServeProcess(env, tmp_path / "second.log") as second, second.client(headers=AUTH) as c:
        # finished: still readable; running: taken over and re-run; queued: runs
        assert c.get(f"/api/v1/jobs/{finished['id']}").json()["status"] == "succeeded"
        redone = wait_for(c, running["id"], lambda j: j["status"] == "succeeded")
        assert redone["attempts"] == 2
        assert any(e["data"].get("stage") == "translating" for e in redone["events"][3:])
        wait_for(c, queued["id"], lambda j: j["status"] == "succeeded")
        images = c.get("/api/v1/images").json()["images"]
        assert len(images) == 3  # one per job: nothing stored twice
        assert calls(emulator) >= 3  # the re-run called upstream again (the killed call
        # is logged by the emulator once its 30 s delay is over)

        listed = cli(env, "jobs", "list", "--json")
        assert {j["id"] for j in listed["jobs"]} == {finished["id"], running["id"], queued["id"]}
        shown = cli(env, "jobs", "show", running["id"], "--json")
        assert shown["attempts"] == 2 and shown["events"][-1]["event"] == "result"
        refused = subprocess.run(
            [*CLI, "jobs", "cancel", finished["id"], "--json"], env=env, capture_output=True
        )
        assert refused.returncode != 0
        assert json.loads(refused.stdout)["error"]["type"] == "conflict"


def cli(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


class WorkerProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [*CLI, "worker"], env=env, stdout=sink, stderr=subprocess.STDOUT
            )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


@pytest.mark.redis
def test_a_worker_process_runs_jobs_and_hands_back_what_it_cannot_finish(tmp_path, emulator):
    shared = {"REDIS_URL": require_redis(), "REDIS_PREFIX": f"flux-test-{uuid.uuid4().hex[:8]}:"}
    web_env = base_env(tmp_path / "web", emulator.base_url, FLUX_REMIX_WORKERS="0", **shared)
    # the worker stores images where the web replica reads them (here: the same data directory)
    worker_env = {**web_env, "FLUX_REMIX_WORKERS": "4", "FLUX_REMIX_SHUTDOWN_TIMEOUT": "0"}
    with ServeProcess(web_env, tmp_path / "web.log") as web, web.client(headers=AUTH) as c:
        first = WorkerProcess(worker_env, tmp_path / "w1.log")
        try:
            quick = start(c, "a quick one")
            wait_for(c, quick["id"], lambda j: j["status"] == "succeeded")
            emulator.state.add_fault(FaultSpec(kind="slow", delay=30, model=DS8, count=1))
            slow = start(c, "a slow one")
            wait_for(c, slow["id"], lambda j: j["stage"] == "generating")
            assert first.stop() == 0  # SIGTERM: no grace left, so the job is handed back
        finally:
            first.stop(signal.SIGKILL)
        back = c.get(f"/api/v1/jobs/{slow['id']}").json()
        assert back["status"] == "queued", back
        assert back["events"][-1]["data"] == {
            "stage": "queued",
            "reason": "handed back at shutdown",
        }
        second = WorkerProcess(worker_env, tmp_path / "w2.log")
        try:
            done = wait_for(c, slow["id"], lambda j: j["status"] == "succeeded")
            assert done["attempts"] == 2
            assert len(c.get("/api/v1/images").json()["images"]) == 2
        finally:
            second.stop()
