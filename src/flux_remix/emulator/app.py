"""The emulator's ASGI app: Cloudflare's ``/client/v4`` routes plus ``/__emulator__`` control.

Routes stay thin: check the account and token, read the body, hand over to the runner,
turn its :class:`~flux_remix.emulator.envelopes.Reply` into a response with a ``cf-ray``.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from flux_remix.emulator import envelopes as env
from flux_remix.emulator.admin import admin_routes
from flux_remix.emulator.auth import bearer_token, check_account, token_id
from flux_remix.emulator.config import EmulatorConfig
from flux_remix.emulator.listing import model_schema, search
from flux_remix.emulator.payload import read_payload
from flux_remix.emulator.runner import run_model
from flux_remix.emulator.state import EmulatorState

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def respond(reply: env.Reply) -> Response:
    headers = {"cf-ray": env.cf_ray(), **reply.headers}
    return Response(reply.body, reply.status, headers=headers, media_type=reply.media_type)


def _denied(request: Request) -> env.Reply | None:
    return check_account(
        _state(request).config.accounts,
        request.path_params["account_id"],
        request.headers.get("authorization"),
        request.url.path,
    )


async def run(request: Request) -> Response:
    """``POST /accounts/{account_id}/ai/run/{model}``; the model id may be percent-encoded."""
    state = _state(request)
    account_id = request.path_params["account_id"]
    model = unquote(request.path_params["model"])
    denied = _denied(request)
    if denied is not None:
        state.record(
            endpoint=request.url.path,
            account_id=account_id,
            model=model,
            payload=None,
            reply=denied,
        )
        return respond(denied)
    payload = await read_payload(request)
    return respond(await run_model(state, account_id, model, payload, path=request.url.path))


async def chat_completions(request: Request) -> Response:
    """``POST /accounts/{account_id}/ai/v1/chat/completions``: OpenAI-shaped, no envelope."""
    state = _state(request)
    account_id = request.path_params["account_id"]
    denied = _denied(request)
    if denied is not None:
        state.record(
            endpoint=request.url.path, account_id=account_id, model="", payload=None, reply=denied
        )
        return respond(denied)
    payload = await read_payload(request)
    data = payload.data if isinstance(payload.data, dict) else {}
    model = data.get("model")
    if payload.error is None and not isinstance(model, str):
        reply = env.bad_input("required properties at '/' are 'model'")
        state.record(
            endpoint=request.url.path, account_id=account_id, model="", payload=payload, reply=reply
        )
        return respond(reply)
    reply = await run_model(
        state, account_id, str(model), payload, path=request.url.path, route="chat"
    )
    return respond(reply)


async def models_search(request: Request) -> Response:
    """``GET /accounts/{account_id}/ai/models/search`` with Cloudflare's query filters."""
    denied = _denied(request)
    if denied is not None:
        return respond(denied)
    items, info = search(_state(request).models, dict(request.query_params))
    payload = {"result": items, "result_info": info, "success": True, "errors": [], "messages": []}
    return respond(env.json_reply(200, payload))


async def models_schema(request: Request) -> Response:
    """``GET /accounts/{account_id}/ai/models/schema?model=@cf/...``."""
    denied = _denied(request)
    if denied is not None:
        return respond(denied)
    model = request.query_params.get("model")
    if not model:
        return respond(env.bad_input("required properties at '/' are 'model'"))
    spec = _state(request).models.get(model)
    if spec is None:
        return respond(env.no_such_model(model))
    return respond(env.success(model_schema(spec)))


async def verify_token(request: Request) -> Response:
    """``GET /user/tokens/verify``: active for any configured token, 401 / 1000 otherwise."""
    header = request.headers.get("authorization")
    token = bearer_token(header)
    if token is None:
        return respond(env.missing_auth())
    if token not in _state(request).config.accounts.values():
        return respond(env.api_error(401, 1000, "Invalid API Token"))
    result = {"id": token_id(token), "status": "active"}
    return respond(env.success(result))


async def no_route(request: Request) -> Response:
    return respond(env.no_route(request.url.path))


def create_emulator_app(config: EmulatorConfig | None = None) -> Starlette:
    """Build the emulator app; its state is ``app.state.emulator`` (an :class:`EmulatorState`).

    Without a config it serves :meth:`EmulatorConfig.demo`.
    """
    state = EmulatorState(config or EmulatorConfig.demo())
    accounts = "/client/v4/accounts/{account_id}/ai"
    routes = [
        Route(accounts + "/run/{model:path}", run, methods=["POST"]),
        Route(accounts + "/v1/chat/completions", chat_completions, methods=["POST"]),
        Route(accounts + "/models/search", models_search, methods=["GET"]),
        Route(accounts + "/models/schema", models_schema, methods=["GET"]),
        Route("/client/v4/user/tokens/verify", verify_token, methods=["GET"]),
        Mount("/__emulator__", routes=admin_routes()),
        Route("/client/v4/{rest:path}", no_route, methods=ALL_METHODS),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = state
    return app
