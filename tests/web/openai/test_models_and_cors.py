"""`GET /v1/models` through the openai client, and CORS for browser clients."""

import json

import openai
import pytest

from tests.conftest import API_KEY, AUTH


def test_models_list_names_text_to_image_models_default_first(client):
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert ids[0] == "FLUX.1-Schnell-CF"
    assert {"DS-8-CF", "SD-XL-Bash-CF", "SD-XL-Lightning-CF", "flux-2-klein-4b"} <= set(ids)
    assert "stable-diffusion-v1-5-img2img" not in ids  # needs an input image
    assert len(ids) == len(set(ids))
    m = models.data[0]
    assert (m.object, m.owned_by) == ("model", "cloudflare-workers-ai")
    assert m.model_extra["upstream_id"] == "@cf/black-forest-labs/flux-1-schnell"


def test_customer_aliases_are_listed_and_picked_first(start_app, make_client):
    aliases = {"my-sdxl": "@cf/bytedance/stable-diffusion-xl-lightning"}
    server = start_app(CUSTOMER_MODEL_MAP=json.dumps(aliases))
    client = make_client(server)
    ids = [m.id for m in client.models.list().data]
    assert ids[:2] == ["SD-XL-Lightning-CF", "my-sdxl"]
    assert client.models.retrieve("my-sdxl").model_extra["upstream_id"].endswith("xl-lightning")


def test_retrieve_a_model_by_any_name(client):
    assert client.models.retrieve("@cf/lykon/dreamshaper-8-lcm").id == "@cf/lykon/dreamshaper-8-lcm"
    assert client.models.retrieve("DS-8-CF").model_extra["name"] == "DreamShaper 8 LCM"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("dall-e-2")


def test_models_need_a_key(make_client, app_server):
    with pytest.raises(openai.AuthenticationError):
        make_client(app_server, key="nope").models.list()


def test_unknown_v1_route_answers_in_openai_shape(app_server):
    with app_server.client(headers=AUTH) as c:
        r = c.post("/v1/embeddings", json={"input": "x"})
    assert r.status_code == 404
    assert set(r.json()["error"]) >= {"message", "type", "param", "code"}


PREFLIGHT = {
    "Origin": "https://chat.example.com",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
}


def test_cors_is_off_by_default(app_server):
    with app_server.client() as c:
        r = c.options("/v1/chat/completions", headers=PREFLIGHT)
        plain = c.get("/v1/models", headers={**AUTH, "Origin": "https://chat.example.com"})
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in plain.headers


def test_cors_preflight_and_responses_for_allowed_origins(start_app):
    server = start_app(CORS_ORIGINS="https://chat.example.com, http://localhost:3000")
    with server.client() as c:
        ok = c.options("/v1/chat/completions", headers=PREFLIGHT)
        other = c.options(
            "/v1/chat/completions", headers={**PREFLIGHT, "Origin": "https://evil.test"}
        )
        listed = c.get("/v1/models", headers={**AUTH, "Origin": "https://chat.example.com"})
        refused = c.get("/v1/models", headers={"Origin": "https://chat.example.com"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://chat.example.com"
    allowed = ok.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "x-stainless-os" in allowed
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in ok.headers
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == "https://chat.example.com"
    assert "retry-after" in listed.headers["access-control-expose-headers"].lower()
    # an error answer carries CORS headers too, so the browser app can show its message
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "https://chat.example.com"


def test_cors_wildcard(start_app):
    server = start_app(CORS_ORIGINS="*")
    with server.client() as c:
        r = c.options("/v1/images/generations", headers={**PREFLIGHT, "Origin": "https://x.test"})
        g = c.get(
            "/v1/models", headers={"Authorization": f"Bearer {API_KEY}", "Origin": "https://x.test"}
        )
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    assert g.headers["access-control-allow-origin"] == "*"
