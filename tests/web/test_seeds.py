"""Seeds are never claimed when unused: FLUX.1 schnell takes none upstream (catalog `takes_seed`).

Every API shape answers `seed: null` with a note for it; the native API refuses an explicit seed
like any parameter a model does not take; the OpenAI shapes (whose SDKs and proxies pass a seed
through) ignore it and say so; nothing is cached and history shows no seed.
"""

from __future__ import annotations

from tests.api_helpers import decode_image, image_calls
from tests.conftest import AUTH

SCHNELL = "FLUX.1-Schnell-CF"


def test_native_refuses_a_seed_for_a_model_that_takes_none(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json={"prompt": "a cat", "model": SCHNELL, "seed": 42})
        jobs = c.post("/api/v1/jobs", json={"prompt": "a cat", "model": SCHNELL, "seed": 42})
    assert r.status_code == 422, r.text  # the native API's status for a parameter it refuses
    error = r.json()["error"]
    assert error["param"] == "seed"
    assert "takes no seed" in error["message"] and "leave seed out" in error["message"]
    assert jobs.status_code == 422 and jobs.json()["error"]["param"] == "seed"
    assert image_calls(emulator) == []  # refused before any work


def test_native_answers_seed_null_with_a_note_and_never_from_the_cache(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        first, second = (
            c.post("/api/v1/images", json={"prompt": "a cat", "model": SCHNELL}).json()
            for _ in range(2)
        )
        history = c.get("/api/v1/images").json()["images"]
    for body in (first, second):
        assert body["images"][0]["seed"] is None and body["params"]["seed"] is None
        assert body["seed_note"].startswith("FLUX.1 [schnell] takes no seed")
        assert body["cache"] == "miss"
    pixels = [decode_image(b["images"][0]["b64_json"]).tobytes() for b in (first, second)]
    assert pixels[0] != pixels[1]  # upstream draws every image anew
    assert [h["seed"] for h in history] == [None, None]
    assert len(image_calls(emulator)) == 2


def test_original_api_reports_seed_null_with_a_note(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        body = c.post("/api/generate-image", json={"prompt": "a cat", "model": SCHNELL}).json()
        seeded = c.post("/api/generate-image", json={"prompt": "a cat", "model": "DS-8-CF"}).json()
    assert body["seed"] is None and "takes no seed" in body["seedNote"]
    assert isinstance(seeded["seed"], int) and seeded["seedNote"] is None


def test_openai_images_ignore_a_seed_the_model_does_not_take_and_say_so(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        r = c.post("/v1/images/generations", json={"prompt": "a cat", "model": SCHNELL, "seed": 42})
        again = c.post(
            "/v1/images/generations", json={"prompt": "a cat", "model": SCHNELL, "seed": 42}
        ).json()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"][0]["seed"] is None
    assert body["flux_remix"]["seeds"] == [None]
    (note,) = [n for n in body["flux_remix"]["notes"] if "seed" in n]
    assert "takes no seed" in note and "the seed 42 sent was not used" in note
    assert again["flux_remix"]["cache"] == "miss"  # an ignored seed never makes a cache key
    assert all("seed" not in call.fields for call in image_calls(emulator))


def test_openai_chat_says_there_is_no_seed(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        body = c.post(
            "/v1/chat/completions",
            json={"model": SCHNELL, "seed": 7, "messages": [{"role": "user", "content": "a cat"}]},
        ).json()
    content = body["choices"][0]["message"]["content"]
    assert "no seed (the model takes none" in content
    assert "seed 7" not in content
