"""`GET /api/v1/accounts`: the account pool's health by label, for admins.

The public model has no field that could hold an account id or token.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from flux_remix.web.deps import AdminDep, RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["native API"])


class PublicAccount(BaseModel):
    label: str
    state: str  # healthy | cooling_down | exhausted | disabled
    reason: str | None
    available_at: datetime | None  # when a cooling or exhausted account is usable again
    neurons_used_today: float
    neurons_left_today: float
    daily_neurons: float
    successes_today: int
    failures_today: int


class AccountsResponse(BaseModel):
    accounts: list[PublicAccount]
    usable: int  # accounts that can take a call now


@router.get("/accounts", response_model=AccountsResponse)
async def list_accounts(runtime: RuntimeDep, _: AdminDep) -> AccountsResponse:
    """Each account by label: state, reason, cooldown end, neurons used/left today (UTC),
    successes and failures today. Admin key only; never ids or tokens."""
    statuses = await runtime.pool.status()
    return AccountsResponse(
        accounts=[PublicAccount.model_validate(s.public()) for s in statuses],
        usable=sum(1 for s in statuses if s.state == "healthy"),
    )
