"""Schema validation: the real 5006 messages, body-kind mismatches, 5007 for gone models."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from .helpers import Emu, multipart, png_bytes

SCHNELL = "@cf/black-forest-labs/flux-1-schnell"
KLEIN = "@cf/black-forest-labs/flux-2-klein-4b"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
IMG2IMG = "@cf/runwayml/stable-diffusion-v1-5-img2img"
INPAINT = "@cf/runwayml/stable-diffusion-v1-5-inpainting"


def bad_input(emu: Emu, model: str, **kwargs: Any) -> str:
    """Run a call that must fail validation; return its message."""
    response = emu.run(model, **kwargs)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and body["result"] == {} and body["messages"] == []
    [error] = body["errors"]
    assert error["code"] == 5006
    message: str = error["message"]
    assert message.startswith("AiError: Bad input: Error: ")
    return message.removeprefix("AiError: Bad input: Error: ")


def test_schnell_rejects_width_and_height_exactly(emu: Emu) -> None:
    response = emu.run(SCHNELL, json={"prompt": "a cat", "width": 1024, "height": 1024})
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "AiError: Bad input: Error: Additional or unevaluated properties "
                "'/width, /height' at '/' not allowed",
                "code": 5006,
            }
        ],
        "success": False,
        "result": {},
        "messages": [],
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"prompt": "a", "num_steps": 4},
            "Additional or unevaluated properties '/num_steps' at '/' not allowed",
        ),
        (
            {"prompt": "a", "seed": 1},
            "Additional or unevaluated properties '/seed' at '/' not allowed",
        ),
        ({"prompt": "a", "steps": 9}, "'/steps' must be <= 8"),
        ({"prompt": "a", "steps": "4"}, "Type mismatch of '/steps', 'string' not in 'integer'"),
        ({"prompt": "a", "steps": 2.5}, "Type mismatch of '/steps', 'number' not in 'integer'"),
        ({"steps": 4}, "required properties at '/' are 'prompt'"),
        ({"prompt": ""}, "Length of '/prompt' must be >= 1"),
        ({"prompt": "x" * 2049}, "Length of '/prompt' must be <= 2048"),
    ],
    ids=[
        "num_steps",
        "seed",
        "steps-max",
        "steps-string",
        "steps-float",
        "no-prompt",
        "empty",
        "long",
    ],
)
def test_schnell_schema(emu: Emu, body: dict[str, Any], message: str) -> None:
    assert bad_input(emu, SCHNELL, json=body) == message


def test_schnell_accepts_integral_float_steps(emu: Emu) -> None:
    assert emu.run(SCHNELL, json={"prompt": "a", "steps": 4.0}).status_code == 200


def test_flux2_rejects_json_bodies(emu: Emu) -> None:
    assert (
        bad_input(emu, KLEIN, json={"prompt": "a cat"})
        == "required properties at '/' are 'multipart'"
    )


def test_flux2_rejects_urlencoded_forms(emu: Emu) -> None:
    assert (
        bad_input(emu, KLEIN, data={"prompt": "a cat"})
        == "required properties at '/' are 'multipart'"
    )


@pytest.mark.parametrize(
    ("model", "fields", "message"),
    [
        (
            KLEIN,
            {"prompt": "a", "steps": "4"},
            "Additional or unevaluated properties '/steps' at '/' not allowed",
        ),
        (
            "@cf/black-forest-labs/flux-2-klein-9b",
            {"prompt": "a", "steps": "4"},
            "Additional or unevaluated properties '/steps' at '/' not allowed",
        ),
        (
            KLEIN,
            {"prompt": "a", "width": "wide"},
            "Type mismatch of '/width', 'string' not in 'integer'",
        ),
        (KLEIN, {"prompt": "a", "height": "2000"}, "'/height' must be <= 1920"),
        (KLEIN, {"prompt": "a", "width": "128"}, "'/width' must be >= 256"),
        (KLEIN, {"width": "512"}, "required properties at '/' are 'prompt'"),
        (
            KLEIN,
            {"prompt": "a", "input_image_0": "aGVsbG8="},
            "Type mismatch of '/input_image_0', 'string' not in 'binary'",
        ),
    ],
    ids=[
        "klein4-steps",
        "klein9-steps",
        "width-text",
        "height-max",
        "width-min",
        "no-prompt",
        "image-as-text",
    ],
)
def test_flux2_multipart_schema(emu: Emu, model: str, fields: dict[str, str], message: str) -> None:
    assert bad_input(emu, model, files=multipart(fields)) == message


def test_flux2_dev_accepts_steps(emu: Emu) -> None:
    files = multipart(
        {"prompt": "a", "steps": "4", "guidance": "3.5", "width": "256", "height": "256"}
    )
    response = emu.run("@cf/black-forest-labs/flux-2-dev", files=files)
    assert response.status_code == 200
    assert response.headers["cf-ai-neurons"] == "150.00"  # 1 tile x 37.5 x 4 steps


def test_flux2_reference_images_must_be_small_real_images(emu: Emu) -> None:
    big = multipart({"prompt": "a"}, input_image_0=("big.png", png_bytes(512, 256), "image/png"))
    assert "smaller than 512x512" in bad_input(emu, KLEIN, files=big)
    junk = multipart({"prompt": "a"}, input_image_0=("x.png", b"not an image", "image/png"))
    assert bad_input(emu, KLEIN, files=junk) == "'/input_image_0' is not a valid image"
    small = ("s.png", png_bytes(64, 64), "image/png")
    five = multipart({"prompt": "a"}, **{f"input_image_{i}": small for i in range(5)})
    assert bad_input(emu, KLEIN, files=five) == (
        "Additional or unevaluated properties '/input_image_4' at '/' not allowed"
    )
    four = multipart({"prompt": "a"}, **{f"input_image_{i}": small for i in range(4)})
    assert emu.run(KLEIN, files=four).status_code == 200


def _encoded(fmt: str, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (32, 32), (10, 200, 30) if mode == "RGB" else 200).save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["WEBP", "GIF", "BMP"])
def test_flux2_reference_images_must_be_png_or_jpeg(emu: Emu, fmt: str) -> None:
    """Contract §1.2: `input_image_0..3`, "each an image file (PNG or JPEG)"."""
    part = ("ref.img", _encoded(fmt), f"image/{fmt.lower()}")
    files = multipart({"prompt": "a"}, input_image_0=part)
    assert bad_input(emu, KLEIN, files=files) == (
        f"'/input_image_0' must be a PNG or JPEG image, not {fmt}"
    )
    for ok in ("PNG", "JPEG"):
        good = multipart({"prompt": "a"}, input_image_0=("r", _encoded(ok), "image/png"))
        assert emu.run(KLEIN, files=good).status_code == 200


def test_sd_image_and_mask_must_be_png_or_jpeg(emu: Emu) -> None:
    webp = _encoded("WEBP")
    b64 = base64.b64encode(webp).decode()
    assert bad_input(emu, IMG2IMG, json={"prompt": "a", "image_b64": b64}) == (
        "'/image_b64' must be a PNG or JPEG image, not WEBP"
    )
    body = {"prompt": "a", "image": list(png_bytes(16, 16)), "mask": list(webp)}
    assert bad_input(emu, INPAINT, json=body) == "'/mask' must be a PNG or JPEG image, not WEBP"


def test_sd_num_steps_over_20_is_rejected(emu: Emu) -> None:
    message = bad_input(emu, SDXL, json={"prompt": "a", "num_steps": 25})
    assert message == "'/num_steps' must be <= 20"
    assert (
        emu.run(
            SDXL, json={"prompt": "a", "num_steps": 20, "width": 256, "height": 256}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": "a", "width": 100}, "'/width' must be >= 256"),
        ({"prompt": "a", "strength": 1.5}, "'/strength' must be <= 1"),
        (
            {"prompt": "a", "guidance": "high"},
            "Type mismatch of '/guidance', 'string' not in 'number'",
        ),
        ({"prompt": 5}, "Type mismatch of '/prompt', 'number' not in 'string'"),
    ],
)
def test_sd_schema(emu: Emu, body: dict[str, Any], message: str) -> None:
    assert bad_input(emu, SDXL, json=body) == message


def test_sd_ignores_unknown_fields(emu: Emu) -> None:
    response = emu.run(SDXL, json={"prompt": "a", "width": 256, "height": 256, "sampler": "euler"})
    assert response.status_code == 200


def test_img2img_requires_an_image(emu: Emu) -> None:
    message = bad_input(emu, IMG2IMG, json={"prompt": "a"})
    assert message == (
        "anyOf at '/' not met: required properties at '/' are 'image', "
        "required properties at '/' are 'image_b64'"
    )
    assert bad_input(emu, IMG2IMG, json={"prompt": "a", "image_b64": "%%%"}) == (
        "Invalid data type for base64 input: '/image_b64'"
    )
    not_image = base64.b64encode(b"hello").decode()
    assert bad_input(emu, IMG2IMG, json={"prompt": "a", "image_b64": not_image}) == (
        "'/image_b64' is not a valid image"
    )
    assert "'/image/0' must be <= 255" in bad_input(
        emu, IMG2IMG, json={"prompt": "a", "image": [300]}
    )
    assert (
        emu.run(IMG2IMG, json={"prompt": "a", "image": list(png_bytes(16, 16))}).status_code == 200
    )


def test_inpainting_requires_image_and_mask(emu: Emu) -> None:
    image = list(png_bytes(16, 16))
    assert bad_input(emu, INPAINT, json={"prompt": "a", "image": image}) == (
        "required properties at '/' are 'mask'"
    )


@pytest.mark.parametrize(
    "model",
    ["@cf/qwen/qwen1.5-14b-chat-awq", "@cf/meta/llama-3.1-8b-instruct", "@cf/acme/no-such-model"],
)
def test_unknown_and_retired_models_are_5007(emu: Emu, model: str) -> None:
    response = emu.run(model, json={"prompt": "hi"})
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"message": f"No such model {model} or task", "code": 5007}],
        "success": False,
        "result": {},
        "messages": [],
    }


def test_paid_only_model_is_403_5035(emu: Emu) -> None:
    response = emu.run("@cf/moonshotai/kimi-k2.6", json={"prompt": "hi"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == 5035


def test_invalid_json_body(emu: Emu) -> None:
    message = bad_input(
        emu, SCHNELL, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert message.startswith("Unexpected token in JSON")


def test_non_object_body(emu: Emu) -> None:
    assert bad_input(emu, SCHNELL, json=["a"]) == "Type mismatch of '/', 'array' not in 'object'"


def test_validation_errors_are_free(emu: Emu) -> None:
    bad_input(emu, SCHNELL, json={"prompt": "a", "width": 5})
    [call] = emu.server.state.calls()
    assert call.neurons == 0 and call.fields == ("prompt", "width")
    assert emu.server.state.used(call.account_id) == 0
