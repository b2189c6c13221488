"""The original CF Flux Remix API, exercised the way its README does."""

import json

import requests

from tests.api_helpers import decode_image, text_calls
from tests.conftest import API_KEY, AUTH


def test_readme_python_example_works_unchanged(app_server, emulator):
    # The original README's Python example, with only the URL and key filled in.
    url = f"{app_server.url}/api/image"
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    data = {"messages": [{"role": "user", "content": "一只可爱的猫咪"}], "model": "DS-8-CF"}
    response = requests.post(url, headers=headers, data=json.dumps(data), timeout=60)
    result = response.json()
    assert response.status_code == 200
    assert result["prompt"] == "一只可爱的猫咪"
    assert result["translatedPrompt"] and not any(
        "\u4e00" <= ch <= "\u9fff" for ch in result["translatedPrompt"]
    )
    img = decode_image(result["image"])
    assert img.format == "PNG" and img.size == (512, 512)
    assert result["mimeType"] == "image/png"
    assert result["translator"] == "llm"
    assert result["demo"] is False


def test_last_user_message_is_the_prompt(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        r = c.post(
            "/api/image",
            json={
                "messages": [
                    {"role": "user", "content": "first idea"},
                    {"role": "assistant", "content": "![x](y)"},
                    {"role": "user", "content": [{"type": "text", "text": "a red fox in snow"}]},
                ],
                "model": "FLUX.1-Schnell-CF",
                "stream": False,
            },
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["prompt"] == body["translatedPrompt"] == "a red fox in snow"
    assert body["translator"] == "none"
    assert decode_image(body["image"]).size == (1024, 1024)
    assert text_calls(emulator) == []  # English costs no LLM call


def test_generate_image_route_and_default_model(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        r = c.post("/api/generate-image", json={"prompt": "a lighthouse"})
        assert r.status_code == 200, r.text
        assert r.json()["model"] == "@cf/black-forest-labs/flux-1-schnell"
        assert decode_image(r.json()["image"]).format == "JPEG"
        r = c.post("/api/generate-image", json={"prompt": "  "})
        assert r.status_code == 400
        assert r.json()["error"] == "Missing prompt or model"


def test_models_in_the_original_shape(app_server):
    with app_server.client(headers=AUTH) as c:
        body = c.get("/api/models").json()
    ids = {m["id"] for m in body["models"]}
    assert {"FLUX.1-Schnell-CF", "DS-8-CF", "SD-XL-Bash-CF", "SD-XL-Lightning-CF"} <= ids
    assert all(m["name"] for m in body["models"])
    assert {"id": "DS-8-CF", "object": "model"} in body["data"]


def test_original_errors_keep_the_original_shape(app_server):
    with app_server.client(headers=AUTH) as c:
        r = c.post("/api/image", json={"messages": [{"role": "system", "content": "hi"}]})
        assert r.status_code == 400
        assert r.json()["error"] == "No user message found in messages"
        r = c.post(
            "/api/image", json={"messages": [{"role": "user", "content": "x"}], "model": "nope"}
        )
        assert r.status_code == 400
        assert "Unknown model 'nope'" in r.json()["error"]
        r = c.get("/api/image")
        assert r.status_code == 405
        r = c.post("/api/image", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert r.json()["error"] == "The request body is not valid JSON"
