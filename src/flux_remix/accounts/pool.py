"""Pick a healthy account, call through it, and fail over on retryable errors.

State is in-process here. Selection is round robin among usable accounts; every account is tried
before giving up, bounded by a total deadline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from flux_remix import errors as e
from flux_remix.accounts.policy import Action, classify, next_utc_midnight
from flux_remix.settings import Account

log = logging.getLogger("flux_remix.accounts")
T = TypeVar("T")
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AccountStatus:
    """Public health of one account (label only: never its id or token)."""

    label: str
    state: str = "healthy"  # healthy | cooling_down | exhausted | disabled
    reason: str | None = None
    available_at: datetime | None = None
    neurons_today: float = 0.0
    successes: int = 0
    failures: int = 0


@dataclass
class _Health:
    disabled: str | None = None
    exhausted_until: datetime | None = None
    cooldown_until: datetime | None = None
    reason: str | None = None
    neurons: float = 0.0
    day: str = ""
    successes: int = 0
    failures: int = 0


class AccountPool:
    def __init__(self, accounts: Sequence[Account], *, clock: Clock = _utcnow) -> None:
        if not accounts:
            raise e.ConfigError("CF_ACCOUNT_LIST: no Cloudflare accounts configured")
        self._accounts = list(accounts)
        self._health = {a.label: _Health() for a in accounts}
        self._clock = clock
        self._next = 0

    @property
    def accounts(self) -> list[Account]:
        return list(self._accounts)

    def _blocked_until(self, account: Account, now: datetime) -> datetime | None:
        h = self._health[account.label]
        if h.disabled:
            return datetime.max.replace(tzinfo=UTC)
        for until in (h.exhausted_until, h.cooldown_until):
            if until is not None and until > now:
                return until
        return None

    def _usable(self, accounts: Sequence[Account], now: datetime) -> list[Account]:
        return [a for a in accounts if self._blocked_until(a, now) is None]

    def _order(self, now: datetime) -> list[Account]:
        """Usable accounts, starting one further along at each call (round robin)."""
        start = self._next % len(self._accounts)
        self._next += 1
        return self._usable(self._accounts[start:] + self._accounts[:start], now)

    def _no_capacity(self, now: datetime) -> e.NoCapacityError:
        blocked = [(a, self._blocked_until(a, now)) for a in self._accounts]
        times = [t for _, t in blocked if t is not None and t.year < 9999]
        if not times:
            return e.NoCapacityError(
                "No Cloudflare account can serve requests: every account's token was refused. "
                "Check CF_ACCOUNT_LIST."
            )
        soonest = min(times)
        exhausted = all(
            self._health[a.label].exhausted_until == t or self._health[a.label].disabled
            for a, t in blocked
        )
        wait = max(1.0, (soonest - now).total_seconds())
        what = (
            "Every Cloudflare account has used its daily free neurons"
            if exhausted
            else "Every Cloudflare account is busy or rate limited"
        )
        return e.NoCapacityError(
            f"{what}; capacity should return around {soonest:%Y-%m-%d %H:%M:%S} UTC "
            f"(in about {int(wait)} s).",
            retry_after=wait,
            available_at=soonest,
            exhausted=exhausted,
        )

    async def run(
        self,
        call: Callable[[Account], Awaitable[T]],
        *,
        deadline: float,
    ) -> tuple[T, Account]:
        """Call through usable accounts in turn until one succeeds or the deadline passes."""
        ends = time.monotonic() + deadline
        candidates = self._order(self._clock())
        if not candidates:
            raise self._no_capacity(self._clock())
        last: e.UpstreamError | None = None
        for account in candidates:
            attempt = 0
            while True:
                remaining = ends - time.monotonic()
                if remaining <= 0:
                    raise last or e.UpstreamTimeoutError("no account answered before the deadline")
                try:
                    result = await asyncio.wait_for(call(account), timeout=remaining)
                except TimeoutError:
                    raise e.UpstreamTimeoutError(
                        f"no answer within the {deadline:g} s request deadline"
                    ) from None
                except e.UpstreamError as err:
                    err.account = account.label
                    decision = classify(err, attempt)
                    self._apply(account, decision.action, decision.cooldown, decision.reason)
                    log.info(
                        "upstream error on %s: %s (%s) -> %s",
                        account.label,
                        err.kind,
                        err.code,
                        decision.action.value,
                    )
                    if decision.action is Action.FAIL:
                        raise
                    last = err
                    if decision.action is Action.RETRY:
                        attempt += 1
                        await asyncio.sleep(min(decision.cooldown, max(0.0, remaining)))
                        continue
                    break
                else:
                    self._health[account.label].successes += 1
                    return result, account
        now = self._clock()
        if last is None or not self._usable(
            self._accounts, now
        ):  # nothing usable is left: say when it returns
            raise self._no_capacity(now)
        raise last

    def _apply(self, account: Account, action: Action, cooldown: float, reason: str) -> None:
        h = self._health[account.label]
        h.failures += 1
        now = self._clock()
        if action is Action.EXHAUST:
            h.exhausted_until = next_utc_midnight(now)
            h.reason = reason
        elif action is Action.COOLDOWN:
            h.cooldown_until = datetime.fromtimestamp(now.timestamp() + cooldown, UTC)
            h.reason = reason
        elif action is Action.DISABLE:
            h.disabled = reason
            h.reason = reason

    def charge(self, account: Account, neurons: float) -> None:
        """Count neurons spent today by `account` (reset at 00:00 UTC)."""
        h = self._health[account.label]
        day = self._clock().strftime("%Y-%m-%d")
        if h.day != day:
            h.day, h.neurons = day, 0.0
        h.neurons += neurons

    def status(self) -> list[AccountStatus]:
        now = self._clock()
        day = now.strftime("%Y-%m-%d")
        out = []
        for a in self._accounts:
            h = self._health[a.label]
            until = self._blocked_until(a, now)
            if h.disabled:
                state = "disabled"
            elif until is not None and until == h.exhausted_until:
                state = "exhausted"
            elif until is not None:
                state = "cooling_down"
            else:
                state = "healthy"
            out.append(
                AccountStatus(
                    label=a.label,
                    state=state,
                    reason=h.reason if state != "healthy" else None,
                    available_at=until if until is not None and until.year < 9999 else None,
                    neurons_today=round(h.neurons, 2) if h.day == day else 0.0,
                    successes=h.successes,
                    failures=h.failures,
                )
            )
        return out

    def disable(self, account: Account, reason: str) -> None:
        self._apply(account, Action.DISABLE, 0.0, reason)
