import base64
import io

import pytest
from PIL import Image

from flux_remix.catalog import build_catalog
from flux_remix.errors import InvalidParameterError
from flux_remix.schemas import ImageRequest
from flux_remix.upstream.encode import encode_image_request
from flux_remix.validation import check_final_prompt, validate_request

CATALOG = build_catalog({})


def png_b64(w: int, h: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 30, 30)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def check(model: str, **fields):
    return validate_request(CATALOG.resolve(model), ImageRequest(prompt="a cat", **fields))


@pytest.mark.parametrize(
    ("model", "fields", "field", "needle"),
    [
        ("FLUX.1-Schnell-CF", {"steps": 9}, "steps", "between 1 and 8"),
        ("FLUX.1-Schnell-CF", {"width": 512}, "width", "always makes 1024x1024"),
        ("FLUX.1-Schnell-CF", {"negative_prompt": "dogs"}, "negative_prompt", "does not take"),
        ("FLUX.1-Schnell-CF", {"guidance": 3.5}, "guidance", "does not take"),
        ("SD-XL-Bash-CF", {"steps": 25}, "steps", "between 1 and 20"),
        ("SD-XL-Bash-CF", {"width": 4096}, "width", "between 256 and 2048"),
        ("SD-XL-Bash-CF", {"seed": -1}, "seed", "between 0 and 4294967295"),
        ("phoenix-1.0", {"guidance": 1}, "guidance", "between 2 and 10"),
        ("lucid-origin", {"steps": 41}, "steps", "between 1 and 40"),
        ("flux-2-klein-4b", {"steps": 4}, "steps", "does not take steps"),
        ("flux-2-dev", {"height": 2000}, "height", "between 256 and 1920"),
        ("stable-diffusion-v1-5-img2img", {}, "image", "needs image"),
        ("stable-diffusion-v1-5-img2img", {"image": "!!notb64"}, "image", "not valid base64"),
        (
            "stable-diffusion-v1-5-img2img",
            {"image": base64.b64encode(b"hello").decode()},
            "image",
            "not a readable image",
        ),
        (
            "stable-diffusion-v1-5-img2img",
            {"image": png_b64(64, 64), "strength": 1.5},
            "strength",
            "between 0 and 1",
        ),
        ("flux-2-dev", {"input_images": [png_b64(8, 8)] * 5}, "input_images", "at most 4"),
        ("SD-XL-Bash-CF", {"mask": png_b64(8, 8)}, "mask", "does not take mask"),
    ],
)
def test_invalid_values_name_the_field_and_limit(model, fields, field, needle):
    with pytest.raises(InvalidParameterError) as info:
        check(model, **fields)
    assert info.value.field == field
    assert needle in info.value.message


def encoded(w: int, h: int, fmt: str, mode: str = "RGB") -> str:
    buf = io.BytesIO()
    color = (200, 30, 30, 0) if mode == "RGBA" else (200, 30, 30)
    Image.new(mode, (w, h), color).save(buf, fmt)
    return base64.b64encode(buf.getvalue()).decode()


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_flux2_references_at_512_or_more_are_downscaled_keeping_aspect_with_a_note():
    p = check("flux-2-dev", input_images=[png_b64(1024, 512), png_b64(64, 64)])
    big, small = p.images["input_images"]
    assert (big.width, big.height) == (511, 256) and opened(big.data).size == (511, 256)
    assert (small.width, small.height) == (64, 64)
    (note,) = p.notes
    assert "1024x512" in note and "511x256" in note
    assert p.public()["notes"] == [note]


@pytest.mark.parametrize(
    ("model", "field", "upload", "mime", "mode"),
    [
        ("flux-2-klein-4b", "input_images", [encoded(64, 64, "WEBP")], "image/png", None),
        ("stable-diffusion-v1-5-img2img", "image", encoded(64, 64, "WEBP"), "image/png", "RGB"),
        (
            "stable-diffusion-v1-5-img2img",
            "image",
            encoded(64, 64, "PNG", "RGBA"),
            "image/png",
            "RGB",
        ),
    ],
)
def test_webp_and_alpha_uploads_are_sent_as_png(model, field, upload, mime, mode):
    p = check(model, **{field: upload})
    (image,) = p.images[field]
    assert image.mime == mime and opened(image.data).format == "PNG"
    if mode:
        assert opened(image.data).mode == mode
    assert p.notes and "sent as" in p.notes[0]


