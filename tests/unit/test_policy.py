from datetime import UTC, datetime

import pytest

from flux_remix import errors as e
from flux_remix.accounts.policy import Action, backoff, classify, next_utc_midnight


@pytest.mark.parametrize(
    ("error", "attempt", "action"),
    [
        (e.QuotaExhaustedError("q", code=4006), 0, Action.EXHAUST),
        (e.CapacityError("c", code=3040), 0, Action.COOLDOWN),
        (e.RateLimitedError("r", code=3021), 3, Action.COOLDOWN),
        (e.AccountAuthError("a", code=10000), 0, Action.DISABLE),
        (e.PaidPlanRequiredError("p", code=5035), 0, Action.FAILOVER),
        (e.UpstreamBadInputError("b", code=5006), 0, Action.FAIL),
        (e.ContentFlaggedError("f", code=3030), 0, Action.FAIL),
        (e.UpstreamModelGoneError("m", code=5007), 0, Action.FAIL),
        (e.UpstreamServerError("s", status=500), 0, Action.RETRY),
        (e.UpstreamServerError("s", status=502), 1, Action.FAILOVER),
        (e.UpstreamTimeoutError("t"), 0, Action.RETRY),
        (e.UpstreamConnectionError("c"), 1, Action.FAILOVER),
        (e.MalformedResponseError("m"), 0, Action.RETRY),
    ],
)
def test_classify(error, attempt, action):
    assert classify(error, attempt).action is action


def test_cooldown_honours_retry_after():
    assert classify(e.CapacityError("c", retry_after=9), 0).cooldown == 9


@pytest.mark.parametrize(
    ("attempt", "retry_after", "low", "high"),
    [
        (0, None, 0.375, 0.5),
        (1, None, 0.75, 1.0),
        (3, None, 3.0, 4.0),
        (10, None, 6.0, 8.0),
        (0, 2.5, 2.5, 2.5),
        (0, 10_000, 300, 300),
    ],
)
def test_backoff(attempt, retry_after, low, high):
    for r in (0.0, 0.5, 0.999):
        assert low <= backoff(attempt, retry_after, rand=lambda r=r: r) <= high


def test_next_utc_midnight():
    assert next_utc_midnight(datetime(2026, 11, 24, 23, 59, tzinfo=UTC)) == datetime(
        2026, 11, 25, tzinfo=UTC
    )
