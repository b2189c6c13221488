"""The one test suite every account-state backend passes (memory, SQLite-backed, Redis)."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flux_remix.accounts import DayUsage, Failure, Health, MemoryState, RedisState, state_key
from flux_remix.accounts.state import AccountState
from flux_remix.redis_client import redis_from_url
from tests.accounts.conftest import TODAY, TOMORROW, drop_prefix, make_accounts
from tests.servers import require_redis

T1 = datetime(2026, 11, 25, tzinfo=UTC)
T2 = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)


async def test_unknown_accounts_read_as_healthy_and_unused(backend: AccountState):
    got = await backend.read(["k1", "k2"], TODAY)
    assert got == {"k1": (Health(), DayUsage()), "k2": (Health(), DayUsage())}


async def test_success_adds_neurons_and_resets_the_streak(backend: AccountState):
    await backend.record_failure("k1", TODAY, Failure("busy", cooldown_until=T2))
    await backend.record_failure("k1", TODAY, Failure("busy"))
    assert (await backend.read(["k1"], TODAY))["k1"][0].streak == 2
    await backend.record_success("k1", TODAY, 172.8)
    await backend.record_success("k1", TODAY, 0.0)
    health, usage = (await backend.read(["k1"], TODAY))["k1"]
    assert usage == DayUsage(neurons=pytest.approx(172.8), successes=2, failures=2)
    assert health.streak == 0
    assert health.cooldown_until == T2  # a success does not end a cooldown set meanwhile
    assert (await backend.read(["k1"], TOMORROW))["k1"][1] == DayUsage()


async def test_failure_sets_only_its_fields(backend: AccountState):
    await backend.record_failure("k1", TODAY, Failure("used up", exhausted_until=T1))
    await backend.record_failure("k1", TODAY, Failure("out of capacity", cooldown_until=T2))
    health, usage = (await backend.read(["k1"], TODAY))["k1"]
    assert health == Health(
        disabled=None,
        exhausted_until=T1,
        cooldown_until=T2,
        reason="out of capacity",
        streak=2,
    )
    assert usage.failures == 2
    other, _ = (await backend.read(["k2"], TODAY))["k2"]
    assert other == Health()


async def test_disable_and_enable_again(backend: AccountState):
    await backend.record_failure("k1", TODAY, Failure("token refused", disabled="token refused"))
    assert (await backend.read(["k1"], TODAY))["k1"][0].disabled == "token refused"
    await backend.set_disabled("k1", None)
    health = (await backend.read(["k1"], TODAY))["k1"][0]
    assert health.disabled is None and health.reason is None
    await backend.set_disabled("k2", "bad token")
    await backend.record_failure("k2", TODAY, Failure("out of capacity", cooldown_until=T2))
    await backend.set_disabled("k2", None)
    health = (await backend.read(["k2"], TODAY))["k2"][0]
    assert health.disabled is None and health.reason == "out of capacity"  # a later reason stays
    await backend.set_disabled("k3", None)  # enabling an unknown account changes nothing
    assert (await backend.read(["k3"], TODAY))["k3"][0] == Health()


async def test_concurrent_charges_lose_no_increment(backend: AccountState):
    amounts = [round(random.uniform(0, 500), 2) for _ in range(400)]
    keys = ["k1", "k2"]
    await asyncio.gather(
        *(backend.record_success(keys[i % 2], TODAY, a) for i, a in enumerate(amounts))
    )
    got = await backend.read(keys, TODAY)
    assert got["k1"][1].neurons == pytest.approx(sum(amounts[0::2]))
    assert got["k2"][1].neurons == pytest.approx(sum(amounts[1::2]))
    assert got["k1"][1].successes + got["k2"][1].successes == len(amounts)


def test_sqlite_state_survives_a_restart(tmp_path: Path):
    path = tmp_path / "accounts.sqlite3"

    async def first() -> None:
        state = MemoryState(path)
        await state.record_success("k1", TODAY, 100.5)
        await state.record_failure("k1", TODAY, Failure("used up", exhausted_until=T1))
        await state.set_disabled("k2", "token refused")
        await state.close()

    async def second() -> dict[str, tuple[Health, DayUsage]]:
        state = MemoryState(path)
        try:
            return await state.read(["k1", "k2"], TODAY)
        finally:
            await state.close()

    asyncio.run(first())
    got = asyncio.run(second())
    assert got["k1"] == (
        Health(exhausted_until=T1, reason="used up", streak=1),
        DayUsage(100.5, 1, 1),
    )
    assert got["k2"][0].disabled == "token refused"


def test_sqlite_writes_are_atomic_across_threads(tmp_path: Path):
    """Threads charging one in-process state lose nothing, in memory or on disk."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "accounts.sqlite3"
    state = MemoryState(path)

    def charge(i: int) -> None:
        asyncio.run(state.record_success(f"k{i % 3}", TODAY, 1.25))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(charge, range(300)))
    live = asyncio.run(state.read(["k0", "k1", "k2"], TODAY))
    asyncio.run(state.close())
    reopened = MemoryState(path)
    disk = asyncio.run(reopened.read(["k0", "k1", "k2"], TODAY))
    asyncio.run(reopened.close())
    for got in (live, disk):
        assert [got[k][1] for k in ("k0", "k1", "k2")] == [DayUsage(125.0, 100, 0)] * 3


