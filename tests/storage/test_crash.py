"""Crash safety: `kill -9` a real `flux-remix serve` during 50 concurrent generations, restart
it, and prove every image whose response arrived is in history and servable, no partial file
is served, and the database opens cleanly."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from PIL import Image

from flux_remix.emulator import EmulatorServer, FaultSpec
from tests.conftest import ADMIN, ADMIN_KEY, API_KEY, AUTH, account_list
from tests.storage.helpers import stored_blobs
from tests.support import free_port

LOAD = 50
KILL_AFTER = 12  # responses received before the kill


@contextmanager
def serve(data_dir: Path, emulator: EmulatorServer, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(data_dir.parent),
        "CF_ACCOUNT_LIST": account_list(),
        "CF_API_BASE": emulator.base_url,
        "FLUX_REMIX_DATA_DIR": str(data_dir),
        "API_KEY": API_KEY,
        "ADMIN_API_KEY": ADMIN_KEY,
        "FLUX_REMIX_DEADLINE": "60",
    }
    command = [str(Path(sys.executable).parent / "flux-remix"), "serve", "--port", str(port)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    proc.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        ends = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"serve exited early: {log.read_text()[-2000:]}"
            try:
                if httpx.get(f"{proc.url}/healthz", timeout=1).status_code == 200:  # type: ignore[attr-defined]
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < ends, "serve did not start within 30 s"
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_kill_9_during_load_loses_no_answered_image(emulator, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "serve.log"
    # half the calls are slow, so plenty are in flight (some being stored) at the kill
    emulator.state.add_fault(FaultSpec(kind="slow", delay=3.0, probability=0.5))
    answered: list[dict] = []
    lock = threading.Lock()
    enough = threading.Event()

    with serve(data_dir, emulator, log) as proc:
        url = proc.url  # type: ignore[attr-defined]

        def one(i: int) -> None:
            body = {"prompt": f"crash test {i}", "model": "DS-8-CF", "width": 256, "height": 256}
            if i % 5 == 0:
                body["n"] = 2  # a few batches too
            try:
                r = httpx.post(f"{url}/api/v1/images", json=body, headers=AUTH, timeout=30)
            except httpx.HTTPError:
                return  # the server died under this request
            assert r.status_code == 200, r.text
            with lock:
                answered.append(r.json())
                if len(answered) >= KILL_AFTER:
                    enough.set()

        with ThreadPoolExecutor(LOAD) as pool:
            for i in range(LOAD):
                pool.submit(one, i)
            assert enough.wait(60), f"only {len(answered)} answers before the kill"
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with lock:
            survivors = list(answered)

    assert KILL_AFTER <= len(survivors) < LOAD, "the kill came after the load had finished"

    db = data_dir / "flux-remix.sqlite3"
    with sqlite3.connect(db) as conn:  # opens cleanly after the kill
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    with serve(data_dir, emulator, log) as proc, httpx.Client(base_url=proc.url) as c:  # type: ignore[attr-defined]
        for body in survivors:
            for image in body["images"]:
                meta = c.get(f"/api/v1/images/{image['id']}", headers=AUTH)
                assert meta.status_code == 200, f"answered image {image['id']} is not in history"
                served = c.get(httpx.URL(image["url"]).path)  # answered by the first server
                assert served.status_code == 200
                assert served.content == base64.b64decode(image["b64_json"])

        # every image in history, answered or not, is complete and matches its row
        rows, cursor = [], None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = c.get("/api/v1/images", params=params, headers=ADMIN).json()
            rows += page["images"]
            if not (cursor := page["next_cursor"]):
                break
        assert len(rows) >= sum(len(b["images"]) for b in survivors)
        for row in rows:
            served = c.get(httpx.URL(row["url"]).path)
            assert served.status_code == 200
            assert hashlib.sha256(served.content).hexdigest() == row["sha256"]
            Image.open(io.BytesIO(served.content)).verify()

        # a killed writer may leave a temp file (no URL can name one), or a complete record in
        # a pack whose row was never committed (its image was never answered): neither is served
        on_disk = set(stored_blobs(data_dir / "images"))
        in_history = {f"{r['id']}.png" for r in rows}
        assert in_history <= on_disk
        for name in on_disk - in_history:
            assert c.get(f"/images/{name}").status_code == 404
            assert name.endswith(".tmp") or name not in answered_names(survivors)


def answered_names(bodies: list[dict]) -> set[str]:
    return {httpx.URL(i["url"]).path.rsplit("/", 1)[1] for b in bodies for i in b["images"]}
