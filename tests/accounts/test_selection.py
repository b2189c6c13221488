"""`pick()` and `no_capacity()`: which account takes the next call, as tables."""

from datetime import UTC, datetime, timedelta

import pytest

from flux_remix.accounts import DayUsage, Health
from flux_remix.accounts.selection import View, no_capacity, pick, view
from tests.accounts.conftest import make_accounts

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)
MIDNIGHT = datetime(2026, 11, 25, tzinfo=UTC)
ACCOUNTS = make_accounts(4)


def views(*rows: tuple[float, Health]) -> list[View]:
    """One view per row: (neurons used today, health)."""
    return [
        view(a, f"k{i}", health, DayUsage(neurons=used), NOW, 10_000.0)
        for i, (a, (used, health)) in enumerate(zip(ACCOUNTS, rows, strict=False))
    ]


OK = Health()
COOL = Health(cooldown_until=LATER, reason="out of capacity")
GONE = Health(exhausted_until=MIDNIGHT, reason="daily free neurons used up")
OFF = Health(disabled="token refused", reason="token refused")


@pytest.mark.parametrize(
    ("rows", "kwargs", "expected"),
    [
        # the healthy account with the most neurons left today
        (((500, OK), (100, OK), (900, OK)), {}, "a1"),
        (((500, OK), (100, COOL), (900, OK)), {}, "a0"),
        (((500, OK), (100, GONE), (900, OFF)), {}, "a0"),
        # a past cooldown or exhaustion no longer counts
        (((500, OK), (100, Health(cooldown_until=NOW - timedelta(seconds=1)))), {}, "a1"),
        (((500, OK), (100, Health(exhausted_until=NOW))), {}, "a1"),
        # ties: round robin by turn
        (((0, OK), (0, OK), (0, OK)), {"turn": 0}, "a0"),
        (((0, OK), (0, OK), (0, OK)), {"turn": 1}, "a1"),
        (((0, OK), (0, OK), (0, OK)), {"turn": 5}, "a2"),
        (((0, OK), (0, COOL), (0, OK)), {"turn": 1}, "a2"),
        # neurons promised to calls in flight count as spent
        (((100, OK), (200, OK)), {"reserved": {"a0": 172.8}}, "a1"),
        # accounts that cannot afford the estimate are skipped when others can
        (((9_950, OK), (9_990, OK), (9_000, COOL)), {"cost": 172.8}, "a0"),
        (((9_900, OK), (9_990, OK), (1_000, OK)), {"cost": 172.8, "turn": 1}, "a2"),
        (((9_700, OK), (9_990, OK)), {"cost": 172.8}, "a0"),
        (((9_500, OK), (9_550, OK)), {"cost": 400.0, "reserved": {"a0": 200}}, "a1"),
        # ... but used when no account can: the estimate may be high
        (((9_950, OK), (9_990, OK)), {"cost": 172.8}, "a0"),
        (((10_500, OK), (10_000, OK)), {"cost": 1.0, "turn": 1}, "a1"),
        # accounts this request already tried are skipped
        (((0, OK), (0, OK)), {"skip": {"a0"}}, "a1"),
        (((0, OK), (0, OK)), {"skip": {"a0", "a1"}}, None),
        (((0, COOL), (0, GONE), (0, OFF)), {}, None),
    ],
)
def test_pick(rows, kwargs, expected):
    chosen = pick(views(*rows), **kwargs)
    assert (chosen.label if chosen else None) == expected


@pytest.mark.parametrize(
    ("health", "state", "left"),
    [
        (OK, "healthy", 9_000.0),
        (COOL, "cooling_down", 9_000.0),
        (GONE, "exhausted", 0.0),
        (OFF, "disabled", 9_000.0),
        (Health(disabled="x", exhausted_until=MIDNIGHT), "disabled", 9_000.0),
    ],
)
def test_view_states(health, state, left):
    v = views((1_000, health))[0]
    assert (v.state, v.left) == (state, left)
    assert v.reason == (None if state == "healthy" else health.reason)


def test_all_exhausted_says_when_quota_returns():
    err = no_capacity(views((10_000, GONE), (9_000, GONE), (0, OFF)), NOW)
    assert err.exhausted
    assert err.retry_after == pytest.approx(12 * 3600)
    assert err.available_at == MIDNIGHT
    assert "daily free neurons" in err.message
    assert "2026-11-25 00:00:00 UTC" in err.message
    assert "in about 12 h 0 min" in err.message


def test_busy_says_when_the_first_cooldown_ends():
    err = no_capacity(views((0, GONE), (0, COOL)), NOW)
    assert not err.exhausted
    assert err.retry_after == pytest.approx(30)
    assert "busy or rate limited" in err.message
    assert "in about 30 s" in err.message


def test_all_disabled_points_at_the_tokens():
    err = no_capacity(views((0, OFF), (0, OFF)), NOW)
    assert err.retry_after is None
    assert "CF_ACCOUNT_LIST" in err.message
