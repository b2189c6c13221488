"""Which account takes the next call, and what to say when none can: pure functions.

`view()` reads one account's stored record at a moment; `pick()` chooses among views: healthy
accounts only, those that can afford the request's estimated cost first, then the most neurons
left today (after what calls in flight have reserved), ties broken round robin.
`no_capacity()` builds the error that says when capacity returns.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from flux_remix import errors as e
from flux_remix.accounts.state import DayUsage, Health
from flux_remix.settings import Account

State = Literal["healthy", "cooling_down", "exhausted", "disabled"]
TIE = 1e-6  # neurons: closer than this counts as a tie


@dataclass(frozen=True)
class View:
    """One account as the pool sees it at one moment."""

    account: Account
    key: str
    state: State
    until: datetime | None  # when it is usable again (None: now, or never when disabled)
    reason: str | None
    used: float  # neurons counted today (UTC)
    left: float  # neurons left of the daily free allocation (0 when exhausted)
    successes: int
    failures: int
    streak: int

    @property
    def label(self) -> str:
        return self.account.label


def view(
    account: Account, key: str, health: Health, usage: DayUsage, now: datetime, daily: float
) -> View:
    state: State = "healthy"
    until: datetime | None = None
    if health.disabled is not None:
        state = "disabled"
    elif health.exhausted_until is not None and health.exhausted_until > now:
        state, until = "exhausted", health.exhausted_until
    elif health.cooldown_until is not None and health.cooldown_until > now:
        state, until = "cooling_down", health.cooldown_until
    left = 0.0 if state == "exhausted" else max(0.0, daily - usage.neurons)
    return View(
        account=account,
        key=key,
        state=state,
        until=until,
        reason=health.reason if state != "healthy" else None,
        used=usage.neurons,
        left=left,
        successes=usage.successes,
        failures=usage.failures,
        streak=health.streak,
    )


def pick(
    views: Sequence[View],
    *,
    cost: float = 0.0,
    reserved: dict[str, float] | None = None,
    skip: Collection[str] = (),
    turn: int = 0,
) -> View | None:
    """The account for the next call, or None when no healthy one is left.

    `reserved` holds neurons promised to calls in flight (by label); `skip` holds labels this
    request already tried; `turn` rotates the choice among ties (round robin).
    """
    reserved = reserved or {}
    healthy = [v for v in views if v.state == "healthy" and v.label not in skip]
    if not healthy:
        return None

    def left(v: View) -> float:
        return v.left - reserved.get(v.label, 0.0)

    candidates = [v for v in healthy if left(v) >= cost] or healthy
    best = max(left(v) for v in candidates)
    ties = [v for v in candidates if best - left(v) <= TIE]
    return ties[turn % len(ties)]


def soonest(views: Sequence[View]) -> datetime | None:
    """When the first blocked (not disabled) account becomes usable again."""
    times = [v.until for v in views if v.until is not None]
    return min(times) if times else None


def no_capacity(views: Sequence[View], now: datetime) -> e.NoCapacityError:
    """Every account is exhausted, cooling down or disabled: say when capacity returns."""
    back = soonest(views)
    if back is None:
        return e.NoCapacityError(
            "No Cloudflare account can serve requests: every account's token was refused. "
            "Check the tokens in CF_ACCOUNT_LIST (`flux-remix accounts` shows each account)."
        )
    exhausted = all(v.state in ("exhausted", "disabled") for v in views)
    wait = max(1.0, (back - now).total_seconds())
    what = (
        "Every Cloudflare account has used its daily free neurons"
        if exhausted
        else "Every Cloudflare account is busy or rate limited"
    )
    return e.NoCapacityError(
        f"{what}; capacity should return around {back:%Y-%m-%d %H:%M:%S} UTC "
        f"(in about {_duration(wait)}).",
        retry_after=wait,
        available_at=back,
        exhausted=exhausted,
    )


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"
