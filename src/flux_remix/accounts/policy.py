"""Retry and failover decisions as pure functions (contract section 5.3)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from flux_remix import errors as e

BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
RETRY_AFTER_CAP = 300.0


class Action(Enum):
    FAIL = "fail"  # the request itself is at fault: no retry, clear 4xx to the caller
    EXHAUST = "exhaust"  # daily quota used: skip the account until the next 00:00 UTC
    COOLDOWN = "cooldown"  # capacity / rate limit: skip the account for `cooldown` seconds
    DISABLE = "disable"  # the token is refused: skip the account until restart
    RETRY = "retry"  # transient: try the same account once more, then fail over
    FAILOVER = "failover"  # try the next account, leave this one as it is


@dataclass(frozen=True)
class Decision:
    action: Action
    cooldown: float = 0.0
    reason: str = ""


def backoff(
    attempt: int,
    retry_after: float | None = None,
    *,
    base: float = BACKOFF_BASE,
    cap: float = BACKOFF_CAP,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait: `Retry-After` when given (capped), else base * 2^attempt with jitter."""
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, RETRY_AFTER_CAP)
    delay: float = min(cap, base * float(2 ** max(0, attempt)))
    return delay * (0.75 + 0.25 * rand())


def classify(error: e.UpstreamError, attempt: int = 0) -> Decision:
    """What to do with an account after `error` on its `attempt`-th try (0-based)."""
    if isinstance(error, e.QuotaExhaustedError):
        return Decision(Action.EXHAUST, reason="daily free neurons used up")
    if isinstance(error, e.CapacityError | e.RateLimitedError):
        return Decision(Action.COOLDOWN, backoff(attempt, error.retry_after), error.kind)
    if isinstance(error, e.AccountAuthError):
        return Decision(Action.DISABLE, reason=f"token refused by Cloudflare: {error.message}")
    if isinstance(error, e.PaidPlanRequiredError):
        return Decision(Action.FAILOVER, reason=error.message)
    if isinstance(
        error,
        e.UpstreamBadInputError | e.ContentFlaggedError | e.UpstreamModelGoneError,
    ):
        return Decision(Action.FAIL, reason=error.message)
    # timeouts, 5xx, connection errors, malformed bodies: once more, then the next account
    if attempt == 0:
        return Decision(Action.RETRY, backoff(0), error.kind)
    return Decision(Action.FAILOVER, reason=error.kind)


def next_utc_midnight(now: datetime) -> datetime:
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
