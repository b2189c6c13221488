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
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from flux_remix.web.deps import authenticate, get_service

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
    dependant = route.dependant
    named = {d.name: d.call for d in dependant.dependencies if d.name is not None}
    unnamed = {d.call for d in dependant.dependencies if d.name is None}
    service = [n for n, call in named.items() if call is get_service]
    caller = [n for n, call in named.items() if call is authenticate]
    others = (
        dependant.path_params
        + dependant.query_params
        + dependant.header_params
        + dependant.cookie_params
    )
    body = dependant.body_params
    model = body[0].field_info.annotation if len(body) == 1 else None
    if (
        len(service) != 1
        or len(caller) != 1
        or len(named) != 2
        or not unnamed <= {authenticate}
        or others
        or dependant.request_param_name is None
        or not (isinstance(model, type) and issubclass(model, BaseModel))
    ):
        raise TypeError(
            f"{route.path}: a JsonRoute endpoint takes a pydantic body, the Request, "
            "ServiceDep and CallerDep, and nothing else"
        )
    return model, (dependant.request_param_name, service[0], caller[0], body[0].name)
