"""The ``/ai/run`` pipeline after auth: model → faults → quota → validation → output → bill.

Faults consume no neurons (``slow`` runs the call normally after its delay); validation
errors and refusals are free too. Every answer is written to the call log.
"""

from __future__ import annotations

import anyio

from flux_remix.emulator import envelopes as env
from flux_remix.emulator.faults import AROUND_CALL, FaultSpec, fault_reply, truncate, unweight
from flux_remix.emulator.models import PAID_ONLY, ModelSpec
from flux_remix.emulator.outputs import Route, produce
from flux_remix.emulator.payload import Payload
from flux_remix.emulator.state import EmulatorState
from flux_remix.emulator.validate import BadInput, coerce_form, validate


async def run_model(
    state: EmulatorState,
    account_id: str,
    model_id: str,
    payload: Payload,
    *,
    path: str,
    route: Route = "run",
) -> env.Reply:
    """Answer one authenticated call to ``model_id`` and log it under its request ``path``.

    ``route`` is ``run`` for ``/ai/run/{model}`` or ``chat`` for ``/ai/v1/chat/completions``.
    """
    fault: FaultSpec | None = None
    reply: env.Reply
    spec = state.models.get(model_id)
    if model_id in PAID_ONLY:
        reply = env.paid_only()
    elif spec is None or (route == "chat" and not spec.is_chat):
        reply = env.no_such_model(model_id)
    else:
        fault = state.fault_book.draw(account_id, model_id)
        reply = await _guarded(state, spec, account_id, payload, fault, route)
    state.record(
        endpoint=path,
        account_id=account_id,
        model=model_id,
        payload=payload,
        reply=reply,
        fault=fault.kind if fault else None,
    )
    return reply


async def _guarded(
    state: EmulatorState,
    spec: ModelSpec,
    account_id: str,
    payload: Payload,
    fault: FaultSpec | None,
    route: Route,
) -> env.Reply:
    config = state.config
    if fault is not None:
        if fault.delay > 0:
            await anyio.sleep(fault.delay)
        if fault.kind not in AROUND_CALL:
            binary = spec.output.startswith("binary")
            return fault_reply(
                fault,
                binary=binary,
                content_type=spec.content_type,
                quota_code=config.quota_code,
                account_id=account_id,  # authenticated: the token is this account's own
                authorization=f"Bearer {config.accounts.get(account_id, '')}",
            )
    if state.ledger.exhausted(account_id):
        return env.quota_exceeded(config.quota_code)
    try:
        values = decode_input(spec, payload, route)
        reply = await produce(state, spec, values, route)
    except BadInput as exc:
        return env.bad_input(exc.detail)
    if spec.sends_neurons:
        reply = reply.with_headers(cf_ai_neurons=f"{reply.neurons:.2f}")
    if fault is not None and fault.kind == "truncated":
        return truncate(reply)
    if fault is not None and fault.kind == "unweighted":
        reply = unweight(reply)
    state.ledger.charge(account_id, reply.neurons)
    return reply


def decode_input(spec: ModelSpec, payload: Payload, route: Route) -> dict[str, object]:
    """The validated input values (defaults filled), or :class:`BadInput`."""
    if payload.error is not None:
        raise BadInput(payload.error)
    if spec.body == "multipart":
        if payload.kind != "multipart" or not isinstance(payload.data, dict):
            raise BadInput("required properties at '/' are 'multipart'")
        return validate(spec.schema, coerce_form(spec.schema, payload.data))
    data = payload.data if payload.kind in ("json", "other", "empty") else {}
    if isinstance(data, dict):
        drop = {"options", "model"} if route == "chat" else {"options"}
        data = {k: v for k, v in data.items() if k not in drop}
    return validate(spec.schema, data)
