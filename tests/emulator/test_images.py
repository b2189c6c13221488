"""Every image model's success path: output kind, real bytes, size, neurons header."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import pytest

from .helpers import ACCOUNT, Emu, b64_image, image_of, is_jpeg, is_png, multipart, png_bytes


@dataclass(frozen=True)
class Case:
    model: str
    kwargs: dict[str, Any]
    content_type: str
    fmt: str
    size: tuple[int, int]
    neurons: str | None
    via_json: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


SD_BASE = {"prompt": "a lighthouse", "num_steps": 4}
CASES = [
    Case(
        "@cf/black-forest-labs/flux-1-schnell",
        {"json": {"prompt": "a cat"}},
        "application/json",
        "JPEG",
        (1024, 1024),
        "172.80",
        via_json=True,
    ),
    Case(
        "@cf/black-forest-labs/flux-1-schnell",
        {"json": {"prompt": "a cat", "steps": 8}},
        "application/json",
        "JPEG",
        (1024, 1024),
        "326.40",
        via_json=True,
    ),
    Case(
        "@cf/black-forest-labs/flux-2-dev",
        {"files": multipart({"prompt": "a cat", "steps": "20"})},
        "application/json",
        "JPEG",
        (1024, 768),
        "3000.00",
        via_json=True,
    ),
    Case(
        "@cf/black-forest-labs/flux-2-klein-4b",
        {"files": multipart({"prompt": "a cat"})},
        "application/json",
        "JPEG",
        (1024, 768),
        "104.20",
        via_json=True,
    ),
    Case(
        "@cf/black-forest-labs/flux-2-klein-9b",
        {"files": multipart({"prompt": "a cat", "width": "1024", "height": "1024"})},
        "application/json",
        "JPEG",
        (1024, 1024),
        "1363.64",
        via_json=True,
    ),
    Case(
        "@cf/leonardo/lucid-origin",
        {"json": {"prompt": "a cat", "width": 1024, "height": 1024, "num_steps": 10}},
        "application/json",
        "JPEG",
        (1024, 1024),
        "2664.00",
        via_json=True,
    ),
    Case(
        "@cf/leonardo/phoenix-1.0",
        {"json": {"prompt": "a cat", "width": 768, "height": 512}},
        "image/jpeg",
        "JPEG",
        (768, 512),
        None,
    ),
    Case(
        "@cf/stabilityai/stable-diffusion-xl-base-1.0",
        {"json": SD_BASE},
        "image/png",
        "PNG",
        (1024, 1024),
        "0.00",
    ),
    Case(
        "@cf/bytedance/stable-diffusion-xl-lightning",
        {"json": {**SD_BASE, "width": 512, "height": 768}},
        "image/png",
        "JPEG",
        (512, 768),
        "0.00",
    ),
    Case("@cf/lykon/dreamshaper-8-lcm", {"json": SD_BASE}, "image/png", "PNG", (512, 512), "0.00"),
    Case(
        "@cf/runwayml/stable-diffusion-v1-5-img2img",
        {
            "json": {
                **SD_BASE,
                "image_b64": base64.b64encode(png_bytes(64, 64)).decode(),
                "strength": 0.5,
            }
        },
        "image/png",
        "PNG",
        (512, 512),
        "0.00",
    ),
    Case(
        "@cf/runwayml/stable-diffusion-v1-5-inpainting",
        {
            "json": {
                **SD_BASE,
                "image": list(png_bytes(32, 32)),
                "mask": list(png_bytes(32, 32, (255, 255, 255))),
            }
        },
        "image/png",
        "PNG",
        (512, 512),
        "0.00",
    ),
]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c.model.rsplit('/', 1)[-1]}-{i}" for i, c in enumerate(CASES)]
)
def test_image_model_success(emu: Emu, case: Case) -> None:
    response = emu.run(case.model, **case.kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == case.content_type
    assert response.headers.get("cf-ai-neurons") == case.neurons
    assert response.headers["cf-ray"]
    if case.via_json:
        body = response.json()
        assert body["success"] is True and body["errors"] == [] and body["messages"] == []
        data = b64_image(response)
    else:
        data = response.content
    assert (is_jpeg(data), is_png(data)) == (case.fmt == "JPEG", case.fmt == "PNG")
    image = image_of(data)
    assert image.format == case.fmt
    assert image.size == case.size


def test_phoenix_is_billed_without_a_header(emu: Emu) -> None:
    response = emu.run("@cf/leonardo/phoenix-1.0", json={"prompt": "a cat"})
    assert "cf-ai-neurons" not in response.headers
    assert emu.server.state.used(ACCOUNT) == pytest.approx(4 * 530 + 25 * 10)


def test_schnell_jpeg_is_a_realistic_size(emu: Emu) -> None:
    data = b64_image(emu.run("@cf/black-forest-labs/flux-1-schnell", json={"prompt": "size"}))
    assert 80_000 < len(data) < 300_000


def test_flux2_multipart_with_reference_images(emu: Emu) -> None:
    files = multipart(
        {"prompt": "merge these", "width": "512", "height": "512", "seed": "7"},
        input_image_0=("ref0.png", png_bytes(256, 256), "image/png"),
        input_image_1=("ref1.png", png_bytes(500, 300, (0, 90, 200)), "image/jpeg"),
    )
    response = emu.run("@cf/black-forest-labs/flux-2-klein-4b", files=files)
    assert response.status_code == 200, response.text
    assert image_of(b64_image(response)).size == (512, 512)
    # 1 output tile x 26.05 + 2 input tiles x 5.37
    assert response.headers["cf-ai-neurons"] == "36.79"
    [call] = emu.server.state.calls()
    assert call.content_kind == "multipart"
    assert set(call.fields) == {
        "prompt",
        "width",
        "height",
        "seed",
        "input_image_0",
        "input_image_1",
    }


def test_klein_9b_prices_extra_and_input_megapixels(emu: Emu) -> None:
    files = multipart(
        {"prompt": "x", "width": "1536", "height": "1536"},
        input_image_0=("ref.png", png_bytes(256, 256), "image/png"),
    )
    response = emu.run("@cf/black-forest-labs/flux-2-klein-9b", files=files)
    # 2.25 MP: 1363.64 + 1.25 x 181.82 + 0.0625 x 181.82
    assert response.headers["cf-ai-neurons"] == "1602.28"


def test_reject_if_busy_option_is_accepted(emu: Emu) -> None:
    body = {"prompt": "a cat", "options": {"rejectIfBusy": True}}
    assert emu.run("@cf/black-forest-labs/flux-1-schnell", json=body).status_code == 200


def test_percent_encoded_model_id(emu: Emu) -> None:
    response = emu.run("%40cf%2Fblack-forest-labs%2Fflux-1-schnell", json={"prompt": "a cat"})
    assert response.status_code == 200
    assert emu.server.state.calls()[-1].model == "@cf/black-forest-labs/flux-1-schnell"


def test_success_bills_the_ledger(emu: Emu) -> None:
    emu.run("@cf/black-forest-labs/flux-1-schnell", json={"prompt": "a"})
    emu.run("@cf/black-forest-labs/flux-2-klein-4b", files=multipart({"prompt": "b"}))
    assert emu.server.state.used(ACCOUNT) == pytest.approx(172.8 + 104.2)