def test_a_webp_mask_is_sent_as_a_greyscale_png_and_inputs_are_hashed():
    p = check(
        "stable-diffusion-v1-5-inpainting",
        image=png_b64(64, 64),
        mask=encoded(64, 64, "WEBP"),
    )
    (mask,) = p.images["mask"]
    assert opened(mask.data).mode == "L" and mask.mime == "image/png"
    hashes = p.public()["input_sha256"]
    assert set(hashes) == {"image", "mask"} and all(len(h[0]) == 64 for h in hashes.values())


def test_png_and_jpeg_within_the_limits_go_unchanged():
    upload = png_b64(64, 64)
    p = check("flux-2-dev", input_images=[upload])
    assert p.images["input_images"][0].data == base64.b64decode(upload)
    assert p.notes == ()


def test_defaults_are_filled_and_seed_is_always_set():
    p = check("SD-XL-Lightning-CF")
    assert (p.width, p.height) == (1024, 1024)
    assert p.values == {"steps": 8, "guidance": 7.5}
    assert 0 <= p.seed < 2**32


def test_prompt_over_model_limit_is_refused():
    with pytest.raises(InvalidParameterError, match="at most 2048"):
        validate_request(CATALOG.resolve("FLUX.1-Schnell-CF"), ImageRequest(prompt="x" * 2049))


def test_schnell_body_is_prompt_and_steps_only():
    body = encode_image_request(check("FLUX.1-Schnell-CF"), "a cat")
    assert body.json == {"prompt": "a cat", "steps": 4}


def test_a_model_without_a_seed_has_none_and_refuses_an_explicit_one():
    p = check("FLUX.1-Schnell-CF")
    assert p.seed is None and p.public()["seed"] is None
    with pytest.raises(InvalidParameterError) as info:
        check("FLUX.1-Schnell-CF", seed=7)
    assert info.value.field == "seed"
    assert "takes no seed" in info.value.message and "it takes: prompt, steps" in info.value.message


def test_an_ignored_seed_is_not_used_but_remembered_for_the_note():
    spec = CATALOG.resolve("FLUX.1-Schnell-CF")
    p = validate_request(spec, ImageRequest(prompt="a cat", seed=7), unused_seed="ignore")
    assert (p.seed, p.seed_ignored) == (None, 7)
    assert encode_image_request(p, "a cat").json == {"prompt": "a cat", "steps": 4}
    taken = validate_request(
        CATALOG.resolve("DS-8-CF"), ImageRequest(prompt="a cat", seed=7), unused_seed="ignore"
    )
    assert (taken.seed, taken.seed_ignored) == (7, None)


def test_sd_body_uses_num_steps_and_sizes():
    body = encode_image_request(check("DS-8-CF", seed=7, negative_prompt="blur"), "a cat")
    assert body.json == {
        "prompt": "a cat",
        "width": 512,
        "height": 512,
        "num_steps": 8,
        "guidance": 7.5,
        "seed": 7,
        "negative_prompt": "blur",
    }


def test_img2img_sends_image_b64_and_inpainting_sends_mask_bytes():
    img = png_b64(64, 64)
    body = encode_image_request(check("stable-diffusion-v1-5-inpainting", image=img, mask=img), "x")
    assert body.json is not None
    assert body.json["image_b64"] == img
    assert body.json["mask"] == list(base64.b64decode(img))
    assert body.json["strength"] == 0.8


def test_flux2_is_multipart_with_file_parts():
    body = encode_image_request(check("flux-2-dev", seed=3, input_images=[png_b64(32, 32)]), "x")
    assert body.json is None
    parts = {name: part for name, part in body.files}
    assert {k: v[1] for k, v in parts.items() if v[0] is None} == {
        "prompt": b"x",
        "width": b"1024",
        "height": b"768",
        "steps": b"25",
        "seed": b"3",
    }
    assert parts["input_image_0"][0] == "input_images_0.png"


def test_final_prompt_is_cut_at_a_word_boundary():
    spec = CATALOG.resolve("FLUX.1-Schnell-CF")
    long = ", ".join(["masterpiece"] * 400)
    cut = check_final_prompt(spec, long)
    assert len(cut) <= 2048 and cut.endswith("masterpiece")
