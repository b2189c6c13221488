"""`/api/v1/keys` (admin key): list, create, change and revoke API keys.

A new key is answered once, in the creating response; only its peppered digest is kept. Keys
configured in `API_KEY` / `ADMIN_API_KEY` are listed (by id and a label naming the variable)
but are changed only there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from flux_remix.keys import ApiKey, KeyChanges, Keys
from flux_remix.schemas import RequestModel
from flux_remix.web.deps import AdminDep, RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["keys (admin)"])

LABEL = r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"  # printable, not blank
RATE = "Requests per minute (0: no limit; unset: FLUX_REMIX_KEY_RATE_LIMIT)"
BUDGET = "Neurons per UTC day (0: no limit; unset: FLUX_REMIX_KEY_DAILY_NEURONS)"


class PublicKey(BaseModel):
    """A key as an admin sees it: never the key or its digest."""

    id: str
    label: str
    admin: bool
    source: Literal["env", "stored"]
    created: datetime | None
    revoked: datetime | None
    rate_limit: int | None = Field(description="Its own requests per minute (null: default)")
    daily_neurons: float | None = Field(description="Its own neurons per day (null: default)")
    effective_rate_limit: int = Field(description="Requests per minute it gets (0: no limit)")
    effective_daily_neurons: float = Field(description="Neurons per day it gets (0: no limit)")
    neurons_used_today: float


class KeyList(BaseModel):
    keys: list[PublicKey]


class NewKey(RequestModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=100, pattern=LABEL)
    admin: bool = Field(default=False, description="May use the admin routes")
    rate_limit: int | None = Field(default=None, ge=0, le=1_000_000, description=RATE)
    daily_neurons: float | None = Field(default=None, ge=0, le=1e12, description=BUDGET)


class CreatedKey(PublicKey):
    key: str = Field(description="The key itself: shown only in this answer, never again")


class KeyUpdate(RequestModel):
    """Fields to change; an explicit null sets a limit back to the server default."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, min_length=1, max_length=100, pattern=LABEL)
    rate_limit: int | None = Field(default=None, ge=0, le=1_000_000, description=RATE)
    daily_neurons: float | None = Field(default=None, ge=0, le=1e12, description=BUDGET)


def _time(us: int | None) -> datetime | None:
    return datetime.fromtimestamp(us / 1e6, UTC) if us else None


async def public(keys: Keys, key: ApiKey) -> PublicKey:
    return PublicKey(
        id=key.id,
        label=key.label,
        admin=key.admin,
        source=key.source,
        created=_time(key.created_us),
        revoked=_time(key.revoked_us),
        rate_limit=key.rate_limit,
        daily_neurons=key.daily_neurons,
        effective_rate_limit=keys.limiter.rate_limit(key),
        effective_daily_neurons=keys.limiter.daily_neurons(key),
        neurons_used_today=round(await keys.limiter.used_today(key.id), 2),
    )


@router.get("/keys", response_model=KeyList)
async def list_keys(runtime: RuntimeDep, _: AdminDep) -> KeyList:
    """Every key: configured ones, then stored ones (revoked too), with today's neurons."""
    keys = runtime.keys
    return KeyList(keys=[await public(keys, k) for k in await keys.ring.keys()])


@router.post("/keys", response_model=CreatedKey, status_code=201)
async def create_key(body: NewKey, runtime: RuntimeDep, _: AdminDep) -> CreatedKey:
    """Make a key; the answer holds the key itself, once."""
    secret, record = await runtime.keys.ring.create(
        body.label.strip(),
        admin=body.admin,
        rate_limit=body.rate_limit,
        daily_neurons=body.daily_neurons,
    )
    shown = await public(runtime.keys, record)
    return CreatedKey(**shown.model_dump(), key=secret)


@router.patch("/keys/{key_id}", response_model=PublicKey)
async def change_key(key_id: str, body: KeyUpdate, runtime: RuntimeDep, _: AdminDep) -> PublicKey:
    """Change a stored key's label or limits (takes effect within a second everywhere)."""
    given = body.model_fields_set
    changes = KeyChanges(
        label=body.label.strip() if body.label else None,
        rate_limit=body.rate_limit,
        daily_neurons=body.daily_neurons,
        reset_rate_limit="rate_limit" in given and body.rate_limit is None,
        reset_daily_neurons="daily_neurons" in given and body.daily_neurons is None,
    )
    return await public(runtime.keys, await runtime.keys.ring.change(key_id, changes))


@router.delete("/keys/{key_id}", response_model=PublicKey)
async def revoke_key(key_id: str, runtime: RuntimeDep, _: AdminDep) -> PublicKey:
    """Revoke a stored key: refused at once here, within a second on other replicas."""
    return await public(runtime.keys, await runtime.keys.ring.revoke(key_id))
