"""Where the pool keeps account health and the daily neuron ledger: one small interface.

Two backends pass the same test suite (tests/accounts/test_state.py):

- `MemoryState` (accounts/memory.py): in-process, written behind (within 0.1 s, off the event
  loop) to a small SQLite file in the data directory so restarts keep cooldowns, exhaustion and
  today's neurons. The default.
- `RedisState` (accounts/redis_state.py): shared by every replica through `REDIS_URL`; an
  account exhausted through one replica is skipped by the others.

Backends only store; the pool decides (with its clock) what a record means. Every update is
atomic: concurrent charges never lose an increment. Accounts are stored under `state_key`, a
hash of the account id, so neither the id nor the token is ever written anywhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flux_remix.settings import Account


@dataclass(frozen=True)
class Health:
    """An account's standing; times are UTC and are compared with the pool's clock."""

    disabled: str | None = None  # why the token is refused; None when usable
    exhausted_until: datetime | None = None  # daily quota used up until then
    cooldown_until: datetime | None = None  # capacity / rate limited until then
    reason: str | None = None  # the latest failure's reason, for people
    streak: int = 0  # failures in a row (lengthens cooldowns); 0 after a success


@dataclass(frozen=True)
class DayUsage:
    """One account's line in the ledger for one UTC day."""

    neurons: float = 0.0
    successes: int = 0
    failures: int = 0


@dataclass(frozen=True)
class Failure:
    """What a failed call changes: the fields that are set (None leaves a field as it is)."""

    reason: str
    exhausted_until: datetime | None = None
    cooldown_until: datetime | None = None
    disabled: str | None = None


class AccountState(Protocol):
    """Storage for account health and the per-day neuron ledger."""

    async def read(self, keys: list[str], day: str) -> dict[str, tuple[Health, DayUsage]]:
        """Health and `day`'s usage of each key (defaults for unknown keys)."""
        ...

    async def record_success(self, key: str, day: str, neurons: float) -> None:
        """Add `neurons` and one success to `day`; reset the failure streak."""
        ...

    async def record_failure(self, key: str, day: str, failure: Failure) -> None:
        """Set `failure`'s fields; add one failure to `day` and one to the streak."""
        ...

    async def set_disabled(self, key: str, reason: str | None) -> None:
        """Disable the account with `reason`, or enable it again with None."""
        ...

    async def close(self) -> None: ...


def state_key(account: Account) -> str:
    """A stable, non-reversible name for an account in stored state (never its id or token)."""
    digest = hashlib.sha256(b"flux-remix-account:" + account.account_id.get_secret_value().encode())
    return digest.hexdigest()[:16]
