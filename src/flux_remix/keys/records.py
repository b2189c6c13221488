"""An API key as flux-remix keeps it: a public id, a label, a role, its own limits, and the
digest of the key (never the key itself)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

KeySource = Literal["env", "stored"]  # API_KEY / ADMIN_API_KEY, or made through /api/v1/keys


@dataclass(frozen=True)
class ApiKey:
    id: str
    label: str
    admin: bool
    digest: str  # HMAC-SHA256(pepper, key), hex
    rate_limit: int | None = None  # requests per minute; None: the server default; 0: none
    daily_neurons: float | None = None  # neurons per UTC day; None: the server default; 0: none
    created_us: int = 0
    revoked_us: int | None = None
    source: KeySource = "stored"

    @property
    def revoked(self) -> bool:
        return self.revoked_us is not None


@dataclass(frozen=True)
class KeyChanges:
    """Fields to change on a stored key; `None` leaves a field as it is."""

    label: str | None = None
    rate_limit: int | None = None
    daily_neurons: float | None = None
    reset_rate_limit: bool = False  # back to the server default
    reset_daily_neurons: bool = False
