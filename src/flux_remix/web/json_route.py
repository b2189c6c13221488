"""`JsonRoute`: a FastAPI route that serves a well-formed JSON request without FastAPI's
per-request machinery, for the image routes that chat apps and gateways call under load.

FastAPI solves every route's dependency graph, reads and parses the body (stdlib `json`),
validates it through its field wrappers and inspects the endpoint on each request: ~10% of the
event loop at 64 concurrent image requests, for routes whose answer is already built. For a body
that is `application/json` and valid, a `JsonRoute` validates it in one pydantic-core call
(`model_validate_json`), authenticates the caller (the routers' one dependency) and calls the
endpoint with the service, the caller and the request. Anything else (another content type,
invalid JSON, a body that fails validation) goes to FastAPI's own handler, which words the error
exactly as on every other route; nothing is read twice (Starlette keeps the body). OpenAPI, the
response model and the error handlers are FastAPI's, unchanged.

The endpoint must take exactly a pydantic body, the `Request`, `ServiceDep` and `CallerDep` (by
any names) and return a `Response`; anything else is refused when the route is built.

Upgrades: only FastAPI's documented extension points are used (an `APIRoute` subclass whose
`get_route_handler` wraps the standard one, given as `route_class_override`; the route's
`dependencies` as passed in). The endpoint is read from its own signature and type hints, not
from FastAPI's solved dependency model, and tests/web/test_json_route.py names the FastAPI
version when one of those points moves; pyproject.toml pins the range those tests passed on.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from flux_remix.web.deps import CallerDep, ServiceDep, authenticate

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
E = TypeVar("E", bound=Callable[..., Any])


def json_post(router: APIRouter, path: str, **options: Any) -> Callable[[E], E]:
    """`@router.post(path, **options)`, as a `JsonRoute`."""

    def register(endpoint: E) -> E:
        router.add_api_route(
            path, endpoint, methods=["POST"], route_class_override=JsonRoute, **options
        )
        return endpoint

    return register


class JsonRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()
        body_model, names = _signature(self)
        endpoint = self.endpoint
        request_name, service_name, caller_name, body_name = names

        async def handler(request: Request) -> Response:
            content_type = request.headers.get("content-type", "")
            if content_type.split(";", 1)[0].strip().lower() != "application/json":
                return await standard(request)
            try:
                body = body_model.model_validate_json(await request.body())
            except ValidationError:  # FastAPI answers it, as it would have
                return await standard(request)
            caller = await authenticate(request)
            answer = await endpoint(
                **{
                    body_name: body,
                    request_name: request,
                    service_name: request.app.state.runtime.service,
                    caller_name: caller,
                }
            )
            if not isinstance(answer, Response):
                raise TypeError(f"{self.path}: a JsonRoute endpoint must return a Response")
            return answer

        return handler


def _signature(route: APIRoute) -> tuple[type[BaseModel], tuple[str, str, str, str]]:
    """The body model and the endpoint's parameter names: request, service, caller, body."""
    hints = typing.get_type_hints(route.endpoint, include_extras=True)
    roles: dict[str, list[str]] = {"request": [], "service": [], "caller": [], "body": []}
    others: list[str] = []
    for name in inspect.signature(route.endpoint).parameters:
        hint = hints.get(name)
        if hint is Request:
            roles["request"].append(name)
        elif hint == ServiceDep:
            roles["service"].append(name)
        elif hint == CallerDep:
            roles["caller"].append(name)
        elif isinstance(hint, type) and issubclass(hint, BaseModel):
            roles["body"].append(name)
        else:
            others.append(name)
    unnamed = [d for d in route.dependencies if getattr(d, "dependency", None) is not authenticate]
    if others or unnamed or any(len(names) != 1 for names in roles.values()):
        raise TypeError(
            f"{route.path}: a JsonRoute endpoint takes a pydantic body, the Request, "
            "ServiceDep and CallerDep, and nothing else"
        )
    model = hints[roles["body"][0]]
    return model, (roles["request"][0], roles["service"][0], roles["caller"][0], roles["body"][0])
