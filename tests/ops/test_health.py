"""`/healthz` and `/readyz`: cheap (no upstream model call), and honest about readiness."""

from __future__ import annotations

import time
import uuid

from flux_remix.emulator import FaultSpec
from tests.conftest import ACCOUNT_IDS, AUTH
from tests.servers import require_redis


def model_calls(emulator) -> int:
    return sum(1 for c in emulator.state.calls() if "/ai/" in c.endpoint)


def test_healthz_and_readyz_answer_without_a_key_or_a_model_call(app_server, emulator):
    before = model_calls(emulator)
    with app_server.client() as c:
        health = c.get("/healthz")
        ready = c.get("/readyz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert {"process", "database", "blobs", "accounts"} <= set(body["checks"])
    assert body["checks"]["accounts"] == {"ok": True, "detail": "3 of 3 usable"}
    assert model_calls(emulator) == before


def test_readyz_is_503_when_no_account_is_usable(app_server, emulator):
    for account in ACCOUNT_IDS:
        emulator.state.set_used(account, 10_000)
    with app_server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json={"prompt": "a cat", "model": "DS-8-CF"})
        assert r.status_code == 429, r.text  # every account answered "daily quota used up"
        ready = c.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    assert ready.json()["checks"]["accounts"] == {"ok": False, "detail": "0 of 3 usable"}
    assert ready.json()["checks"]["database"]["ok"] is True


def test_readyz_recovers_when_an_account_returns(start_app, emulator):
    server = start_app()
    emulator.state.add_fault(FaultSpec(kind="capacity", retry_after=3))
    with server.client(headers=AUTH) as c:
        assert c.post("/api/v1/images", json={"prompt": "x", "model": "DS-8-CF"}).status_code in (
            429,
            503,
        )
        assert c.get("/readyz").status_code == 503
        emulator.state.clear_faults()
        deadline = time.monotonic() + 10  # the 3 s cooldown runs out
        while c.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, c.get("/readyz").text
            time.sleep(0.1)


def test_readyz_checks_redis_when_configured(start_app):
    url = require_redis()
    server = start_app(REDIS_URL=url, REDIS_PREFIX=f"flux-test-{uuid.uuid4().hex[:8]}:")
    with server.client() as c:
        body = c.get("/readyz").json()
    assert body["checks"]["redis"] == {"ok": True, "detail": "reachable"}