async def test_two_redis_clients_share_state_and_lose_no_increment():
    """Two replicas' clients charging the same accounts at once."""
    url = require_redis()
    prefix = f"flux-remix-test:{uuid.uuid4().hex[:12]}:"
    a, b = redis_from_url(url), redis_from_url(url)
    try:
        sa, sb = RedisState(a, prefix), RedisState(b, prefix)
        writes = [(sa if i % 2 else sb).record_success("k1", TODAY, 2.5) for i in range(300)]
        await asyncio.gather(*writes)
        await sa.record_failure("k2", TODAY, Failure("used up", exhausted_until=T1))
        got = await sb.read(["k1", "k2"], TODAY)
        assert got["k1"][1] == DayUsage(750.0, 300, 0)
        assert got["k2"][0].exhausted_until == T1
    finally:
        await drop_prefix(a, prefix)
        await a.aclose()
        await b.aclose()


charges = st.lists(
    st.tuples(
        st.sampled_from(["k1", "k2", "k3"]),
        st.sampled_from([TODAY, TOMORROW]),
        st.floats(min_value=0, max_value=10_000, allow_nan=False, allow_infinity=False),
    ),
    max_size=40,
)


def check_ledger(state: AccountState, ops: list[tuple[str, str, float]]) -> None:
    """After any sequence of charges, each (account, day) line is the sum of its charges."""

    async def go() -> dict[str, dict[str, tuple[Health, DayUsage]]]:
        for key, day, amount in ops:
            await state.record_success(key, day, amount)
        return {d: await state.read(["k1", "k2", "k3"], d) for d in (TODAY, TOMORROW)}

    got = asyncio.run(go())
    for day, lines in got.items():
        for key, (_, usage) in lines.items():
            mine = [a for k, d, a in ops if (k, d) == (key, day)]
            assert usage.successes == len(mine)
            assert usage.neurons == pytest.approx(sum(mine), rel=1e-9, abs=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=charges)
def test_ledger_is_the_sum_of_its_charges_in_memory(ops):
    check_ledger(MemoryState(), ops)


@settings(max_examples=25, deadline=None)
@given(ops=charges)
def test_ledger_is_the_sum_of_its_charges_in_redis(ops):
    url = require_redis()
    prefix = f"flux-remix-test:{uuid.uuid4().hex[:12]}:"

    async def with_client() -> None:
        client = redis_from_url(url)
        try:
            state = RedisState(client, prefix)
            for key, day, amount in ops:
                await state.record_success(key, day, amount)
            for day in (TODAY, TOMORROW):
                lines = await state.read(["k1", "k2", "k3"], day)
                for key, (_, usage) in lines.items():
                    mine = [a for k, d, a in ops if (k, d) == (key, day)]
                    assert usage.successes == len(mine)
                    assert usage.neurons == pytest.approx(sum(mine), rel=1e-9, abs=1e-6)
        finally:
            await drop_prefix(client, prefix)
            await client.aclose()

    asyncio.run(with_client())


def test_state_keys_hide_the_account_id_and_token():
    account = make_accounts(1)[0]
    key = state_key(account)
    assert len(key) == 16
    assert "acct-id" not in key and "tok" not in key
    assert key == state_key(account)
