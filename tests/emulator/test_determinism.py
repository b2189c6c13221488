"""Images are deterministic from (model, prompt, seed, size); no seed means a random one."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from flux_remix.emulator.images import ImageRenderer, RenderRequest, draw_image

from .helpers import ACCOUNT, TOKEN, Emu, b64_image, multipart, start_emulator

SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
SCHNELL = "@cf/black-forest-labs/flux-1-schnell"
KLEIN = "@cf/black-forest-labs/flux-2-klein-4b"


def sdxl(emu: Emu, **fields: object) -> bytes:
    body = {"prompt": "a red fox", "width": 256, "height": 256, **fields}
    response = emu.run(SDXL, json=body)
    assert response.status_code == 200
    return response.content


def test_same_seed_same_bytes(emu: Emu) -> None:
    first = sdxl(emu, seed=42)
    emu.server.state.renderer.clear()  # prove it is not just the cache
    assert sdxl(emu, seed=42) == first


def test_different_seed_prompt_or_model_differ(emu: Emu) -> None:
    base = sdxl(emu, seed=42)
    assert sdxl(emu, seed=43) != base
    assert sdxl(emu, seed=42, prompt="a blue fox") != base
    lightning = emu.run(
        "@cf/lykon/dreamshaper-8-lcm",
        json={"prompt": "a red fox", "width": 256, "height": 256, "seed": 42},
    )
    assert lightning.content != base


def test_no_seed_is_random(emu: Emu) -> None:
    assert sdxl(emu) != sdxl(emu)


def test_flux2_multipart_seed_is_deterministic(emu: Emu) -> None:
    fields = {"prompt": "一只猫", "seed": "9", "width": "256", "height": "256"}
    first = b64_image(emu.run(KLEIN, files=multipart(fields)))
    second = b64_image(emu.run(KLEIN, files=multipart(fields)))
    assert first == second


def test_schnell_without_seed_flag_is_random(emu: Emu) -> None:
    first = b64_image(emu.run(SCHNELL, json={"prompt": "a"}))
    second = b64_image(emu.run(SCHNELL, json={"prompt": "a"}))
    assert first != second


@pytest.fixture(scope="module")
def seeded_schnell() -> Iterator[httpx.Client]:
    server, _ = start_emulator(schnell_accepts_seed=True)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        yield client
    server.stop()


def test_schnell_accepts_seed_with_flag(seeded_schnell: httpx.Client) -> None:
    url = f"/accounts/{ACCOUNT}/ai/run/{SCHNELL}"
    first = seeded_schnell.post(url, json={"prompt": "a", "seed": 5})
    second = seeded_schnell.post(url, json={"prompt": "a", "seed": 5})
    other = seeded_schnell.post(url, json={"prompt": "a", "seed": 6})
    assert first.status_code == 200
    assert first.json()["result"]["image"] == second.json()["result"]["image"]
    assert first.json()["result"]["image"] != other.json()["result"]["image"]
    still_strict = seeded_schnell.post(url, json={"prompt": "a", "width": 512})
    assert still_strict.status_code == 400


def test_renderer_cache_is_bounded() -> None:
    renderer = ImageRenderer(cache_size=2)
    requests = [RenderRequest.build("m", "p", seed, 64, 64, "PNG") for seed in range(3)]
    outputs = [renderer.render(r) for r in requests]
    assert renderer.render(requests[2]) is outputs[2]  # cached
    assert renderer.render(requests[0]) == outputs[0]  # evicted, redrawn identically
    assert draw_image(requests[1]) == outputs[1]


def test_an_image_drawn_without_a_seed_is_labelled_so() -> None:
    """Schnell takes no seed: its label says "no seed" instead of the seed drawn for it."""
    seeded = RenderRequest.build("flux-1-schnell", "a fox", 7, 256, 256, "jpeg")
    unseeded = RenderRequest.build("flux-1-schnell", "a fox", 7, 256, 256, "jpeg", seeded=False)
    assert seeded.digest() != unseeded.digest()
    assert draw_image(seeded) != draw_image(unseeded)
