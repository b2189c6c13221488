"""Test-control routes under ``/__emulator__/`` (never under ``/client/v4``).

=========  =========================  ===============================================
method     path                       body / answer
=========  =========================  ===============================================
GET        /__emulator__/health       ``{"ok": true}``
GET        /__emulator__/faults       ``{"faults": [{id, remaining, kind, ...}]}``
POST       /__emulator__/faults       a FaultSpec → 201 ``{"id": "fault-1", "fault": {...}}``
DELETE     /__emulator__/faults       ``{"cleared": n}``
DELETE     /__emulator__/faults/{id}  ``{"removed": true}`` or 404
GET        /__emulator__/ledger       ``{"day", "daily_neurons", "resets_at", "used": {acct: n}}``
POST       /__emulator__/ledger       ``{"account_id": "...", "used": 9990}`` → the snapshot
GET        /__emulator__/calls        ``{"calls": [CallRecord, ...]}`` oldest first
DELETE     /__emulator__/calls        ``{"cleared": true}``
POST       /__emulator__/reset        ``{"reset": true}``: faults, usage, calls, image cache
=========  =========================  ===============================================
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flux_remix.emulator.faults import FaultSpec
from flux_remix.emulator.state import EmulatorState


class LedgerUpdate(BaseModel):
    """Body of ``POST /__emulator__/ledger``."""

    model_config = ConfigDict(extra="forbid")

    account_id: str
    used: float


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


async def _json(request: Request) -> object:
    try:
        return json.loads(await request.body() or b"{}")
    except ValueError:
        return None


def _invalid(exc: ValidationError) -> JSONResponse:
    return JSONResponse({"detail": json.loads(exc.json())}, status_code=422)


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def list_faults(request: Request) -> JSONResponse:
    return JSONResponse({"faults": _state(request).faults()})


async def add_fault(request: Request) -> JSONResponse:
    try:
        spec = FaultSpec.model_validate(await _json(request))
    except ValidationError as exc:
        return _invalid(exc)
    fault_id = _state(request).add_fault(spec)
    return JSONResponse({"id": fault_id, "fault": spec.model_dump()}, status_code=201)


async def clear_faults(request: Request) -> JSONResponse:
    return JSONResponse({"cleared": _state(request).clear_faults()})


async def remove_fault(request: Request) -> JSONResponse:
    removed = _state(request).remove_fault(request.path_params["fault_id"])
    return JSONResponse({"removed": removed}, status_code=200 if removed else 404)


async def get_ledger(request: Request) -> JSONResponse:
    return JSONResponse(_state(request).ledger_snapshot())


async def set_ledger(request: Request) -> JSONResponse:
    try:
        update = LedgerUpdate.model_validate(await _json(request))
    except ValidationError as exc:
        return _invalid(exc)
    state = _state(request)
    if update.account_id not in state.config.accounts:
        return JSONResponse({"detail": f"unknown account {update.account_id}"}, status_code=404)
    state.set_used(update.account_id, update.used)
    return JSONResponse(state.ledger_snapshot())


async def list_calls(request: Request) -> JSONResponse:
    return JSONResponse({"calls": [record.to_dict() for record in _state(request).calls()]})


async def clear_calls(request: Request) -> JSONResponse:
    _state(request).clear_calls()
    return JSONResponse({"cleared": True})


async def reset(request: Request) -> JSONResponse:
    _state(request).reset()
    return JSONResponse({"reset": True})


def admin_routes() -> list[Route]:
    return [
        Route("/health", health, methods=["GET"]),
        Route("/faults", list_faults, methods=["GET"]),
        Route("/faults", add_fault, methods=["POST"]),
        Route("/faults", clear_faults, methods=["DELETE"]),
        Route("/faults/{fault_id}", remove_fault, methods=["DELETE"]),
        Route("/ledger", get_ledger, methods=["GET"]),
        Route("/ledger", set_ledger, methods=["POST"]),
        Route("/calls", list_calls, methods=["GET"]),
        Route("/calls", clear_calls, methods=["DELETE"]),
        Route("/reset", reset, methods=["POST"]),
    ]
