"""The daily neuron ledger: cap, refusal envelope, 3036 variant, reset at 00:00 UTC."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from flux_remix.emulator.ledger import NeuronLedger

from .helpers import ACCOUNT, OTHER_ACCOUNT, TOKEN, Emu, ManualClock, multipart, start_emulator

SCHNELL = "@cf/black-forest-labs/flux-1-schnell"
QUOTA_4006 = re.compile(
    r"AiError: AiError: you have used up your daily free allocation of 10,000 neurons, please "
    r"upgrade to Cloudflare's Workers Paid plan if you would like to continue usage\. "
    r"\([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\)"
)


def test_ledger_unit_rolls_over_at_midnight_utc() -> None:
    clock = ManualClock(datetime(2026, 10, 12, 23, 59, tzinfo=UTC))
    ledger = NeuronLedger(100, clock)
    ledger.charge("a", 60)
    ledger.charge("a", 50)
    assert ledger.used("a") == 110 and ledger.exhausted("a")
    assert ledger.resets_at() == datetime(2026, 10, 13, tzinfo=UTC)
    clock.advance(minutes=1)
    assert ledger.used("a") == 0 and not ledger.exhausted("a")


def test_ledger_uses_utc_not_local_time() -> None:
    tokyo = datetime(2026, 10, 12, 23, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=9)))
    clock = ManualClock(tokyo)  # 08:30 on the 13th in UTC+9, still the 12th in UTC
    ledger = NeuronLedger(100, clock)
    assert ledger.today().isoformat() == "2026-10-12"


def test_call_under_cap_is_allowed_then_refused(emu: Emu) -> None:
    emu.server.state.set_used(ACCOUNT, 9_990)
    first = emu.run(SCHNELL, json={"prompt": "a cat"})
    assert first.status_code == 200  # started under the cap: allowed and billed in full
    assert emu.server.state.used(ACCOUNT) == pytest.approx(9_990 + 172.8)

    refused = emu.run(SCHNELL, json={"prompt": "a cat"})
    assert refused.status_code == 429
    body = refused.json()
    assert body["success"] is False and body["result"] == {} and body["messages"] == []
    [error] = body["errors"]
    assert error["code"] == 4006
    assert QUOTA_4006.fullmatch(error["message"])
    assert list(body) == ["errors", "success", "result", "messages"]
    assert emu.server.state.used(ACCOUNT) == pytest.approx(9_990 + 172.8)  # refusals are free


def test_refusal_when_exactly_at_cap(emu: Emu) -> None:
    emu.server.state.set_used(ACCOUNT, 10_000)
    assert emu.run(SCHNELL, json={"prompt": "a"}).status_code == 429


def test_quota_is_checked_before_validation(emu: Emu) -> None:
    emu.server.state.set_used(ACCOUNT, 10_000)
    assert emu.run(SCHNELL, json={"prompt": "a", "width": 1}).status_code == 429


def test_accounts_have_separate_allocations(emu: Emu) -> None:
    emu.server.state.set_used(ACCOUNT, 10_000)
    other = httpx.post(
        f"{emu.server.base_url}/accounts/{OTHER_ACCOUNT}/ai/run/{SCHNELL}",
        json={"prompt": "a"},
        headers={"Authorization": "Bearer demo-token-2"},
    )
    assert other.status_code == 200


def test_free_models_still_refused_when_exhausted(emu: Emu) -> None:
    emu.server.state.set_used(ACCOUNT, 10_000)
    response = emu.run("@cf/black-forest-labs/flux-2-klein-4b", files=multipart({"prompt": "a"}))
    assert response.status_code == 429


def test_reset_at_midnight_utc(emu: Emu) -> None:
    emu.clock.now = datetime(2026, 10, 12, 23, 59, 30, tzinfo=UTC)
    emu.server.state.set_used(ACCOUNT, 10_000)
    assert emu.run(SCHNELL, json={"prompt": "a"}).status_code == 429
    emu.clock.advance(seconds=30)
    assert emu.run(SCHNELL, json={"prompt": "a"}).status_code == 200
    assert emu.server.state.used(ACCOUNT) == pytest.approx(172.8)


def test_admin_ledger_endpoints(emu: Emu) -> None:
    set_response = emu.admin("POST", "ledger", json={"account_id": ACCOUNT, "used": 9_999.5})
    assert set_response.status_code == 200
    snapshot = emu.admin("GET", "ledger").json()
    assert snapshot == {
        "day": "2026-10-12",
        "daily_neurons": 10_000.0,
        "resets_at": "2026-10-13T00:00:00+00:00",
        "used": {ACCOUNT: 9_999.5, OTHER_ACCOUNT: 0.0},
    }
    assert emu.admin("POST", "ledger", json={"account_id": "nope", "used": 1}).status_code == 404
    assert emu.admin("POST", "ledger", json={"account_id": ACCOUNT}).status_code == 422


@pytest.fixture(scope="module")
def emu_3036() -> Iterator[httpx.Client]:
    server, _ = start_emulator(quota_code=3036, daily_neurons=100)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        yield client
    server.stop()


def test_quota_code_3036_variant_and_custom_cap(emu_3036: httpx.Client) -> None:
    url = f"/accounts/{ACCOUNT}/ai/run/{SCHNELL}"
    assert emu_3036.post(url, json={"prompt": "a"}).status_code == 200  # 0 < 100: allowed
    refused = emu_3036.post(url, json={"prompt": "a"})
    assert refused.status_code == 429
    [error] = refused.json()["errors"]
    assert error["code"] == 3036
    assert "daily free allocation of 10,000 neurons" in error["message"]
