"""Routing and authentication errors, with Cloudflare's exact envelopes."""

from __future__ import annotations

import httpx
import pytest

from .helpers import ACCOUNT, OTHER_TOKEN, TOKEN, Emu

SCHNELL = "@cf/black-forest-labs/flux-1-schnell"

MISSING_AUTH = {
    "success": False,
    "errors": [
        {
            "code": 6003,
            "message": "Invalid request headers",
            "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}],
        }
    ],
    "messages": [],
    "result": None,
}
BAD_TOKEN = {
    "result": None,
    "success": False,
    "errors": [{"code": 10000, "message": "Authentication error"}],
    "messages": [],
}


def post(emu: Emu, account: str, headers: dict[str, str]) -> httpx.Response:
    url = f"{emu.server.base_url}/accounts/{account}/ai/run/{SCHNELL}"
    return httpx.post(url, json={"prompt": "a cat"}, headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer a b"},
    ],
    ids=["missing", "basic", "empty-bearer", "spaces"],
)
def test_missing_or_garbage_authorization_is_6003(emu: Emu, headers: dict[str, str]) -> None:
    response = post(emu, ACCOUNT, headers)
    assert response.status_code == 400
    assert response.json() == MISSING_AUTH
    assert response.headers["cf-ray"]


@pytest.mark.parametrize("token", ["wrong-token", OTHER_TOKEN], ids=["unknown", "other-account"])
def test_wrong_token_is_401_10000(emu: Emu, token: str) -> None:
    response = post(emu, ACCOUNT, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == BAD_TOKEN


def test_bearer_scheme_is_case_insensitive(emu: Emu) -> None:
    assert post(emu, ACCOUNT, {"Authorization": f"bearer {TOKEN}"}).status_code == 200


def test_unknown_account_is_404_7003_before_auth(emu: Emu) -> None:
    response = post(emu, "0" * 32, {})
    assert response.status_code == 404
    path = f"/client/v4/accounts/{'0' * 32}/ai/run/{SCHNELL}"
    assert response.json() == {
        "success": False,
        "errors": [
            {
                "code": 7003,
                "message": f"Could not route to {path}, perhaps your object identifier is invalid?",
            }
        ],
        "messages": [],
        "result": None,
    }


def test_unknown_route_is_7003(emu: Emu) -> None:
    response = emu.client.get(f"/accounts/{ACCOUNT}/ai/nothing-here")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == 7003


def test_auth_failures_are_logged_and_free(emu: Emu) -> None:
    post(emu, ACCOUNT, {"Authorization": "Bearer nope"})
    [call] = emu.server.state.calls()
    assert (call.status, call.code, call.neurons, call.content_kind) == (401, 10000, 0.0, "unread")
    assert emu.server.state.used(ACCOUNT) == 0


def test_token_verify(emu: Emu) -> None:
    ok = emu.client.get("/user/tokens/verify")
    assert ok.status_code == 200
    body = ok.json()
    assert body["success"] is True and body["errors"] == [] and body["messages"] == []
    assert body["result"]["status"] == "active"
    assert len(body["result"]["id"]) == 32

    bad = httpx.get(
        f"{emu.server.base_url}/user/tokens/verify", headers={"Authorization": "Bearer x"}
    )
    assert bad.status_code == 401
    assert bad.json() == {
        "success": False,
        "errors": [{"code": 1000, "message": "Invalid API Token"}],
        "messages": [],
        "result": None,
    }
    missing = httpx.get(f"{emu.server.base_url}/user/tokens/verify")
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["code"] == 6003
