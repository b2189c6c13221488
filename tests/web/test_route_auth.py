"""Keys are required on every generating and listing route when configured."""

import pytest

from tests.conftest import ADMIN, API_KEY, AUTH

ROUTES = [
    ("POST", "/api/image", {"messages": [{"role": "user", "content": "a cat"}]}),
    ("POST", "/api/generate-image", {"prompt": "a cat"}),
    ("GET", "/api/models", None),
    ("POST", "/api/v1/images", {"prompt": "a cat"}),
    ("GET", "/api/v1/models", None),
    ("GET", "/api/v1/accounts", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": f"Bearer {API_KEY}x"},
    ],
)
def test_missing_or_wrong_key_is_401(app_server, emulator, method, path, body, headers):
    with app_server.client(headers=headers) as c:
        r = c.request(method, path, json=body)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert emulator.state.calls() == []


def test_user_key_cannot_read_admin_routes(app_server):
    with app_server.client(headers=AUTH) as c:
        r = c.get("/api/v1/accounts")
    assert r.status_code == 403
    with app_server.client(headers=ADMIN) as c:
        assert c.get("/api/v1/accounts").status_code == 200
        assert c.post("/api/v1/images", json={"prompt": "x", "model": "DS-8-CF"}).status_code == 200


def test_x_api_key_header_is_accepted(app_server):
    with app_server.client(headers={"X-API-Key": API_KEY}) as c:
        assert c.get("/api/v1/models").status_code == 200


def test_without_keys_configured_routes_are_open(start_app):
    server = start_app(API_KEY="", ADMIN_API_KEY="")
    with server.client() as c:
        assert c.post("/api/v1/images", json={"prompt": "x", "model": "DS-8-CF"}).status_code == 200


def test_health_is_open(app_server):
    with app_server.client() as c:
        assert c.get("/healthz").status_code == 200
