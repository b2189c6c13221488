"""The pool through the real app over HTTP: `/api/v1/accounts`, the ledger, token checks,
persistence across restarts, and the `flux-remix accounts` command."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from flux_remix.settings import ENV_NAMES
from tests.api_helpers import image_calls
from tests.conftest import ACCOUNT_IDS, ACCOUNTS, ADMIN, AUTH, SECRETS, account_list

SCHNELL = "@cf/black-forest-labs/flux-1-schnell"
PHOENIX = "@cf/leonardo/phoenix-1.0"


def generate(server, model: str = "DS-8-CF", **fields):
    with server.client(headers=AUTH) as c:
        return c.post("/api/v1/images", json={"prompt": "a cat", "model": model, **fields})


def accounts(server) -> dict[str, dict]:
    with server.client(headers=ADMIN) as c:
        r = c.get("/api/v1/accounts")
    assert r.status_code == 200, r.text
    return {a["label"]: a for a in r.json()["accounts"]}


def test_accounts_route_needs_the_admin_key_and_shows_no_secret(app_server, emulator):
    assert generate(app_server).status_code == 200
    with app_server.client() as c:
        assert c.get("/api/v1/accounts").status_code == 401
        assert c.get("/api/v1/accounts", headers=AUTH).status_code == 403
        r = c.get("/api/v1/accounts", headers=ADMIN)
    assert r.status_code == 200
    body = r.json()
    assert body["usable"] == 3
    assert [a["label"] for a in body["accounts"]] == ["cf-1", "cf-2", "cf-3"]
    assert set(body["accounts"][0]) == {
        "label",
        "state",
        "reason",
        "available_at",
        "neurons_used_today",
        "neurons_left_today",
        "daily_neurons",
        "successes_today",
        "failures_today",
    }
    assert sum(a["successes_today"] for a in body["accounts"]) == 1
    for secret in SECRETS:
        assert secret not in r.text


def test_ledger_counts_the_neurons_header_else_the_price_formula(app_server, emulator):
    for _ in range(3):
        assert generate(app_server, model=SCHNELL).status_code == 200
    billed = emulator.state.ledger_snapshot()["used"]
    ours = accounts(app_server)
    for i, account_id in enumerate(ACCOUNT_IDS, start=1):  # what cf-ai-neurons said
        assert ours[f"cf-{i}"]["neurons_used_today"] == pytest.approx(billed[account_id])
        assert ours[f"cf-{i}"]["neurons_left_today"] == pytest.approx(10_000 - billed[account_id])
    assert sum(a["successes_today"] for a in ours.values()) == 3
    assert len({c.account_id for c in image_calls(emulator)}) == 3  # spread over accounts

    r = generate(app_server, model=PHOENIX)  # Phoenix sends no cf-ai-neurons header
    assert r.status_code == 200, r.text
    estimate = r.json()["images"][0]["neurons"]
    assert estimate > 0
    after = accounts(app_server)
    spent = sum(after[k]["neurons_used_today"] - ours[k]["neurons_used_today"] for k in ours)
    assert spent == pytest.approx(estimate, abs=0.01)


def test_exhaustion_and_the_ledger_survive_a_restart(start_app, emulator):
    first = start_app()
    emulator.state.set_used(ACCOUNT_IDS[0], 10_000)
    for _ in range(3):
        assert generate(first, model=SCHNELL).status_code == 200
    before = accounts(first)
    assert before["cf-1"]["state"] == "exhausted"
    first.__exit__(None, None, None)
    emulator.state.clear_calls()

    second = start_app()  # the same data directory
    after = accounts(second)
    for label in ("cf-1", "cf-2", "cf-3"):
        for field in ("state", "neurons_used_today", "successes_today", "failures_today"):
            assert after[label][field] == before[label][field]
    for _ in range(3):
        assert generate(second, model=SCHNELL).status_code == 200
    assert ACCOUNT_IDS[0] not in {c.account_id for c in image_calls(emulator)}


def test_bad_tokens_are_found_at_start_up(start_app, emulator, caplog):
    tokens = dict(ACCOUNTS)
    tokens[ACCOUNT_IDS[1]] = "tok-WRONG-0000000000000000000000000000"
    with caplog.at_level(logging.INFO):
        server = start_app(CF_ACCOUNT_LIST=account_list(tokens=tokens))
        states = accounts(server)
    assert states["cf-2"]["state"] == "disabled"
    assert "token refused" in states["cf-2"]["reason"]
    assert states["cf-1"]["state"] == states["cf-3"]["state"] == "healthy"
    assert "account cf-2: Cloudflare refused its token" in caplog.text
    for _ in range(4):
        assert generate(server).status_code == 200
    assert ACCOUNT_IDS[1] not in {c.account_id for c in image_calls(emulator)}
    for secret in [*SECRETS, tokens[ACCOUNT_IDS[1]]]:
        assert secret not in caplog.text


def test_every_account_exhausted_is_429_saying_when_capacity_returns(app_server, emulator):
    for account_id in ACCOUNT_IDS:
        emulator.state.set_used(account_id, 10_000)
    r = generate(app_server)
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= 24 * 3600
    message = r.json()["error"]["message"]
    assert "daily free neurons" in message and "00:00:00 UTC" in message
    states = accounts(app_server)
    assert {a["state"] for a in states.values()} == {"exhausted"}
    assert {a["neurons_left_today"] for a in states.values()} == {0}
    assert all(a["available_at"].endswith("T00:00:00Z") for a in states.values())


def cli_env(emulator, tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env.update(
        CF_ACCOUNT_LIST=account_list(),
        CF_API_BASE=emulator.base_url,
        FLUX_REMIX_DATA_DIR=str(tmp_path / "data"),
    )
    env.update(extra)
    return env


def test_cli_accounts_lists_health_by_label(emulator, tmp_path):
    tokens = dict(ACCOUNTS)
    tokens[ACCOUNT_IDS[2]] = "tok-WRONG-1111111111111111111111111111"
    env = cli_env(emulator, tmp_path, CF_ACCOUNT_LIST=account_list(tokens=tokens))
    cmd = [sys.executable, "-m", "flux_remix.cli", "accounts"]
    done = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = {a["label"]: a for a in json.loads(done.stdout)["accounts"]}
    assert rows["cf-1"]["state"] == "healthy"
    assert rows["cf-1"]["neurons_left_today"] == 10_000
    assert rows["cf-3"]["state"] == "disabled"
    table = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    assert "cf-3" in table.stdout and "disabled" in table.stdout
    assert "10,000.0" in table.stdout
    assert "account cf-3: Cloudflare refused its token" in table.stderr
    for secret in [*SECRETS, tokens[ACCOUNT_IDS[2]]]:
        assert secret not in done.stdout + done.stderr + table.stdout + table.stderr
