"""API keys: made and revoked through `/api/v1/keys` and `flux-remix keys`, kept only as a
peppered digest, each with its own role, requests per minute and neurons per day."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest

from flux_remix.catalog import build_catalog
from flux_remix.keys.quota import gcra
from flux_remix.keys.ring import MISS_REFRESH_SECONDS
from flux_remix.schemas import ImageRequest
from flux_remix.validation import validate_request
from tests.api_helpers import image_calls
from tests.conftest import ADMIN, ADMIN_KEY, API_KEY, AUTH
from tests.servers import require_redis
from tests.web.helpers import sign_in

DS8 = {"prompt": "a cat", "model": "DS-8-CF", "width": 256, "height": 256}
SCHNELL = {"prompt": "a cat", "model": "FLUX.1-Schnell-CF", "steps": 4}  # priced by tiles x steps


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create(server, headers=ADMIN, **fields):
    with server.client(headers=headers) as c:
        return c.post("/api/v1/keys", json={"label": "alice's laptop", **fields})


def made(server, **fields) -> tuple[str, dict]:
    r = create(server, **fields)
    assert r.status_code == 201, r.text
    body = r.json()
    return body.pop("key"), body


def listing(server) -> dict[str, dict]:
    with server.client(headers=ADMIN) as c:
        r = c.get("/api/v1/keys")
    assert r.status_code == 200, r.text
    return {k["id"]: k for k in r.json()["keys"]}


def test_a_new_key_works_is_listed_and_is_stored_only_as_a_peppered_digest(app_server, tmp_path):
    key, record = made(app_server)
    assert key.startswith("fxr_") and len(key) >= 40
    assert record["label"] == "alice's laptop" and record["admin"] is False
    with app_server.client(headers=bearer(key)) as c:
        r = c.post("/api/v1/images", json=DS8)
        assert r.status_code == 200, r.text
        image = r.json()["images"][0]
        assert c.get(f"/api/v1/images/{image['id']}").json()["key_id"] == record["id"]
        assert c.get("/api/v1/accounts").status_code == 403  # not an admin key
    listed = listing(app_server)
    assert listed[record["id"]]["source"] == "stored"
    assert {k["source"] for k in listed.values()} == {"env", "stored"}
    text = str(listed)
    for secret in (key, API_KEY, ADMIN_KEY):
        assert secret not in text

    data = tmp_path / "data"
    with sqlite3.connect(data / "flux-remix.sqlite3") as db:
        rows = db.execute("SELECT * FROM api_keys").fetchall()
    assert len(rows) == 1 and key not in repr(rows)
    pepper = (data / "key-pepper").read_bytes()
    assert oct((data / "key-pepper").stat().st_mode & 0o777) == "0o600"
    digest = hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()
    assert digest in rows[0]
    assert hashlib.sha256(key.encode()).hexdigest() not in repr(rows)  # not an unpeppered hash


def test_only_admins_manage_keys(app_server, emulator):
    assert create(app_server, headers={}).status_code == 401
    assert create(app_server, headers=AUTH).status_code == 403
    admin_key, _ = made(app_server, admin=True, label="ops")
    assert create(app_server, headers=bearer(admin_key)).status_code == 201
    with app_server.client(headers=bearer(admin_key)) as c:
        assert c.get("/api/v1/accounts").status_code == 200


@pytest.mark.parametrize(
    "fields",
    [{"label": ""}, {"label": "   "}, {"label": "a\nb"}, {"rate_limit": -1}, {"daily_neurons": -5}],
)
def test_bad_key_fields_are_422(app_server, fields):
    r = create(app_server, **fields)
    assert r.status_code == 422, r.text


def test_a_revoked_key_is_refused_at_once_and_everywhere_it_was_used(app_server):
    key, record = made(app_server)
    with sign_in(app_server, key) as (page, _):
        assert page.get("/api/v1/images").status_code == 200  # the session cookie works
        with app_server.client(headers=ADMIN) as c:
            r = c.delete(f"/api/v1/keys/{record['id']}")
        assert r.status_code == 200 and r.json()["revoked"]
        assert page.get("/api/v1/images").status_code == 401  # the session went with the key
    with app_server.client(headers=bearer(key)) as c:
        r = c.post("/api/v1/images", json=DS8)
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "Invalid API key"
    assert listing(app_server)[record["id"]]["revoked"] is not None


def test_configured_keys_cannot_be_revoked_through_the_api(app_server):
    env_ids = [k for k, v in listing(app_server).items() if v["source"] == "env"]
    with app_server.client(headers=ADMIN) as c:
        r = c.delete(f"/api/v1/keys/{env_ids[0]}")
        assert r.status_code == 400
        assert "API_KEY" in r.json()["error"]["message"]
        assert c.delete("/api/v1/keys/key_000000000000").status_code == 404


def test_revoking_the_last_stored_key_does_not_open_the_server(start_app):
    server = start_app(API_KEY="", ADMIN_API_KEY="")
    with server.client() as c:
        assert c.get("/api/v1/images").status_code == 200  # no keys: open
    key, record = made(server, headers={}, admin=True)
    with server.client() as c:
        assert c.get("/api/v1/images").status_code == 401  # a key exists: keys required
    with server.client(headers=bearer(key)) as c:
        assert c.delete(f"/api/v1/keys/{record['id']}").status_code == 200
    with server.client() as c:
        assert c.get("/api/v1/images").status_code == 401


def test_the_cli_makes_and_revokes_keys_a_running_server_honours(start_app, tmp_path):
    server = start_app()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env["FLUX_REMIX_DATA_DIR"] = str(tmp_path / "data")
    cli = [sys.executable, "-m", "flux_remix.cli", "keys"]

    made_ = subprocess.run(
        [*cli, "create", "ci bot", "--rate-limit", "100"], env=env, capture_output=True, text=True
    )
    assert made_.returncode == 0, made_.stderr
    key = made_.stdout.strip()
    assert key.startswith("fxr_") and key not in made_.stderr
    with server.client(headers=bearer(key)) as c:  # the server sees it within a second
        deadline = time.monotonic() + 5
        while c.get("/api/v1/images").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)

    listed = subprocess.run([*cli, "list", "--json"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert key not in listed.stdout
    (row,) = [k for k in json.loads(listed.stdout)["keys"] if k["label"] == "ci bot"]
    assert row["rate_limit"] == 100

    revoked = subprocess.run([*cli, "revoke", row["id"]], env=env, capture_output=True, text=True)
    assert revoked.returncode == 0, revoked.stderr
    with server.client(headers=bearer(key)) as c:
        deadline = time.monotonic() + 5
        while c.get("/api/v1/images").status_code != 401:
            assert time.monotonic() < deadline
            time.sleep(0.1)

    missing = subprocess.run([*cli, "revoke", "key_nope"], env=env, capture_output=True, text=True)
    assert missing.returncode == 3 and "No stored key" in missing.stderr

    remote = [*cli, "list", "--json", "--server", server.url]  # the same through the admin API
    listed = subprocess.run([*remote, "--key", ADMIN_KEY], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["keys"][-1]["revoked"]
    refused = subprocess.run([*remote, "--key", API_KEY], env=env, capture_output=True, text=True)
    assert refused.returncode == 4 and ADMIN_KEY not in refused.stderr


def test_requests_per_minute_per_key_answer_429_with_retry_after(start_app, emulator):
    server = start_app(FLUX_REMIX_KEY_RATE_LIMIT="2")  # the default, for keys without their own
    key, record = made(server, rate_limit=3)
    with server.client(headers=bearer(key)) as c:
        statuses = [c.get("/api/v1/images").status_code for _ in range(3)]
        refused = c.post("/api/v1/images", json=DS8)
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert 15 <= int(refused.headers["Retry-After"]) <= 20  # one request per 20 s after a burst
    assert refused.json()["error"]["type"] == "key_rate_limited"
    assert "3 requests per minute" in refused.json()["error"]["message"]
    assert image_calls(emulator) == []
    with server.client(headers=AUTH) as c:  # another key has its own allowance: the default 2
        assert [c.get("/api/v1/models").status_code for _ in range(3)] == [200, 200, 429]
    with server.client(headers=bearer(key)) as c:  # OpenAI's shape says the same
        r = c.post("/v1/images/generations", json={"prompt": "x"})
        assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
    with server.client(headers=ADMIN) as c:  # raising the limit takes effect at once
        r = c.patch(f"/api/v1/keys/{record['id']}", json={"rate_limit": 0})
        assert r.status_code == 200 and r.json()["effective_rate_limit"] == 0
    with server.client(headers=bearer(key)) as c:
        assert c.get("/api/v1/images").status_code == 200


def estimate(body: dict) -> float:
    spec = build_catalog({}, 4).resolve(body["model"])
    params = validate_request(spec, ImageRequest(**body))
    return spec.estimate_neurons(params.price_inputs())


def test_a_daily_neuron_budget_refuses_before_any_upstream_call(app_server, emulator):
    cost = estimate(SCHNELL)
    key, record = made(app_server, daily_neurons=round(cost * 1.5, 3))
    with app_server.client(headers=bearer(key)) as c:
        first = c.post("/api/v1/images", json=SCHNELL)
        assert first.status_code == 200, first.text
        calls = len(image_calls(emulator))
        second = c.post("/api/v1/images", json=SCHNELL)
    assert second.status_code == 429
    error = second.json()["error"]
    assert error["type"] == "key_budget_exhausted" and "00:00 UTC" in error["message"]
    assert 0 < int(second.headers["Retry-After"]) <= 86_400
    assert len(image_calls(emulator)) == calls  # refused before Cloudflare was asked
    used = listing(app_server)[record["id"]]["neurons_used_today"]
    assert used == pytest.approx(first.json()["neurons"], abs=0.01) and used > 0
    with app_server.client(headers=ADMIN) as c:  # admins raise it; the key works again
        c.patch(f"/api/v1/keys/{record['id']}", json={"daily_neurons": cost * 10})
    with app_server.client(headers=bearer(key)) as c:
        assert c.post("/api/v1/images", json=SCHNELL).status_code == 200


def test_replicas_share_rate_limits_and_budgets_through_redis(start_app, emulator):
    tag = uuid.uuid4().hex[:10]
    env = {"REDIS_URL": require_redis(), "REDIS_PREFIX": f"flux-test-{tag}:"}
    a = start_app(**env)
    b = start_app(**env)  # the same data directory: one SQLite file, one pepper
    key, _ = made(a, rate_limit=4)
    time.sleep(MISS_REFRESH_SECONDS + 0.05)  # B may have read the key list just before
    statuses = []
    for server in (a, b, a, b, b):
        with server.client(headers=bearer(key)) as c:
            statuses.append(c.get("/api/v1/images").status_code)
    assert statuses == [200, 200, 200, 200, 429]


@pytest.mark.parametrize(
    ("tat", "now", "per_minute", "allowed", "wait"),
    [
        (None, 100.0, 2, True, 0.0),  # first request
        (130.0, 100.0, 2, True, 0.0),  # second of a burst of 2
        (160.0, 100.0, 2, False, 30.0),  # third: one every 30 s from now on
        (160.0, 130.0, 2, True, 0.0),  # ...which has passed
        (50.0, 100.0, 2, True, 0.0),  # a long pause refills the burst
        (100.5, 100.0, 120, True, 0.0),
        (159.5, 100.0, 120, True, 0.0),  # the 120th request of a minute
        (160.0, 100.0, 120, False, 0.5),  # the 121st
    ],
)
def test_gcra_table(tat, now, per_minute, allowed, wait):
    new_tat, waited = gcra(tat, now, per_minute)
    assert (waited == 0) is allowed
    assert waited == pytest.approx(wait)
    if allowed:
        assert new_tat == pytest.approx(max(tat or now, now) + 60 / per_minute)
