"""Replays of SillyTavern's calls to its "Stable Diffusion WebUI / AUTOMATIC1111" source, and the
fields it reads from the answers.

Source: SillyTavern/SillyTavern 1.12.6 (commit ba6f7b7a98cf7a5eaf4f0e81da9779a9a668ced4, the
stored snapshot): `src/endpoints/stable-diffusion.js` (the server side that calls A1111 with
node-fetch, `Authorization: getBasicAuthHeader(auth)` = `Basic base64(auth)`), and
`public/scripts/extensions/stable-diffusion/index.js` (`generateAutoImage`, whose body the server
forwards as `JSON.stringify(request.body)`: compact JSON in the object literal's key order, the
source's `url` and `auth` included, `seed` and `sd_vae` left out when unset). The values below
are the extension's defaults. It reads: `x.name` of samplers, schedulers, upscalers and latent
upscale modes, `x.model_name` of sd-vae, `x.title` of sd-models, `sd_model_checkpoint` of
options, `progress` and `state.job_count` of progress (after setting a model), `images[0]`.
"""

from __future__ import annotations

import base64
import io

import httpx
from PIL import Image

from tests.api_helpers import image_calls
from tests.conftest import API_KEY

AUTH_TEXT = f"st-user:{API_KEY}"  # the source's "Authentication" setting, user:password


def basic() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(AUTH_TEXT.encode()).decode()}


def get(server, path: str) -> httpx.Response:
    r = httpx.get(f"{server.url}/sdapi/v1/{path}", headers=basic(), timeout=30)
    assert r.status_code == 200, r.text
    return r


def test_ping_and_the_lists_it_reads(app_server):
    get(app_server, "options")  # /ping: only result.ok
    assert [x["name"] for x in get(app_server, "samplers").json()]
    assert [x["name"] for x in get(app_server, "schedulers").json()]
    upscalers = [x["name"] for x in get(app_server, "upscalers").json()]
    latent = [x["name"] for x in get(app_server, "latent-upscale-modes").json()]
    upscalers[1:1] = latent  # "0 = None, then Latent Upscalers, then Upscalers"
    assert upscalers[0] == "None"
    assert [x["model_name"] for x in get(app_server, "sd-vae").json()] == []
    models = [
        {"value": x["title"], "text": x["title"]} for x in get(app_server, "sd-models").json()
    ]
    assert any(m["value"].startswith("dreamshaper-8-lcm [") for m in models)


def test_set_model_then_wait_then_generate(app_server, emulator):
    titles = [x["title"] for x in get(app_server, "sd-models").json()]
    model = next(t for t in titles if t.startswith("stable-diffusion-xl-lightning"))
    set_body = b'{"sd_model_checkpoint":"' + model.encode() + b'"}'
    headers = {"Content-Type": "application/json", **basic()}
    r = httpx.post(f"{app_server.url}/sdapi/v1/options", content=set_body, headers=headers)
    assert r.status_code == 200, r.text
    state = get(app_server, "progress").json()
    assert state["progress"] == 0.0 and state["state"]["job_count"] == 0  # ready at once
    assert get(app_server, "options").json()["sd_model_checkpoint"] == model

    body = (
        '{"url":"' + app_server.url + '","auth":"' + AUTH_TEXT + '",'
        '"prompt":"a knight in a forest","negative_prompt":"lowres, bad anatomy",'
        '"sampler_name":"DPM++ 2M","scheduler":"Automatic","steps":20,"cfg_scale":7,'
        '"width":512,"height":768,"restore_faces":false,"enable_hr":false,'
        '"hr_upscaler":"Latent","hr_scale":2,"denoising_strength":0.7,'
        '"hr_second_pass_steps":0,"override_settings":{"CLIP_stop_at_last_layers":1},'
        '"override_settings_restore_afterwards":true,"clip_skip":1,"save_images":true,'
        '"send_images":true,"do_not_save_grid":false,"do_not_save_samples":false}'
    ).encode()
    r = httpx.post(f"{app_server.url}/sdapi/v1/txt2img", content=body, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    data = r.json()
    image = Image.open(io.BytesIO(base64.b64decode(data["images"][0])))
    assert image.size == (512, 768)
    (call,) = image_calls(emulator)
    assert call.model == "@cf/bytedance/stable-diffusion-xl-lightning"
    assert API_KEY not in r.text  # the `auth` it sends in the body is not echoed back


def test_interrupt_when_the_browser_leaves_has_no_body(app_server):
    r = httpx.post(f"{app_server.url}/sdapi/v1/interrupt", headers=basic())
    assert r.status_code == 200 and r.json() == {}


def test_empty_auth_setting_is_refused_with_a_basic_challenge(app_server, emulator):
    # `Basic ${base64("")}` is "Basic ", which fetch's Headers trim to "Basic"
    r = httpx.get(f"{app_server.url}/sdapi/v1/options", headers={"Authorization": "Basic"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Basic"
    assert r.json()["error"] == "authentication_error"
