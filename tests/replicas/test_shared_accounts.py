"""Two app processes sharing Redis: what one replica learns about an account, the other uses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from flux_remix.settings import ENV_NAMES
from tests.api_helpers import image_calls
from tests.conftest import ACCOUNT_IDS, ADMIN, ADMIN_KEY, API_KEY, AUTH, account_list
from tests.servers import require_redis
from tests.support import free_port

SCHNELL = "@cf/black-forest-labs/flux-1-schnell"


class Replica:
    """`python -m flux_remix.cli serve` in a subprocess of this test."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flux_remix.cli", "serve", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log = log

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"replica did not start:\n{self.log.read_text()}")

    def generate(self) -> httpx.Response:
        body = {"prompt": "a lighthouse", "model": SCHNELL}
        return httpx.post(self.url + "/api/v1/images", json=body, headers=AUTH, timeout=30)

    def accounts(self) -> dict[str, dict]:
        r = httpx.get(self.url + "/api/v1/accounts", headers=ADMIN, timeout=10)
        assert r.status_code == 200, r.text
        return {a["label"]: a for a in r.json()["accounts"]}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@pytest.fixture
def replicas(emulator, tmp_path: Path) -> Iterator[tuple[Replica, Replica]]:
    url = require_redis()
    prefix = f"flux-remix-test:{uuid.uuid4().hex[:12]}:"
    started: list[Replica] = []
    try:
        for name in ("a", "b"):
            env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
            env.update(
                CF_ACCOUNT_LIST=account_list(),
                CF_API_BASE=emulator.base_url,
                API_KEY=API_KEY,
                ADMIN_API_KEY=ADMIN_KEY,
                REDIS_URL=url,
                REDIS_PREFIX=prefix,
                FLUX_REMIX_DATA_DIR=str(tmp_path / name),  # nothing shared but Redis
                CF_IS_TRANSLATE="false",
                LOG_LEVEL="WARNING",
            )
            started.append(Replica(env, tmp_path / f"{name}.log"))
        for replica in started:
            replica.wait_ready()
        yield started[0], started[1]
    finally:
        for replica in started:
            replica.stop()
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_an_account_exhausted_through_one_replica_is_skipped_by_the_other(replicas, emulator):
    a, b = replicas
    emulator.state.set_used(ACCOUNT_IDS[0], 10_000)  # cf-1's quota is gone upstream
    sent_to_a = 0
    while sent_to_a < 3 and not any(c.status == 429 for c in image_calls(emulator)):
        assert a.generate().status_code == 200
        sent_to_a += 1
    refusals = [c for c in image_calls(emulator) if c.status == 429]
    assert [c.account_id for c in refusals] == [ACCOUNT_IDS[0]]  # replica A learned it
    spent_by_a = {label: s["neurons_used_today"] for label, s in a.accounts().items()}

    emulator.state.clear_calls()
    assert b.accounts()["cf-1"]["state"] == "exhausted"  # replica B never called cf-1
    for _ in range(6):
        assert b.generate().status_code == 200
    hits = {c.account_id for c in image_calls(emulator)}
    assert ACCOUNT_IDS[0] not in hits
    assert hits == set(ACCOUNT_IDS[1:])

    # one ledger: B's view includes what A spent, and A sees B's spending
    seen_by_a = a.accounts()
    assert seen_by_a == b.accounts()
    billed = emulator.state.ledger_snapshot()["used"]
    for i, account_id in enumerate(ACCOUNT_IDS[1:], start=2):
        assert seen_by_a[f"cf-{i}"]["neurons_used_today"] == pytest.approx(billed[account_id])
        assert seen_by_a[f"cf-{i}"]["neurons_used_today"] >= spent_by_a[f"cf-{i}"]
    assert sum(s["successes_today"] for s in seen_by_a.values()) == sent_to_a + 6
