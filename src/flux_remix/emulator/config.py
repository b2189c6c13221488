"""Configuration of one emulator instance: accounts, daily cap, quirks, clock."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    """The default clock: the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def demo_account_id(index: int) -> str:
    """A stable 32-hex-character account id for demo account ``index`` (1-based)."""
    return hashlib.md5(
        f"flux-remix-demo-account-{index}".encode(), usedforsecurity=False
    ).hexdigest()


@dataclass(kw_only=True)
class EmulatorConfig:
    """Everything that shapes an emulator instance; build one per app, never a global.

    ``accounts`` maps account id to the single API token accepted for it.
    ``daily_neurons`` is the free allocation per account and UTC day; ``quota_code`` is the
    error code of the refusal (4006 as observed live, or 3036 as documented).
    ``latency`` is a base delay in seconds added to every image call. ``seed`` seeds the
    fault-injection RNG so probabilistic fault schedules are reproducible.
    ``preview_models`` adds image models no flux-remix release knows (one past its deprecation
    date) and lists a proxied third-party model, so model discovery can be tested end to end.
    """

    accounts: dict[str, str] = field(default_factory=dict, repr=False)
    daily_neurons: float = 10_000.0
    quota_code: int = 4006
    latency: float = 0.0
    schnell_accepts_seed: bool = False
    clock: Callable[[], datetime] = utc_now
    seed: int = 0
    call_log_size: int = 1000
    image_cache_size: int = 32
    preview_models: bool = False

    def __post_init__(self) -> None:
        if self.quota_code not in (4006, 3036):
            raise ValueError("quota_code must be 4006 or 3036")
        if self.daily_neurons < 0 or self.latency < 0:
            raise ValueError("daily_neurons and latency must be >= 0")

    @classmethod
    def demo(cls, **overrides: Any) -> EmulatorConfig:
        """Two demo accounts with tokens ``demo-token-1`` and ``demo-token-2``.

        Keyword arguments override the other fields, e.g. ``demo(quota_code=3036)``.
        """
        accounts = {demo_account_id(i): f"demo-token-{i}" for i in (1, 2)}
        return cls(accounts=accounts, **overrides)
