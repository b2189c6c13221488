"""Replays of the requests Open WebUI sends, and the fields it reads from the answers.

Source: open-webui/open-webui, `backend/open_webui/routers/images.py` as stored at commit
02530d501461ce58ab06231d7c2ef2024a141ddf (the 0.12 line: `image_generations`, `image_edits`,
`set_image_model`, `get_image_model`, `get_models`, `verify_url`), with
`IMAGE_URL_RESPONSE_MODELS_REGEX_PATTERN = '^gpt-image'` from `backend/open_webui/config.py`.

- The OpenAI engine's `/images/generations` body is `json.dumps` of
  `{'model', 'prompt', 'n', 'size'[, 'response_format': 'b64_json']}` (no `response_format` for a
  model matching `^gpt-image`), sent with `Authorization: Bearer` and
  `Content-Type: application/json`; the exact bytes are replayed below.
- Its `/images/edits` body is an `aiohttp.FormData` built as Open WebUI builds it (text fields
  as `str(value)`, then `image` for one image or `image[]` for several, each named
  `<uuid>.<ext>`), sent through aiohttp as Open WebUI sends it.
- Its A1111 engine calls `GET /sdapi/v1/options` and `sd-models` with a lower-case
  `authorization: Basic base64(AUTOMATIC1111_API_AUTH)` header, posts the whole options object back
  with `sd_model_checkpoint` changed, and posts
  `{'prompt', 'batch_size', 'width', 'height', 'steps'[, 'negative_prompt']}` to `txt2img`.
It reads `data[].url` (fetched with the same headers) or `data[].b64_json`; `title` and
`model_name` of `sd-models`; `sd_model_checkpoint`; `images` and `info` of `txt2img`.
"""

from __future__ import annotations

import base64
import io
import json
import re
import uuid

import aiohttp
import httpx
from PIL import Image

from tests.api_helpers import image_calls
from tests.conftest import API_KEY


def _png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (120, 40, 90)).save(buf, "PNG")
    return buf.getvalue()


def _image_of(item: dict, headers: dict[str, str]) -> bytes:
    """Open WebUI's `get_image_data`: the URL when there is one, else the base64."""
    if url := item.get("url"):
        fetched = httpx.get(url, headers=headers, timeout=30)
        assert fetched.status_code == 200 and fetched.headers["content-type"].startswith("image/")
        return fetched.content
    return base64.b64decode(item["b64_json"])


def test_openai_engine_generations_for_gpt_image_without_response_format(app_server, emulator):
    body = b'{"model": "gpt-image-1", "prompt": "a lighthouse at dusk", "n": 1, "size": "512x512"}'
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    r = httpx.post(f"{app_server.url}/v1/images/generations", content=body, headers=headers)
    assert r.status_code == 200, r.text
    (item,) = r.json()["data"]
    assert item["b64_json"]  # what it expects from a GPT image model
    data = _image_of(item, {"Authorization": f"Bearer {API_KEY}"})
    assert Image.open(io.BytesIO(data)).size == (512, 512)
    assert image_calls(emulator)[0].model == "@cf/black-forest-labs/flux-2-klein-4b"


def test_openai_engine_generations_for_dall_e_3_with_b64_json(app_server, emulator):
    body = (
        b'{"model": "dall-e-3", "prompt": "a red fox", "n": 1, "size": "512x512", '
        b'"response_format": "b64_json"}'
    )
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    r = httpx.post(f"{app_server.url}/v1/images/generations", content=body, headers=headers)
    assert r.status_code == 200, r.text
    (item,) = r.json()["data"]
    assert "url" not in item and base64.b64decode(item["b64_json"])
    notes = r.json()["flux_remix"]["notes"]  # FLUX.1 schnell is 1024x1024 only: said, not refused
    assert any("512x512 was not used" in n for n in notes)


async def _open_webui_edit(base: str, images: list[bytes], model: str) -> dict:
    """`image_edits` with IMAGE_EDIT_ENGINE=openai, line for line."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    size, n = "512x512", None  # IMAGE_EDIT_SIZE set, `n` left out (form_data.n is None)
    data = {
        "model": model,
        "prompt": "put the cat on the sofa",
        **({"n": n} if n else {}),
        **({"size": size} if size else {}),
        **({} if re.match("^gpt-image", model) else {"response_format": "b64_json"}),
    }
    name = "image" if len(images) == 1 else "image[]"
    files = [(name, (f"{uuid.uuid4()}.png", io.BytesIO(image), "image/png")) for image in images]
    form = aiohttp.FormData()
    for key, value in data.items():
        form.add_field(key, json.dumps(value) if isinstance(value, dict) else str(value))
    for param_name, (filename, file_obj, content_type) in files:
        form.add_field(param_name, file_obj, filename=filename, content_type=content_type)
    url = f"{base}/v1/images/edits"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, headers=headers, data=form) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json(content_type=None)


async def test_openai_engine_edits_with_one_and_several_images(app_server, emulator):
    one = await _open_webui_edit(app_server.url, [_png(64, 64)], "gpt-image-1")
    (item,) = one["data"]
    assert Image.open(io.BytesIO(_image_of(item, {}))).size == (512, 512)
    several = await _open_webui_edit(app_server.url, [_png(64, 64), _png(80, 48)], "gpt-image-1.5")
    assert several["flux_remix"]["model"] == "@cf/black-forest-labs/flux-2-klein-9b"
    calls = image_calls(emulator)
    assert "input_image_0" in calls[0].fields
    assert {"input_image_0", "input_image_1"} <= set(calls[1].fields)


async def test_automatic1111_engine(app_server, emulator):
    """verify_url, get_models, set_image_model, get_image_model, then image_generations."""
    base = app_server.url
    headers = {"authorization": "Basic " + base64.b64encode(f"owui:{API_KEY}".encode()).decode()}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/sdapi/v1/options", headers=headers) as r:
            r.raise_for_status()
        async with session.get(f"{base}/sdapi/v1/sd-models", headers=headers) as r:
            models = await r.json()
        listed = [{"id": m["title"], "name": m["model_name"]} for m in models]
        chosen = next(m["id"] for m in listed if m["name"] == "dreamshaper-8-lcm")
        async with session.get(f"{base}/sdapi/v1/options", headers=headers) as r:
            options = await r.json()
        assert chosen != options["sd_model_checkpoint"]
        options["sd_model_checkpoint"] = chosen
        async with session.post(f"{base}/sdapi/v1/options", json=options, headers=headers) as r:
            r.raise_for_status()
        async with session.get(f"{base}/sdapi/v1/options", headers=headers) as r:
            assert (await r.json())["sd_model_checkpoint"] == chosen
        data = {
            "prompt": "a castle",
            "batch_size": 1,
            "width": 512,
            "height": 512,
            "steps": 50,  # IMAGE_STEPS' default
            "negative_prompt": "blurry",
        }
        async with session.post(f"{base}/sdapi/v1/txt2img", json=data, headers=headers) as r:
            res = await r.json(content_type=None)
    (image,) = res["images"]
    assert Image.open(io.BytesIO(base64.b64decode(image))).size == (512, 512)
    info = json.loads(res["info"])
    assert info["sd_model_name"] == "dreamshaper-8-lcm" and info["steps"] == 20
    assert any("steps 50" in n for n in info["notes"])
    (call,) = image_calls(emulator)
    assert call.model == "@cf/lykon/dreamshaper-8-lcm" and "negative_prompt" in call.fields
