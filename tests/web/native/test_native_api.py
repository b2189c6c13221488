"""The native API: every model family round-trips, with the right bytes, sizes and params."""

import pytest

from tests.api_helpers import decode_image, image_calls, png_b64, text_calls
from tests.conftest import AUTH

FAMILIES = [
    # model, extra fields, expected format, expected size
    ("FLUX.1-Schnell-CF", {}, "JPEG", (1024, 1024)),
    ("flux-2-dev", {"width": 768, "height": 512, "steps": 4}, "JPEG", (768, 512)),
    ("flux-2-klein-4b", {"input_images": [png_b64(64, 64)]}, "JPEG", (1024, 768)),
    ("flux-2-klein-9b", {"width": 512, "height": 512}, "JPEG", (512, 512)),
    ("lucid-origin", {"width": 640, "height": 480}, "JPEG", (640, 480)),
    ("phoenix-1.0", {"width": 512, "height": 768, "negative_prompt": "blur"}, "JPEG", (512, 768)),
    ("SD-XL-Bash-CF", {"width": 768, "height": 768}, "PNG", (768, 768)),
    ("SD-XL-Lightning-CF", {"width": 512, "height": 512}, None, (512, 512)),
    ("DS-8-CF", {"guidance": 2.0}, "PNG", (512, 512)),
    (
        "stable-diffusion-v1-5-img2img",
        {"image": png_b64(64, 64), "strength": 0.5},
        "PNG",
        (512, 512),
    ),
    (
        "stable-diffusion-v1-5-inpainting",
        {"image": png_b64(64, 64), "mask": png_b64(64, 64, (255, 255, 255))},
        "PNG",
        (512, 512),
    ),
]


@pytest.mark.parametrize(("model", "extra", "fmt", "size"), FAMILIES)
def test_every_model_family_round_trips(app_server, emulator, model, extra, fmt, size):
    seeded = model != "FLUX.1-Schnell-CF"  # the one model that takes no seed (test_seeds.py)
    seed = {"seed": 11} if seeded else {}
    with app_server.client(headers=AUTH) as c:
        r = c.post(
            "/api/v1/images", json={"prompt": "a small boat", "model": model, **seed, **extra}
        )
    assert r.status_code == 200, r.text
    body = r.json()
    image = body["images"][0]
    img = decode_image(image["b64_json"])
    if fmt:
        assert img.format == fmt
    assert img.format.lower() == image["mime_type"].split("/")[1].replace("jpeg", "jpeg")
    assert img.size == size == (image["width"], image["height"])
    assert image["seed"] == body["params"]["seed"] == (11 if seeded else None)
    assert (body["seed_note"] is None) == seeded
    assert body["final_prompt"] == "a small boat"
    assert body["timings"]["total_ms"] > 0
    assert len(image_calls(emulator)) == 1


def test_schnell_gets_only_prompt_and_steps_and_neurons_come_from_the_header(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        body = c.post("/api/v1/images", json={"prompt": "a cat"}).json()
    (call,) = image_calls(emulator)
    assert sorted(call.fields) == ["prompt", "steps"]
    assert body["neurons"] == 172.8
    assert body["params"]["steps"] == 4


def test_phoenix_neurons_fall_back_to_the_price_formula(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        body = c.post("/api/v1/images", json={"prompt": "a cat", "model": "phoenix-1.0"}).json()
    assert body["neurons"] == 2370.0


def test_n_images_use_consecutive_seeds(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        body = c.post(
            "/api/v1/images", json={"prompt": "a cat", "model": "DS-8-CF", "seed": 100, "n": 3}
        ).json()
    assert [i["seed"] for i in body["images"]] == [100, 101, 102]
    assert len({i["b64_json"] for i in body["images"]}) == 3


@pytest.mark.parametrize(
    ("payload", "param", "needle"),
    [
        ({"model": "FLUX.1-Schnell-CF", "steps": 12}, "steps", "between 1 and 8"),
        ({"model": "FLUX.1-Schnell-CF", "width": 512}, "width", "1024x1024"),
        ({"model": "SD-XL-Bash-CF", "steps": 30}, "steps", "between 1 and 20"),
        ({"model": "flux-2-klein-4b", "steps": 4}, "steps", "does not take steps"),
        ({"n": 9}, "n", "less than or equal to 8"),
        ({"prompt": ""}, "prompt", "at least 1 character"),
        ({"bogus": 1}, "bogus", "Extra inputs"),
    ],
)
def test_invalid_parameters_are_422_naming_field_and_limit(
    app_server, emulator, payload, param, needle
):
    with app_server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json={"prompt": "a cat", **payload})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["param"] == param
    assert needle in error["message"]
    assert image_calls(emulator) == []  # nothing reached upstream


def test_unknown_model_is_404(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json={"prompt": "a cat", "model": "dall-e-3"})
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "unknown_model"


def test_chinese_prompt_is_translated_and_english_is_not(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        zh = c.post("/api/v1/images", json={"prompt": "夕阳下的城市", "model": "DS-8-CF"}).json()
        assert zh["translator"] == "llm"
        assert zh["final_prompt"] != "夕阳下的城市"
        assert len(text_calls(emulator)) == 1
        en = c.post(
            "/api/v1/images", json={"prompt": "a city at sunset", "model": "DS-8-CF"}
        ).json()
        assert en["translator"] == "none" and en["translation_note"] == "already English"
        off = c.post(
            "/api/v1/images", json={"prompt": "夕阳", "model": "DS-8-CF", "translate": "off"}
        ).json()
        assert off["final_prompt"] == "夕阳"
    assert len(text_calls(emulator)) == 1


def test_translation_failure_falls_back_to_the_offline_dictionary(app_server, emulator):
    from flux_remix.emulator import FaultSpec

    emulator.state.add_fault(
        FaultSpec(kind="server_error", model="@cf/meta/llama-3.1-8b-instruct-fast")
    )
    with app_server.client(headers=AUTH) as c:
        body = c.post("/api/v1/images", json={"prompt": "一只猫", "model": "DS-8-CF"}).json()
    assert body["final_prompt"] == "cat"
    assert body["translator"] == "dictionary"
    assert body["translation_note"].startswith("LLM translation failed")
    assert len(image_calls(emulator)) == 1


def test_models_endpoint_describes_parameters(app_server):
    with app_server.client(headers=AUTH) as c:
        body = c.get("/api/v1/models").json()
    assert body["default"] == "@cf/black-forest-labs/flux-1-schnell"
    by_id = {m["id"]: m for m in body["models"]}
    schnell = by_id["@cf/black-forest-labs/flux-1-schnell"]
    assert schnell["size"]["fixed"] is True
    assert [p["name"] for p in schnell["params"]] == ["steps"]
    assert schnell["takes_seed"] is False and "takes no seed" in schnell["seed_note"]
    assert by_id["@cf/lykon/dreamshaper-8-lcm"]["takes_seed"] is True
    assert by_id["@cf/black-forest-labs/flux-2-dev"]["request_encoding"] == "multipart"
    assert by_id["@cf/lykon/dreamshaper-8-lcm"]["aliases"] == ["DS-8-CF"]


def test_healthz_and_docs(app_server):
    with app_server.client() as c:
        assert c.get("/healthz").json()["status"] == "ok"
        assert c.get("/docs").status_code == 200
        spec = c.get("/openapi.json").json()
    assert "/api/image" in spec["paths"] and "/api/v1/images" in spec["paths"]
