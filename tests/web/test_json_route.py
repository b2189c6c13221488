"""`JsonRoute`: the image routes serve well-formed JSON without FastAPI's per-request machinery,
and leave every other request to FastAPI, which answers it as on any other route."""

from __future__ import annotations

import inspect

import fastapi
import fastapi.routing
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from flux_remix.web.deps import CallerDep, ServiceDep, authenticate
from flux_remix.web.json_route import json_post
from flux_remix.web.routes.openai_images import ImagesResponse
from flux_remix.web.routes.original import OriginalImageResponse
from tests.conftest import AUTH

ROUTES = {
    "/v1/images/generations": {"prompt": "a fox", "model": "FLUX.1-Schnell-CF"},
    "/api/image": {"messages": [{"role": "user", "content": "a fox"}], "model": "DS-8-CF"},
    "/api/generate-image": {"prompt": "a fox", "model": "DS-8-CF"},
}


ENDPOINTS = {
    "create_images": "/v1/images/generations",
    "api_image": "/api/image",
    "api_generate_image": "/api/generate-image",
}


@pytest.fixture
def fastapi_solves(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests that went through FastAPI's own handler (which looks at the
    endpoint first thing, on every request)."""
    seen: list[str] = []
    look = getattr(fastapi.routing, "_extract_endpoint_context", None)
    if look is None:  # this test's own probe, not JsonRoute's: rewrite it for this version
        pytest.fail(f"FastAPI {fastapi.__version__} has no routing._extract_endpoint_context")

    def counting(func):
        seen.append(ENDPOINTS.get(func.__name__, func.__name__))
        return look(func)

    monkeypatch.setattr(fastapi.routing, "_extract_endpoint_context", counting)
    return seen


@pytest.mark.parametrize("path", ROUTES)
def test_a_well_formed_request_skips_fastapis_handler(app_server, fastapi_solves, path):
    with app_server.client(headers=AUTH) as c:
        r = c.post(path, json=ROUTES[path])
        charset = c.post(
            path,
            content=str(ROUTES[path]).replace("'", '"'),
            headers={"content-type": "Application/JSON; charset=utf-8"},
        )
    assert r.status_code == 200, r.text
    assert charset.status_code == 200, charset.text
    assert fastapi_solves == []


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/v1/images/generations", 400, {"param": "n", "code": "invalid_parameter"}),
        ("/api/generate-image", 422, {"param": "n", "type": "invalid_parameter"}),
    ],
)
def test_an_invalid_body_is_answered_by_fastapi_as_before(
    app_server, fastapi_solves, path, status, error
):
    body = {**ROUTES[path], "n": 0}
    if path == "/api/generate-image":  # extra fields are allowed there: make one fail instead
        body = {"prompt": ["not", "text"]}
        error = {"param": "prompt", "type": "invalid_parameter"}
    with app_server.client(headers=AUTH) as c:
        r = c.post(path, json=body)
    assert r.status_code == status, r.text
    detail = r.json()["error"] if path.startswith("/v1") else r.json()
    assert error.items() <= detail.items()
    assert fastapi_solves == [path]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    "content",
    [
        pytest.param({"content": b'{"prompt": ', "ctype": "application/json"}, id="bad-json"),
        pytest.param({"content": b'{"prompt": "a fox"}', "ctype": "text/plain"}, id="text/plain"),
        pytest.param({"content": b'{"prompt": "a fox"}', "ctype": None}, id="no-content-type"),
        pytest.param({"content": b"[1]", "ctype": "application/json"}, id="not-an-object"),
    ],
)
def test_other_bodies_get_fastapis_clear_errors(app_server, fastapi_solves, path, content):
    headers = {**AUTH, **({"content-type": content["ctype"]} if content["ctype"] else {})}
    with app_server.client(headers=headers) as c:
        r = c.post(path, content=content["content"])
    assert r.status_code in (400, 422), r.text
    assert "error" in r.json()
    assert fastapi_solves == [path]


@pytest.mark.parametrize("body", ["valid", "invalid"])
def test_the_caller_is_checked_before_the_body_either_way(app_server, body):
    payload = ROUTES["/v1/images/generations"] if body == "valid" else {"n": "many"}
    with app_server.client(headers={"Authorization": "Bearer not-a-key"}) as c:
        r = c.post("/v1/images/generations", json=payload)
    assert r.status_code == 401, r.text


def test_each_request_counts_once_against_the_keys_rate(start_app):
    server = start_app(FLUX_REMIX_KEY_RATE_LIMIT="3")
    with server.client(headers=AUTH) as c:
        invalid = c.post("/v1/images/generations", json={"prompt": "a fox", "n": 0})
        valid = [c.post(p, json=b).status_code for p, b in list(ROUTES.items())[:2]]
        refused = c.post("/api/generate-image", json=ROUTES["/api/generate-image"])
    assert (invalid.status_code, valid) == (400, [200, 200])
    assert refused.status_code == 429, refused.text


def test_an_endpoint_it_cannot_call_is_refused_when_the_route_is_built():
    router = APIRouter()

    async def with_a_query(request: Request, caller: CallerDep, page: int = 1) -> None:
        return None

    with pytest.raises(TypeError, match="JsonRoute"):
        json_post(router, "/x")(with_a_query)


@pytest.mark.parametrize("response_format", ["url", "b64_json", None])
def test_the_openai_answer_is_exactly_its_documented_model(app_server, response_format):
    body = {**ROUTES["/v1/images/generations"], "n": 2}
    if response_format:
        body["response_format"] = response_format
    with app_server.client(headers=AUTH) as c:
        answer = c.post("/v1/images/generations", json=body).json()
    # `url` / `b64_json` are left out as the request asks; `seed` is null for FLUX.1 schnell
    assert ImagesResponse.model_validate(answer).model_dump(exclude_unset=True) == answer


@pytest.mark.parametrize("path", ["/api/image", "/api/generate-image"])
@pytest.mark.parametrize("response_format", ["url", "b64_json"])
def test_the_original_answer_is_exactly_its_documented_model(app_server, path, response_format):
    with app_server.client(headers=AUTH) as c:
        answer = c.post(path, json={**ROUTES[path], "response_format": response_format}).json()
    assert OriginalImageResponse.model_validate(answer).model_dump() == answer


class Body(BaseModel):  # module level: endpoints' hints are resolved in their module
    text: str


def test_the_fastapi_extension_points_it_uses_are_still_there(fastapi_solves):
    """What `JsonRoute` relies on, checked against the installed FastAPI: a failure names the
    version, and pyproject.toml's FastAPI range must not include it until json_route.py is
    adapted."""
    version = f"FastAPI {fastapi.__version__}"
    added = inspect.signature(APIRouter.add_api_route).parameters
    assert "route_class_override" in added, f"{version}: add_api_route(route_class_override=)"
    assert callable(getattr(APIRoute, "get_route_handler", None)), f"{version}: get_route_handler"

    calls: list[tuple[str, Body]] = []
    app = FastAPI()
    router = APIRouter(dependencies=[Depends(authenticate)])

    @json_post(router, "/echo")
    async def echo(
        body: Body, request: Request, service: ServiceDep, caller: CallerDep
    ) -> Response:
        calls.append((caller.key_id or "anonymous", body))
        return JSONResponse({"text": body.text, "service": service})

    app.include_router(router)
    [route] = router.routes
    assert isinstance(route, fastapi.routing.APIRoute) and type(route).__name__ == "JsonRoute", (
        f"{version}: route_class_override no longer gives the route its class"
    )
    assert [d.dependency for d in route.dependencies] == [authenticate], (
        f"{version}: a route's dependencies no longer hold the router's Depends(...)"
    )

    class Runtime:  # only what the fast path reads: the service and the key ring
        service = "the service"

        class keys:
            class ring:
                auth_enabled = False

                @staticmethod
                async def refresh() -> None:
                    return None

    app.state.runtime = Runtime()
    with TestClient(app) as client:
        fast = client.post("/echo", json={"text": "a fox"})
        slow = client.post("/echo", json={"text": 1})  # invalid: FastAPI's own handler answers
    assert fast.status_code == 200 and fast.json() == {"text": "a fox", "service": "the service"}
    assert calls == [("anonymous", Body(text="a fox"))]
    assert fastapi_solves == ["echo"], f"{version}: the fast path was not taken, or not left"
    assert slow.status_code == 422, f"{version}: the standard handler answered {slow.status_code}"


def test_a_route_with_another_dependency_is_refused_when_built():
    router = APIRouter(dependencies=[Depends(authenticate), Depends(lambda: None)])

    async def echo(body: Body, request: Request, service: ServiceDep, caller: CallerDep) -> None:
        return None

    with pytest.raises(TypeError, match="JsonRoute"):
        json_post(router, "/x")(echo)
