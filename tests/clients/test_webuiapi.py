"""The AUTOMATIC1111 API through `webuiapi` (mix1009/sdwebuiapi, a real A1111 client nobody here
wrote), with HTTP Basic auth: the API key as the password, any user name."""

from __future__ import annotations

import threading
import time

import pytest
import webuiapi
from PIL import Image

from flux_remix.emulator import FaultSpec
from tests.api_helpers import image_calls
from tests.conftest import ADMIN_KEY, API_KEY

KLEIN = "@cf/black-forest-labs/flux-2-klein-4b"


def api(server, password: str = API_KEY) -> webuiapi.WebUIApi:
    return webuiapi.WebUIApi(baseurl=f"{server.url}/sdapi/v1", username="me", password=password)


def test_txt2img_answers_images_parameters_and_info(app_server, emulator):
    result = api(app_server).txt2img(
        prompt="a lighthouse", negative_prompt="", seed=42, steps=30, cfg_scale=7, batch_size=2
    )
    assert len(result.images) == 2 and all(isinstance(i, Image.Image) for i in result.images)
    assert result.images[0].size == (1024, 1024)  # the default model, FLUX.1 schnell
    # FLUX.1 schnell takes no seed upstream: the client's seed is ignored and none is claimed
    assert result.info["seed"] is None and result.info["all_seeds"] == [None, None]
    assert all("Seed:" not in text for text in result.info["infotexts"])
    assert result.info["sd_model_name"] == "flux-1-schnell"
    notes = " ".join(result.info["notes"])
    assert "steps 30 is outside" in notes and "used 8" in notes  # fitted, never a 422
    assert "sampler_name" in notes and "takes no guidance" in notes
    assert result.parameters["prompt"] == "a lighthouse"
    assert len(image_calls(emulator)) == 2


def test_models_options_and_util_set_model_select_the_model_for_this_key(app_server, emulator):
    client = api(app_server)
    titles = client.util_get_model_names()
    models = client.get_sd_models()
    assert {"title", "model_name", "hash"} <= set(models[0])
    assert any(t.startswith("flux-2-klein-4b [") for t in titles)
    client.util_set_model("flux-2-klein-4b")
    assert client.util_get_current_model().startswith("flux-2-klein-4b [")
    result = client.txt2img(prompt="a red boat", width=512, height=512, steps=4, seed=42)
    assert result.info["sd_model_name"] == "flux-2-klein-4b"
    assert result.info["seed"] == 42 and "Seed: 42" in result.info["infotexts"][0]
    assert result.images[0].size == (512, 512)
    assert image_calls(emulator)[-1].model == KLEIN


def test_img2img_with_denoising_strength_and_a_mask(app_server, emulator):
    client = api(app_server)
    picture = Image.new("RGB", (64, 64), (200, 10, 10))
    result = client.img2img(images=[picture], prompt="a blue square", denoising_strength=0.4)
    assert len(result.images) == 1
    assert result.info["sd_model_name"] == "stable-diffusion-v1-5-img2img"
    assert result.info["denoising_strength"] == 0.4
    assert any("takes no input image" in n for n in result.info["notes"])
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    painted = client.img2img(images=[picture], mask_image=mask, prompt="a window")
    assert painted.info["sd_model_name"] == "stable-diffusion-v1-5-inpainting"
    assert {"image_b64", "mask", "strength"} <= set(image_calls(emulator)[-1].fields)


def test_img2img_on_a_flux2_checkpoint_sends_reference_images(app_server, emulator):
    client = api(app_server)
    client.util_set_model("flux-2-klein-4b")
    pictures = [Image.new("RGB", (64, 64), c) for c in ((200, 10, 10), (10, 200, 10))]
    result = client.img2img(images=pictures, prompt="both together", width=512, height=512)
    assert result.info["sd_model_name"] == "flux-2-klein-4b"
    assert any("takes no denoising_strength" in n for n in result.info["notes"])
    (call,) = image_calls(emulator)
    assert {"input_image_0", "input_image_1"} <= set(call.fields)


def test_progress_is_idle_then_running_with_the_stage_and_interrupt_cancels(app_server, emulator):
    client = api(app_server)
    idle = client.get_progress()
    assert idle["progress"] == 0.0 and idle["state"]["job_count"] == 0
    delay = 6.0
    emulator.state.add_fault(FaultSpec(kind="slow", delay=delay, count=1))
    answer: dict = {}
    worker = threading.Thread(
        target=lambda: answer.setdefault("r", client.txt2img(prompt="a slow cat")), daemon=True
    )
    started = time.monotonic()
    worker.start()
    running = client.get_progress()
    while running["state"]["job_count"] == 0 and time.monotonic() - started < 10:
        time.sleep(0.05)
        running = client.get_progress()
    assert running["state"]["job_count"] == 1 and running["state"]["job"] == "txt2img"
    assert running["textinfo"] in ("queued", "translating", "generating")
    assert 0 < running["progress"] < 1
    other = api(app_server, ADMIN_KEY)  # another key sees and stops nothing of this one's
    assert other.get_progress()["state"]["job_count"] == 0
    assert other.interrupt() == {}
    time.sleep(0.3)
    assert worker.is_alive()
    assert api(app_server).interrupt() == {}
    worker.join(timeout=delay)
    assert not worker.is_alive() and time.monotonic() - started < delay - 1  # not the delay
    assert answer["r"].images == [] and answer["r"].info["interrupted"] is True
    assert client.get_progress()["state"]["job_count"] == 0
    # the emulator still finishes the abandoned call; let it, so it lands in this test's log
    time.sleep(max(0.0, started + delay + 0.5 - time.monotonic()))


def test_the_lists_clients_read_are_short_and_truthful(app_server):
    client = api(app_server)
    assert [s["name"] for s in client.get_samplers()] == ["Default"]
    assert [s["name"] for s in client.get_schedulers()] == ["automatic"]
    assert [u["name"] for u in client.get_upscalers()] == ["None"]
    assert client.get_latent_upscale_modes() == []
    assert client.get_sd_vae() == []


@pytest.mark.parametrize("password", ["wrong-key", ""])
def test_a_wrong_basic_password_is_401_and_nothing_runs(app_server, emulator, password):
    with pytest.raises(RuntimeError) as info:
        api(app_server, password="x" + password).txt2img(prompt="a cat")
    assert info.value.args[0] == 401
    assert image_calls(emulator) == []
