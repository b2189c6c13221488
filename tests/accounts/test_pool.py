"""`AccountPool.run()`: selection, failover, cooldowns, the ledger and the 00:00 UTC reset.

The upstream call is a scripted coroutine and the clock and sleep are controlled, so nothing
here waits for real; tests/accounts/test_accounts_api.py drives the same pool over HTTP.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from flux_remix import errors as e
from flux_remix.accounts import AccountPool, AccountState
from flux_remix.settings import Account
from tests.accounts.conftest import Clock, make_accounts


class Script:
    """A fake upstream: per-label list of outcomes (an exception or neurons billed)."""

    def __init__(self, **plans: list[BaseException | float | None]) -> None:
        self.plans = {label: list(plan) for label, plan in plans.items()}
        self.calls: list[str] = []

    async def __call__(self, account: Account) -> float | None:
        self.calls.append(account.label)
        plan = self.plans.get(account.label, [])
        outcome = plan.pop(0) if len(plan) > 1 else (plan[0] if plan else 10.0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def quota() -> e.QuotaExhaustedError:
    return e.QuotaExhaustedError("daily free allocation used up", status=429, code=4006)


@pytest.fixture
async def pool_of(backend: AccountState, clock: Clock) -> AsyncIterator:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds=seconds)

    def make(n: int, **kw) -> AccountPool:
        pool = AccountPool(make_accounts(n), state=backend, clock=clock, sleep=sleep, **kw)
        pool.sleeps = sleeps
        return pool

    yield make


async def run(pool: AccountPool, script: Script, *, cost: float = 0.0, deadline: float = 10):
    result, account = await pool.run(
        script, deadline=deadline, cost=cost, neurons=lambda billed: billed
    )
    return result, account.label


async def states(pool: AccountPool) -> dict[str, str]:
    return {s.label: s.state for s in await pool.status()}


async def test_quota_fails_over_and_the_account_is_skipped_until_midnight(pool_of, clock):
    pool = pool_of(2)
    script = Script(a0=[quota()], a1=[172.8])
    for _ in range(4):
        assert await run(pool, script) == (172.8, "a1")
    assert script.calls.count("a0") == 1  # never asked again once known exhausted
    status = {s.label: s for s in await pool.status()}
    assert status["a0"].state == "exhausted"
    assert status["a0"].available_at == datetime(2026, 11, 25, tzinfo=UTC)
    assert status["a0"].neurons_left == 0
    assert status["a1"].neurons_used == pytest.approx(4 * 172.8)
    assert status["a1"].neurons_left == pytest.approx(10_000 - 4 * 172.8)
    clock.advance(hours=12)  # 00:00 UTC: quota back, ledger empty
    assert await states(pool) == {"a0": "healthy", "a1": "healthy"}
    assert [s.neurons_used for s in await pool.status()] == [0, 0]


async def test_the_midnight_reset_follows_the_clock(pool_of, clock):
    clock.now = datetime(2026, 11, 24, 23, 59, 50, tzinfo=UTC)
    pool = pool_of(2)
    script = Script(a0=[9_990.0], a1=[quota()])
    assert await run(pool, script, cost=172.8) == (9_990.0, "a0")
    # a0 cannot afford another image today; a1's quota is gone: a0 is all that is left
    assert await run(pool, script, cost=172.8) == (9_990.0, "a0")
    assert script.calls == ["a0", "a1", "a0"]
    clock.now = datetime(2026, 11, 24, 23, 59, 59, 999_000, tzinfo=UTC)
    assert (await states(pool))["a1"] == "exhausted"
    clock.now = datetime(2026, 11, 25, 0, 0, 0, tzinfo=UTC)
    status = await pool.status()
    assert [(s.state, s.neurons_used, s.successes, s.failures) for s in status] == [
        ("healthy", 0, 0, 0),
        ("healthy", 0, 0, 0),
    ]
    script.plans = {"a0": [50.0], "a1": [50.0]}
    assert {(await run(pool, script, cost=50))[1] for _ in range(2)} == {"a0", "a1"}


async def test_request_errors_are_not_retried_and_not_held_against_the_account(pool_of):
    pool = pool_of(3)
    script = Script(a0=[e.ContentFlaggedError("flagged", status=400, code=3030)])
    with pytest.raises(e.ContentFlaggedError):
        await run(pool, script)
    assert script.calls == ["a0"]
    first = (await pool.status())[0]
    assert (first.state, first.failures) == ("healthy", 0)


async def test_server_errors_retry_once_then_fail_over(pool_of):
    pool = pool_of(2)
    boom = e.UpstreamServerError("boom", status=500)
    script = Script(a0=[boom, boom], a1=[5.0])
    assert await run(pool, script) == (5.0, "a1")
    assert script.calls == ["a0", "a0", "a1"]
    assert len(pool.sleeps) == 1 and 0.375 <= pool.sleeps[0] <= 0.5
    assert [(s.state, s.failures) for s in await pool.status()] == [
        ("healthy", 2),
        ("healthy", 0),
    ]


async def test_when_every_account_fails_the_last_error_is_raised(pool_of):
    pool = pool_of(3)
    down = e.UpstreamConnectionError("refused")
    script = Script(a0=[down], a1=[down], a2=[down])
    with pytest.raises(e.UpstreamConnectionError):
        await run(pool, script)
    assert Counter(script.calls) == {"a0": 2, "a1": 2, "a2": 2}


async def test_all_exhausted_is_no_capacity_until_midnight_without_more_calls(pool_of):
    pool = pool_of(2)
    script = Script(a0=[quota()], a1=[quota()])
    with pytest.raises(e.NoCapacityError) as info:
        await run(pool, script)
    assert info.value.exhausted
    assert info.value.retry_after == pytest.approx(12 * 3600)
    assert len(script.calls) == 2
    with pytest.raises(e.NoCapacityError, match="daily free neurons"):
        await run(pool, script)
    assert len(script.calls) == 2


async def test_capacity_cools_down_and_a_refused_token_disables(pool_of):
    pool = pool_of(2)
    script = Script(
        a0=[e.CapacityError("busy", status=429, code=3040, retry_after=30)],
        a1=[e.AccountAuthError("Authentication error", status=401, code=10000)],
    )
    with pytest.raises(e.NoCapacityError) as info:
        await run(pool, script)
    assert not info.value.exhausted
    assert info.value.retry_after == pytest.approx(30)
    status = {s.label: s for s in await pool.status()}
    assert status["a0"].state == "cooling_down"
    assert status["a1"].state == "disabled"
    assert "token refused" in (status["a1"].reason or "")


async def test_a_short_cooldown_is_waited_out_within_the_deadline(pool_of):
    pool = pool_of(1, rand=lambda: 0.0)
    script = Script(a0=[e.CapacityError("busy", status=429, code=3040), 7.0])
    assert await run(pool, script) == (7.0, "a0")
    assert script.calls == ["a0", "a0"]
    assert pool.sleeps and pool.sleeps[0] == pytest.approx(0.75, abs=0.02)
    # errors in a row lengthen the cooldown: 0.75 s and 1.5 s are waited out, 3 s is not
    busy = e.CapacityError("busy", status=429, code=3040)
    script = Script(a0=[busy, busy, busy, 1.0])
    with pytest.raises(e.NoCapacityError) as info:
        await run(pool, script)
    assert script.calls == ["a0", "a0", "a0"]
    assert info.value.retry_after == pytest.approx(3.0, abs=0.05)


async def test_the_deadline_bounds_the_whole_request(backend, clock):
    pool = AccountPool(make_accounts(2), state=backend, clock=clock)

    async def slow(account: Account) -> float:
        await asyncio.sleep(5)
        return 1.0

    with pytest.raises(e.UpstreamTimeoutError, match=r"0\.2 s request deadline"):
        await pool.run(slow, deadline=0.2)


async def test_neurons_are_charged_from_the_result_else_the_estimate(pool_of):
    pool = pool_of(1)
    script = Script(a0=[None, 0.0, 12.5])
    for _ in range(3):
        await run(pool, script, cost=100.0)
    (status,) = await pool.status()
    assert status.neurons_used == pytest.approx(100.0 + 0.0 + 12.5)
    assert status.successes == 3
    assert pool._reserved == {"a0": 0.0}  # nothing stays promised once calls end


async def test_load_goes_to_the_account_with_the_most_neurons_left(pool_of):
    pool = pool_of(3)
    warmup = Script(a0=[3_000.0], a1=[1_000.0], a2=[2_000.0])
    for _ in range(3):
        await run(pool, warmup)
    script = Script(a0=[10.0], a1=[10.0], a2=[10.0])
    assert [(await run(pool, script))[1] for _ in range(3)] == ["a1", "a1", "a1"]


async def test_concurrent_requests_spread_over_accounts(pool_of):
    pool = pool_of(3)
    gate = asyncio.Event()
    seen: list[str] = []

    async def call(account: Account) -> float:
        seen.append(account.label)
        await gate.wait()
        return 172.8

    tasks = [asyncio.create_task(pool.run(call, deadline=10, cost=172.8)) for _ in range(30)]
    while len(seen) < 30:
        await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    assert Counter(seen) == {"a0": 10, "a1": 10, "a2": 10}
    used = [s.neurons_used for s in await pool.status()]
    assert used == pytest.approx([1728.0] * 3)


async def test_token_check_disables_refused_accounts_and_enables_fixed_ones(
    pool_of, caplog: pytest.LogCaptureFixture
):
    pool = pool_of(3)
    await pool.disable(pool.accounts[1], "token refused by Cloudflare: Authentication error")

    async def verify(account: Account) -> bool:
        if account.label == "a2":
            raise e.UpstreamConnectionError("could not reach Cloudflare to verify tokens")
        return account.label == "a1"

    with caplog.at_level(logging.INFO, logger="flux_remix.accounts"):
        answer = await pool.check_tokens(verify)
    assert answer == {"a0": False, "a1": True, "a2": None}
    assert await states(pool) == {"a0": "disabled", "a1": "healthy", "a2": "healthy"}
    text = caplog.text
    assert "account a0: Cloudflare refused its token; the account is disabled" in text
    assert "account a2: could not verify its token" in text
    assert "acct-id" not in text and "tok-" not in text
    script = Script()
    await run(pool, script)
    assert script.calls[0] != "a0"


async def test_status_never_shows_ids_or_tokens(pool_of):
    pool = pool_of(2)
    await run(pool, Script(a0=[quota()]))
    text = repr(await pool.status()) + repr([s.public() for s in await pool.status()])
    assert "acct-id" not in text and "tok-" not in text
