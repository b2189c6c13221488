"""Pick a healthy account, call through it, fail over, and charge the neurons it spent.

`AccountPool.run(call, deadline=..., cost=..., neurons=...)` is the only way to reach
Cloudflare through an account. Per attempt it reads the shared state, picks an account
(selection.py), calls, and on failure applies `classify()` (policy.py) to the account:
exhausted until 00:00 UTC, cooling down, disabled, or retried once. It fails over across every
account before giving up, within the total deadline, waits briefly when the only capacity left
returns within a few seconds, and otherwise raises `NoCapacityError` saying when it returns.
Every success is charged to the daily ledger: the neurons Cloudflare reported, else `cost`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flux_remix import errors as e
from flux_remix.accounts.memory import MemoryState
from flux_remix.accounts.policy import (
    TRIP_AFTER,
    Action,
    Decision,
    classify,
    next_utc_midnight,
    utc_day,
)
from flux_remix.accounts.selection import View, no_capacity, pick, soonest, view
from flux_remix.accounts.state import AccountState, Failure, Health, state_key
from flux_remix.settings import Account

log = logging.getLogger("flux_remix.accounts")
T = TypeVar("T")
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]

DAILY_FREE_NEURONS = 10_000.0
WAIT_CAP = 3.0  # seconds a request may wait for a cooling account when none is usable
MAX_WAITS = 2


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass(frozen=True)
class AccountStatus:
    """Public health of one account, by label only: never its id or token."""

    label: str
    state: str  # healthy | cooling_down | exhausted | disabled
    reason: str | None
    available_at: datetime | None
    neurons_used: float  # today (UTC)
    neurons_left: float
    daily_neurons: float
    successes: int  # today (UTC)
    failures: int

    def public(self) -> dict[str, Any]:
        """The JSON shape of `GET /api/v1/accounts` and `flux-remix accounts --json`."""
        return {
            "label": self.label,
            "state": self.state,
            "reason": self.reason,
            "available_at": self.available_at.isoformat() if self.available_at else None,
            "neurons_used_today": self.neurons_used,
            "neurons_left_today": self.neurons_left,
            "daily_neurons": self.daily_neurons,
            "successes_today": self.successes,
            "failures_today": self.failures,
        }


class AccountPool:
    def __init__(
        self,
        accounts: Sequence[Account],
        *,
        state: AccountState | None = None,
        daily_neurons: float = DAILY_FREE_NEURONS,
        clock: Clock = _utcnow,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        trip_after: int = TRIP_AFTER,
        on_trip: Callable[[str], None] | None = None,
    ) -> None:
        """`trip_after` transient failures in a row rest an account (its circuit breaker,
        policy.py); `on_trip(label)` is told each time one opens (metrics)."""
        if not accounts:
            raise e.ConfigError("CF_ACCOUNT_LIST: no Cloudflare accounts configured")
        self._accounts = list(accounts)
        self._keys = {a.label: state_key(a) for a in accounts}
        self._state: AccountState = state if state is not None else MemoryState()
        self._daily = daily_neurons
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        self._trip_after = trip_after
        self.on_trip = on_trip
        self._reserved: dict[str, float] = {a.label: 0.0 for a in accounts}
        # exhaustion and cooldowns this process learned, applied over every read: a read that
        # was in flight while another task learned them cannot send a call there
        self._learned: dict[str, Health] = {a.label: Health() for a in accounts}
        self._turn = 0

    @property
    def accounts(self) -> list[Account]:
        return list(self._accounts)

    async def _views(self, now: datetime) -> list[View]:
        keys = [self._keys[a.label] for a in self._accounts]
        records = await self._state.read(keys, utc_day(now))
        now = self._clock()
        views = []
        for a, k in zip(self._accounts, keys, strict=True):
            health, usage = records[k]
            learned = self._learned[a.label]
            health = replace(
                health,
                exhausted_until=_later(health.exhausted_until, learned.exhausted_until),
                cooldown_until=_later(health.cooldown_until, learned.cooldown_until),
            )
            views.append(view(a, k, health, usage, now=now, daily=self._daily))
        return views

    async def run(
        self,
        call: Callable[[Account], Awaitable[T]],
        *,
        deadline: float,
        cost: float = 0.0,
        neurons: Callable[[T], float | None] | None = None,
    ) -> tuple[T, Account]:
        """Call through healthy accounts until one succeeds; charge it; return `(result, it)`.

        `cost` is the estimated neurons (for selection, and charged when `neurons(result)`
        gives None). Raises the request's own error (bad input, flagged) at once, the last
        upstream error when every account failed, `NoCapacityError` when none is usable, and
        `UpstreamTimeoutError` when `deadline` seconds pass.
        """
        ends = time.monotonic() + deadline
        spent: set[str] = set()  # accounts this request has given up on
        last: e.UpstreamError | None = None
        waits = 0
        for _ in range(2 * len(self._accounts) + MAX_WAITS + 1):
            now = self._clock()
            views = await self._views(now)
            chosen = pick(views, cost=cost, reserved=self._reserved, skip=spent, turn=self._turn)
            self._turn += 1
            if chosen is None:
                pause = self._pause(views, spent, now, ends - time.monotonic())
                if pause is None or waits >= MAX_WAITS:
                    break
                waits += 1
                await self._sleep(pause)
                continue
            attempt = 0
            while True:
                remaining = ends - time.monotonic()
                if remaining <= 0:
                    raise last or e.UpstreamTimeoutError("no account answered before the deadline")
                self._reserved[chosen.label] += cost
                try:
                    async with asyncio.timeout(remaining):  # in this task: sent right now
                        result = await call(chosen.account)
                except TimeoutError:
                    raise e.UpstreamTimeoutError(
                        f"no answer within the {deadline:g} s request deadline"
                    ) from None
                except e.UpstreamError as err:
                    err.account = chosen.label
                    decision = classify(
                        err,
                        attempt,
                        streak=chosen.streak + attempt,  # this request's own tries count too
                        trip_after=self._trip_after,
                        rand=self._rand,
                    )
                    await self._record(chosen, err, decision)
                    if decision.action is Action.FAIL:
                        raise
                    last = err
                    if decision.action is Action.RETRY:
                        attempt += 1
                        await self._sleep(min(decision.delay, max(0.0, remaining)))
                        continue
                    if decision.action is not Action.COOLDOWN:
                        spent.add(chosen.label)  # a cooled account may serve again later
                    break
                else:
                    charge = neurons(result) if neurons is not None else None
                    day = utc_day(self._clock())
                    await self._state.record_success(
                        chosen.key, day, cost if charge is None else charge
                    )
                    return result, chosen.account
                finally:
                    self._reserved[chosen.label] -= cost
        now = self._clock()
        views = await self._views(now)
        if any(v.state == "healthy" for v in views) and last is not None:
            raise last
        raise no_capacity(views, now)

    def _pause(
        self, views: list[View], spent: set[str], now: datetime, remaining: float
    ) -> float | None:
        """Seconds to wait for a cooling account, when one returns soon enough; else None."""
        back = soonest([v for v in views if v.state == "cooling_down" and v.label not in spent])
        if back is None:
            return None
        wait = (back - now).total_seconds() + 0.01
        return wait if wait <= min(WAIT_CAP, remaining - 0.05) else None

    async def _record(self, chosen: View, err: e.UpstreamError, decision: Decision) -> None:
        action = decision.action
        log.info(
            "account %s: %s (code %s) -> %s%s",
            chosen.label,
            err.kind,
            err.code,
            action.value,
            f" {decision.delay:.1f} s" if action in (Action.COOLDOWN, Action.RETRY) else "",
        )
        if action is Action.FAIL:
            return  # the request's fault, not the account's
        now = self._clock()
        failure = Failure(reason=decision.reason or err.kind)
        learned = self._learned[chosen.label]
        if action is Action.EXHAUST:
            failure = Failure(failure.reason, exhausted_until=next_utc_midnight(now))
            self._learned[chosen.label] = replace(learned, exhausted_until=failure.exhausted_until)
        elif action is Action.COOLDOWN:
            if decision.tripped:
                log.warning("account %s rests: %s", chosen.label, decision.reason)
                if self.on_trip is not None:
                    self.on_trip(chosen.label)
            until = now + timedelta(seconds=decision.delay)
            failure = Failure(failure.reason, cooldown_until=until)
            self._learned[chosen.label] = replace(learned, cooldown_until=until)
        elif action is Action.DISABLE:
            failure = Failure(failure.reason, disabled=failure.reason)
            log.warning("account %s disabled: %s", chosen.label, failure.reason)
        await self._state.record_failure(chosen.key, utc_day(now), failure)

    async def status(self) -> list[AccountStatus]:
        """Every account's health and today's ledger line, by label."""
        views = await self._views(self._clock())
        return [
            AccountStatus(
                label=v.label,
                state=v.state,
                reason=v.reason,
                available_at=v.until,
                neurons_used=round(v.used, 2),
                neurons_left=round(v.left, 2),
                daily_neurons=self._daily,
                successes=v.successes,
                failures=v.failures,
            )
            for v in views
        ]

    async def disable(self, account: Account, reason: str) -> None:
        await self._state.set_disabled(self._keys[account.label], reason)

    async def check_tokens(
        self, verify: Callable[[Account], Awaitable[bool]]
    ) -> dict[str, bool | None]:
        """Ask Cloudflare whether each token is active (free). Refused tokens disable their
        account with a log line naming its label; good ones enable theirs again. An account
        that could not be checked keeps its state (None in the answer)."""

        async def check(account: Account) -> bool | None:
            try:
                return await verify(account)
            except e.UpstreamError as err:
                log.warning("account %s: could not verify its token: %s", account.label, err)
                return None

        results = await asyncio.gather(*(check(a) for a in self._accounts))
        answer: dict[str, bool | None] = {}
        for account, ok in zip(self._accounts, results, strict=True):
            answer[account.label] = ok
            key = self._keys[account.label]
            if ok is True:
                await self._state.set_disabled(key, None)
            elif ok is False:
                reason = "token refused by Cloudflare (GET /user/tokens/verify)"
                await self._state.set_disabled(key, reason)
                log.error(
                    "account %s: Cloudflare refused its token; the account is disabled. Give it "
                    "a token with the Workers AI Read permission in CF_ACCOUNT_LIST.",
                    account.label,
                )
        return answer
