"""Per-account daily neuron ledger: a free allocation that resets at 00:00 UTC.

A call is refused once the account has used its cap (``used >= cap``); a call that starts
under the cap is allowed and billed in full, so usage may end a little over the cap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta


class NeuronLedger:
    """Neurons used per account for the current UTC day, read through an injected clock."""

    def __init__(self, cap: float, clock: Callable[[], datetime]) -> None:
        self.cap = cap
        self._clock = clock
        self._day: date | None = None
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()

    def today(self) -> date:
        return self._clock().astimezone(UTC).date()

    def resets_at(self) -> datetime:
        """The next 00:00 UTC."""
        return datetime.combine(self.today() + timedelta(days=1), time(0, tzinfo=UTC))

    def _roll(self) -> None:
        today = self.today()
        if self._day != today:
            self._day = today
            self._used.clear()

    def used(self, account_id: str) -> float:
        with self._lock:
            self._roll()
            return self._used.get(account_id, 0.0)

    def all_used(self) -> dict[str, float]:
        with self._lock:
            self._roll()
            return dict(self._used)

    def exhausted(self, account_id: str) -> bool:
        """True when the account may not start another billed call today."""
        return self.used(account_id) >= self.cap

    def charge(self, account_id: str, neurons: float) -> float:
        """Add ``neurons`` to today's usage and return the new total."""
        with self._lock:
            self._roll()
            total = round(self._used.get(account_id, 0.0) + neurons, 4)
            self._used[account_id] = total
            return total

    def set_used(self, account_id: str, neurons: float) -> None:
        """Overwrite today's usage (tests use it to exhaust an account quickly)."""
        with self._lock:
            self._roll()
            self._used[account_id] = float(neurons)

    def reset(self) -> None:
        with self._lock:
            self._day = None
            self._used.clear()
