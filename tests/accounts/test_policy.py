"""`classify(error)` and `backoff()`: every error class of the contract, as tables."""

from datetime import UTC, datetime

import pytest

from flux_remix import errors as e
from flux_remix.accounts.policy import (
    BREAKER_BASE,
    BREAKER_CAP,
    COOLDOWN_CAP,
    RETRY_AFTER_CAP,
    Action,
    backoff,
    classify,
    next_utc_midnight,
    utc_day,
)


@pytest.mark.parametrize(
    ("error", "attempt", "action"),
    [
        # daily quota: exhausted until 00:00 UTC, whichever code or message it came with
        (e.QuotaExhaustedError("daily free allocation", status=429, code=4006), 0, Action.EXHAUST),
        (e.QuotaExhaustedError("daily free allocation", status=429, code=3036), 1, Action.EXHAUST),
        # capacity, per-minute limit, plain 429: cooldown
        (e.CapacityError("Capacity temporarily exceeded", status=429, code=3040), 0, "cool"),
        (e.RateLimitedError("per min rate reached", status=429, code=3021), 3, "cool"),
        (e.RateLimitedError("Too Many Requests", status=429), 0, "cool"),
        # the token is refused: disabled with the reason
        (e.AccountAuthError("Authentication error", status=401, code=10000), 0, Action.DISABLE),
        (e.AccountAuthError("Could not route", status=404, code=7003), 0, Action.DISABLE),
        (e.AccountAuthError("Forbidden", status=403), 0, Action.DISABLE),
        # model needs Workers Paid on this account: another account may have it
        (e.PaidPlanRequiredError("upgrade", status=403, code=5035), 0, Action.FAILOVER),
        # the request's own fault: no retry, clear 4xx
        (e.UpstreamBadInputError("Bad input", status=400, code=5006), 0, Action.FAIL),
        (e.ContentFlaggedError("flagged", status=400, code=3030), 0, Action.FAIL),
        (e.UpstreamModelGoneError("No such model", status=400, code=5007), 0, Action.FAIL),
        # transient: retry once on the same account, then fail over
        (e.UpstreamServerError("Internal", status=500, code=3043), 0, Action.RETRY),
        (e.UpstreamServerError("Bad Gateway", status=502), 1, Action.FAILOVER),
        (e.UpstreamTimeoutError("Request timeout", status=408, code=3007), 0, Action.RETRY),
        (e.UpstreamTimeoutError("our own timeout"), 1, Action.FAILOVER),
        (e.UpstreamConnectionError("refused"), 0, Action.RETRY),
        (e.UpstreamConnectionError("refused"), 1, Action.FAILOVER),
        (e.MalformedResponseError("truncated"), 0, Action.RETRY),
        (e.MalformedResponseError("truncated"), 1, Action.FAILOVER),
    ],
)
def test_classify(error, attempt, action):
    decision = classify(error, attempt, rand=lambda: 0.5)
    if action == "cool":
        assert decision.action is Action.COOLDOWN
        assert decision.delay > 0
    else:
        assert decision.action is action
    assert decision.reason


def test_disable_says_why():
    decision = classify(e.AccountAuthError("Authentication error", code=10000))
    assert decision.reason == "token refused by Cloudflare: Authentication error"


@pytest.mark.parametrize(
    ("retry_after", "streak", "low", "high"),
    [
        (9.0, 0, 9.0, 9.0),  # Retry-After wins, whatever the streak
        (9.0, 5, 9.0, 9.0),
        (0.0, 0, 0.0, 0.0),
        (10_000.0, 0, RETRY_AFTER_CAP, RETRY_AFTER_CAP),  # but an absurd one is capped
        (None, 0, 0.75, 1.0),  # else 1 s, doubling per failure in a row, jittered, capped
        (None, 1, 1.5, 2.0),
        (None, 3, 6.0, 8.0),
        (None, 20, 0.75 * COOLDOWN_CAP, COOLDOWN_CAP),
    ],
)
def test_cooldown_length(retry_after, streak, low, high):
    for r in (0.0, 0.5, 0.999):
        d = classify(
            e.CapacityError("c", retry_after=retry_after), streak=streak, rand=lambda r=r: r
        )
        assert low <= d.delay <= high


@pytest.mark.parametrize(
    ("attempt", "retry_after", "low", "high"),
    [
        (0, None, 0.375, 0.5),
        (1, None, 0.75, 1.0),
        (3, None, 3.0, 4.0),
        (10, None, 6.0, 8.0),
        (10_000, None, 6.0, 8.0),
        (-1, None, 0.375, 0.5),
        (0, 2.5, 2.5, 2.5),
        (0, 10_000, 300, 300),
    ],
)
def test_backoff(attempt, retry_after, low, high):
    for r in (0.0, 0.5, 0.999):
        assert low <= backoff(attempt, retry_after, rand=lambda r=r: r) <= high


def test_backoff_jitter_spreads_retries():
    assert len({backoff(2) for _ in range(50)}) > 10


@pytest.mark.parametrize(
    ("now", "midnight"),
    [
        (datetime(2026, 11, 24, 23, 59, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC)),
        (datetime(2026, 11, 24, 0, 0, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC)),
        (datetime(2026, 12, 31, 12, 0, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2028, 2, 28, 18, 0, tzinfo=UTC), datetime(2028, 2, 29, tzinfo=UTC)),
    ],
)
def test_next_utc_midnight(now, midnight):
    assert next_utc_midnight(now) == midnight


def test_utc_day_uses_utc_whatever_the_zone():
    from datetime import timedelta, timezone

    beijing = timezone(timedelta(hours=8))
    assert utc_day(datetime(2026, 11, 25, 7, 0, tzinfo=beijing)) == "2026-11-24"
    assert next_utc_midnight(datetime(2026, 11, 25, 7, 0, tzinfo=beijing)) == datetime(
        2026, 11, 25, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("streak", "attempt", "trip_after", "action", "low", "high"),
    [
        (0, 0, 3, Action.RETRY, 0.0, 1.0),  # first failures: retried, then failed over
        (1, 0, 3, Action.RETRY, 0.0, 1.0),
        (1, 1, 3, Action.FAILOVER, 0.0, 0.0),
        (2, 0, 3, Action.COOLDOWN, 0.75 * BREAKER_BASE, BREAKER_BASE),  # third in a row: rests
        (3, 0, 3, Action.COOLDOWN, 1.5 * BREAKER_BASE, 2 * BREAKER_BASE),  # probed, failed again
        (40, 0, 3, Action.COOLDOWN, 0.75 * BREAKER_CAP, BREAKER_CAP),
        (0, 0, 1, Action.COOLDOWN, 0.75 * BREAKER_BASE, BREAKER_BASE),  # trips at once
    ],
)
def test_the_circuit_breaker_table(streak, attempt, trip_after, action, low, high):
    for error in (e.UpstreamServerError("500", status=500), e.UpstreamTimeoutError("408")):
        decision = classify(error, attempt, streak=streak, trip_after=trip_after, rand=lambda: 0.5)
        assert decision.action is action
        assert decision.tripped == (action is Action.COOLDOWN)
        if action is Action.COOLDOWN:
            assert low <= decision.delay <= high
            assert decision.reason.startswith(f"circuit open after {streak + 1} failures in a row")
    # the request's own errors never trip it, however long the streak
    bad = classify(e.UpstreamBadInputError("Bad input", status=400), 0, streak=99)
    assert bad.action is Action.FAIL
