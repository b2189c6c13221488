from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from flux_remix import errors as e
from flux_remix.accounts import AccountPool
from flux_remix.settings import Account


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def accounts(n: int) -> list[Account]:
    return [
        Account(label=f"a{i}", account_id=SecretStr(f"id{i}"), token=SecretStr(f"t{i}"))
        for i in range(n)
    ]


async def test_fails_over_on_quota_and_skips_the_exhausted_account_until_midnight():
    clock = Clock()
    pool = AccountPool(accounts(2), clock=clock)
    seen: list[str] = []

    async def call(a: Account) -> str:
        seen.append(a.label)
        if a.label == "a0":
            raise e.QuotaExhaustedError("used up", code=4006)
        return "ok"

    for _ in range(4):
        result, used = await pool.run(call, deadline=5)
        assert result == "ok" and used.label == "a1"
    assert seen.count("a0") == 1  # never asked again once known exhausted
    assert pool.status()[0].state == "exhausted"
    clock.now += timedelta(hours=12)  # past 00:00 UTC
    assert pool.status()[0].state == "healthy"


async def test_request_errors_are_not_retried():
    pool = AccountPool(accounts(3))
    calls = 0

    async def call(a: Account) -> str:
        nonlocal calls
        calls += 1
        raise e.ContentFlaggedError("flagged", code=3030)

    with pytest.raises(e.ContentFlaggedError):
        await pool.run(call, deadline=5)
    assert calls == 1


async def test_server_errors_retry_once_then_fail_over():
    pool = AccountPool(accounts(2))
    seen: list[str] = []

    async def call(a: Account) -> str:
        seen.append(a.label)
        if len(seen) < 3:
            raise e.UpstreamServerError("boom", status=500)
        return "ok"

    result, _ = await pool.run(call, deadline=10)
    assert result == "ok"
    assert seen[0] == seen[1] != seen[2]


async def test_all_exhausted_is_no_capacity_with_retry_after():
    clock = Clock()
    pool = AccountPool(accounts(2), clock=clock)

    async def call(a: Account) -> str:
        raise e.QuotaExhaustedError("used up", code=4006)

    with pytest.raises(e.NoCapacityError) as info:
        await pool.run(call, deadline=5)
    assert info.value.exhausted
    assert info.value.retry_after == pytest.approx(12 * 3600)
    with pytest.raises(e.NoCapacityError, match="daily free neurons"):
        await pool.run(call, deadline=5)


async def test_capacity_cools_down_and_auth_disables():
    clock = Clock()
    pool = AccountPool(accounts(2), clock=clock)

    async def call(a: Account) -> str:
        if a.label == "a0":
            raise e.CapacityError("busy", code=3040, retry_after=30)
        raise e.AccountAuthError("Authentication error", code=10000)

    with pytest.raises(e.NoCapacityError) as info:
        await pool.run(call, deadline=5)
    assert not info.value.exhausted
    assert info.value.retry_after == pytest.approx(30)
    states = {s.label: s.state for s in pool.status()}
    assert states == {"a0": "cooling_down", "a1": "disabled"}


def test_neurons_are_counted_per_utc_day():
    clock = Clock()
    pool = AccountPool(accounts(1), clock=clock)
    pool.charge(pool.accounts[0], 100)
    pool.charge(pool.accounts[0], 72.8)
    assert pool.status()[0].neurons_today == 172.8
    clock.now += timedelta(days=1)
    assert pool.status()[0].neurons_today == 0
