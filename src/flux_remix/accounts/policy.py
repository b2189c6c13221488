"""Retry and failover decisions as pure functions (contract sections 5.3 and 6).

`classify(error)` says what an upstream error means for the account that got it and for the
request; `backoff(attempt, retry_after)` says how long to wait. Neither touches state or time.

| error class                                   | action   | account                          |
|-----------------------------------------------|----------|----------------------------------|
| daily quota (4006 / 3036 / "daily free …")    | EXHAUST  | skipped until the next 00:00 UTC |
| capacity (3040), per-minute limit (3021), 429 | COOLDOWN | skipped for Retry-After or backoff |
| token refused (401 / 10000 / 7003)            | DISABLE  | skipped until its token verifies |
| model needs Workers Paid (403 / 5035)         | FAILOVER | unchanged; try the next account  |
| bad input, flagged content, unknown model     | FAIL     | unchanged; clear 4xx to the caller |
| 5xx, timeout, connection error, bad body      | RETRY once, then FAILOVER                   |
| ... the `trip_after`-th of those in a row     | COOLDOWN | circuit open: rests, growing   |

The last row is a circuit breaker per account: an account that keeps failing transiently is not
tried (twice) on every request; it rests `BREAKER_BASE` seconds, doubling with each further
failure up to `BREAKER_CAP`, and after its rest the next request probes it. A success closes it
(the streak starts over).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from flux_remix import errors as e

RETRY_BASE = 0.5  # seconds before retrying the same account after a transient error
RETRY_CAP = 8.0
COOLDOWN_BASE = 1.0  # seconds an account rests after a capacity error without Retry-After
COOLDOWN_CAP = 60.0  # ... doubling with each consecutive failure, up to this
RETRY_AFTER_CAP = 300.0  # never believe a Retry-After longer than this
BREAKER_BASE = 5.0  # seconds an account rests once its transient failures trip the breaker
BREAKER_CAP = 300.0  # ... doubling with each further failure in a row, up to this
TRIP_AFTER = 3  # transient failures in a row that trip it (FLUX_REMIX_BREAKER_FAILURES)


class Action(Enum):
    FAIL = "fail"  # the request itself is at fault: no retry, clear 4xx to the caller
    EXHAUST = "exhaust"  # daily quota used: skip the account until the next 00:00 UTC
    COOLDOWN = "cooldown"  # capacity / rate limit: skip the account for `delay` seconds
    DISABLE = "disable"  # the token is refused: skip the account until it verifies again
    RETRY = "retry"  # transient: try the same account once more after `delay`, then fail over
    FAILOVER = "failover"  # try the next account, leave this one as it is


@dataclass(frozen=True)
class Decision:
    action: Action
    delay: float = 0.0  # cooldown length (COOLDOWN) or wait before the retry (RETRY)
    reason: str = ""
    tripped: bool = False  # the account's circuit breaker opened (a COOLDOWN)


def backoff(
    attempt: int,
    retry_after: float | None = None,
    *,
    base: float = RETRY_BASE,
    cap: float = RETRY_CAP,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait: `Retry-After` when given (capped at 300 s), else base * 2^attempt
    capped at `cap`, with jitter that takes off up to a quarter."""
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, RETRY_AFTER_CAP)
    delay = min(cap, base * 2.0 ** min(max(0, attempt), 32))
    return delay * (0.75 + 0.25 * rand())


def classify(
    error: e.UpstreamError,
    attempt: int = 0,
    *,
    streak: int = 0,
    trip_after: int = TRIP_AFTER,
    rand: Callable[[], float] = random.random,
) -> Decision:
    """What to do after `error` on this request's `attempt`-th try (0-based) of an account
    whose previous `streak` calls failed in a row (it lengthens cooldowns, and `trip_after`
    transient failures in a row open its circuit breaker)."""
    if isinstance(error, e.QuotaExhaustedError):
        return Decision(Action.EXHAUST, reason="daily free neurons used up")
    if isinstance(error, e.CapacityError | e.RateLimitedError):
        delay = backoff(streak, error.retry_after, base=COOLDOWN_BASE, cap=COOLDOWN_CAP, rand=rand)
        what = "out of capacity" if isinstance(error, e.CapacityError) else "rate limited"
        return Decision(Action.COOLDOWN, delay, what)
    if isinstance(error, e.AccountAuthError):
        return Decision(Action.DISABLE, reason=f"token refused by Cloudflare: {error.message}")
    if isinstance(error, e.PaidPlanRequiredError):
        return Decision(Action.FAILOVER, reason=error.message)
    if isinstance(
        error, e.UpstreamBadInputError | e.ContentFlaggedError | e.UpstreamModelGoneError
    ):
        return Decision(Action.FAIL, reason=error.message)
    # timeouts, 5xx, connection errors, malformed bodies: once more, then the next account;
    # an account that keeps answering so rests instead, longer each time it fails again
    in_a_row = streak + 1
    if in_a_row >= trip_after:
        delay = backoff(in_a_row - trip_after, base=BREAKER_BASE, cap=BREAKER_CAP, rand=rand)
        reason = f"circuit open after {in_a_row} failures in a row ({error.kind})"
        return Decision(Action.COOLDOWN, delay, reason, tripped=True)
    if attempt == 0:
        return Decision(Action.RETRY, backoff(0, rand=rand), error.kind)
    return Decision(Action.FAILOVER, reason=error.kind)


def next_utc_midnight(now: datetime) -> datetime:
    """The next 00:00 UTC strictly after `now` (when Cloudflare resets the free neurons)."""
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


def utc_day(now: datetime) -> str:
    """The UTC day of `now` as `YYYY-MM-DD`: the key of the daily neuron ledger."""
    return now.astimezone(UTC).date().isoformat()  # ~5x strftime; on every pool call
