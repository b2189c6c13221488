"""`POST /v1/images/edits` through the official `openai` client: one image (SD 1.5 img2img),
several (FLUX.2 reference images), a mask (SD 1.5 inpainting), `b64_json` and `url`."""

from __future__ import annotations

import hashlib
import io

import httpx
import openai
import pytest
from PIL import Image

from tests.api_helpers import decode_image, image_calls
from tests.conftest import AUTH

IMG2IMG = "stable-diffusion-v1-5-img2img"
INPAINT = "stable-diffusion-v1-5-inpainting"


def picture(w: int, h: int, fmt: str = "PNG", mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    color = (30, 90, 200, 255) if mode == "RGBA" else (30, 90, 200)
    Image.new(mode, (w, h), color).save(buf, fmt)
    return buf.getvalue()


def openai_mask(w: int, h: int) -> bytes:
    """OpenAI's convention: opaque everywhere except a transparent square, the area to edit."""
    img = Image.new("RGBA", (w, h), (0, 0, 0, 255))
    img.paste((0, 0, 0, 0), (w // 4, h // 4, w // 2, h // 2))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_one_image_goes_to_sd15_img2img_with_strength(client, emulator, app_server):
    result = client.images.edit(
        model=IMG2IMG,
        image=("cat.png", picture(64, 64), "image/png"),
        prompt="make it a watercolour",
        response_format="b64_json",
        extra_body={"strength": 0.4, "seed": 11},
    )
    (item,) = result.data
    assert decode_image(item.b64_json).size == (512, 512)
    assert item.revised_prompt == "make it a watercolour"
    effective = result.model_extra["flux_remix"]
    assert effective["model"] == "@cf/runwayml/stable-diffusion-v1-5-img2img"
    assert effective["params"]["strength"] == 0.4
    (call,) = image_calls(emulator)
    assert {"image_b64", "strength", "seed"} <= set(call.fields)
    upload_hash = hashlib.sha256(picture(64, 64)).hexdigest()  # a PNG goes as uploaded
    assert effective["params"]["input_sha256"] == {"image": [upload_hash]}
    with app_server.client(headers=AUTH) as c:
        (stored,) = c.get("/api/v1/images").json()["images"]
    assert stored["params"]["input_sha256"] == {"image": [upload_hash]}


def test_several_images_go_to_flux2_as_references_webp_and_large_ones_normalised(
    client, emulator, app_server
):
    images = [
        ("a.png", picture(64, 64), "image/png"),
        ("b.webp", picture(96, 64, "WEBP"), "image/webp"),
        ("c.jpg", picture(1024, 768, "JPEG"), "image/jpeg"),
    ]
    result = client.images.edit(
        model="gpt-image-1",  # Open WebUI's hard-coded name: a FLUX.2 model by default
        image=images,
        prompt="the cat from the first picture in the room of the second",
        response_format="url",
        size="512x512",
    )
    (item,) = result.data
    assert item.b64_json is None and item.url.startswith(f"{app_server.url}/images/")
    fetched = httpx.get(item.url, timeout=30)
    assert fetched.status_code == 200 and Image.open(io.BytesIO(fetched.content)).size == (512, 512)
    effective = result.model_extra["flux_remix"]
    assert effective["model"] == "@cf/black-forest-labs/flux-2-klein-4b"
    notes = " ".join(effective["params"]["notes"])
    assert "WebP; sent as PNG" in notes and "1024x768; downscaled to 511x383" in notes
    (call,) = image_calls(emulator)
    assert {"input_image_0", "input_image_1", "input_image_2"} <= set(call.fields)


def test_a_mask_goes_to_sd15_inpainting_in_its_convention(client, emulator):
    result = client.images.edit(
        model=INPAINT,
        image=("room.png", picture(64, 64), "image/png"),
        mask=("mask.png", openai_mask(64, 64), "image/png"),
        prompt="a window",
        response_format="b64_json",
    )
    assert decode_image(result.data[0].b64_json).format == "PNG"
    effective = result.model_extra["flux_remix"]
    assert any("transparent = edit" in n for n in effective["notes"])
    (call,) = image_calls(emulator)
    assert {"image_b64", "mask"} <= set(call.fields)


def test_img2img_with_a_mask_is_inpainting(client, emulator):
    result = client.images.edit(
        model=IMG2IMG,
        image=("room.png", picture(64, 64), "image/png"),
        mask=("mask.png", openai_mask(64, 64), "image/png"),
        prompt="a window",
    )
    effective = result.model_extra["flux_remix"]
    assert effective["model"] == "@cf/runwayml/stable-diffusion-v1-5-inpainting"
    assert any("with a mask: used" in n for n in effective["notes"])
    (call,) = image_calls(emulator)
    assert "mask" in call.fields


def test_without_a_model_a_mask_means_inpainting(client, emulator):
    result = client.images.edit(
        image=("room.png", picture(64, 64), "image/png"),
        mask=("mask.png", openai_mask(64, 64), "image/png"),
        prompt="a window",
    )
    effective = result.model_extra["flux_remix"]
    assert effective["model"] == "@cf/runwayml/stable-diffusion-v1-5-inpainting"
    assert result.data[0].b64_json and result.data[0].url  # no response_format: both


def test_converted_mask_is_white_where_openai_mask_is_transparent():
    from flux_remix.limits import InputImage
    from flux_remix.uploads import openai_mask as convert

    converted, _ = convert(InputImage(openai_mask(64, 64), 64, 64, "image/png"))
    img = Image.open(io.BytesIO(converted.data))
    assert img.mode == "L"
    assert img.getpixel((20, 20)) == 255 and img.getpixel((5, 5)) == 0


@pytest.mark.parametrize(
    ("model", "count", "mask", "param", "needle"),
    [
        ("FLUX.1-Schnell-CF", 1, False, "model", "takes no input image"),
        ("flux-2-klein-4b", 5, False, "image", "at most 4 images"),
        ("flux-2-klein-4b", 1, True, "mask", "takes no mask"),
        (IMG2IMG, 2, False, "image", "takes one image"),
        (INPAINT, 1, False, "mask", "needs mask"),
        (IMG2IMG, 0, False, "image", "image is required"),
    ],
)
def test_what_the_model_cannot_take_is_a_400_naming_the_field(
    app_server, emulator, model, count, mask, param, needle
):
    files = [("image[]", (f"{i}.png", picture(32, 32), "image/png")) for i in range(count)]
    if mask:
        files.append(("mask", ("m.png", openai_mask(32, 32), "image/png")))
    with app_server.client(headers=AUTH) as c:
        r = c.post(
            "/v1/images/edits",
            data={"model": model, "prompt": "x"},
            files=files or {"unused": ("u.txt", b"", "text/plain")},
        )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param and needle in error["message"]
    assert image_calls(emulator) == []


def test_the_client_raises_bad_request_for_a_model_without_image_input(client, emulator):
    with pytest.raises(openai.BadRequestError) as info:
        client.images.edit(
            model="dall-e-3", image=("a.png", picture(16, 16), "image/png"), prompt="x"
        )
    assert info.value.body["param"] == "model"
    assert image_calls(emulator) == []


def test_an_edit_without_a_key_is_refused_before_the_form_is_used(app_server, emulator):
    with app_server.client() as c:
        r = c.post(
            "/v1/images/edits",
            data={"model": IMG2IMG, "prompt": "x"},
            files={"image": ("a.png", picture(16, 16), "image/png")},
        )
    assert r.status_code == 401
    assert image_calls(emulator) == []
