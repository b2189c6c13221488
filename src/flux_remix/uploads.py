"""Uploaded images made into what each model takes, before anything is sent upstream.

`limits.decode_image` checks an upload (size, pixels, PNG/JPEG/WebP) without decoding it;
`normalise` then turns it into what the contract lets the model receive:

| input                     | the contract says                     | what is sent             |
|---------------------------|---------------------------------------|--------------------------|
| FLUX.2 reference (files)  | PNG or JPEG, smaller than 512x512     | WebP as PNG; 512 px or   |
|                           | (§1.2, §3.2)                          | more downscaled (aspect) |
| SD 1.5 `image_b64`        | the input image's file bytes (§3.5)   | WebP/alpha as RGB PNG    |
| SD 1.5 inpainting `mask`  | mask file bytes, white = repaint      | WebP/alpha as grey PNG   |

Each change comes back with a note the answer carries (`params.notes`), so the caller knows what
the model saw. OpenAI's mask convention (transparent = edit) is converted by `openai_mask`.
The pixel count was bounded by `decode_image`, so decoding here cannot blow up memory.
"""

from __future__ import annotations

import io

from PIL import Image

from flux_remix.catalog import FLUX2_INPUT_MAX_SIDE, Param
from flux_remix.limits import InputImage

SENDABLE = ("image/png", "image/jpeg")


def normalise(param: Param, index: int, image: InputImage) -> tuple[InputImage, str | None]:
    """`image` as `param` may carry it upstream, and a note when it had to change."""
    label = f"{param.name}[{index}]" if param.max_items > 1 else param.name
    if param.image_encoding == "files":
        return _reference(label, image)
    if param.name == "mask":
        return _converted(label, image, "L")
    return _converted(label, image, "RGB")


def _reference(label: str, image: InputImage) -> tuple[InputImage, str | None]:
    limit = FLUX2_INPUT_MAX_SIDE - 1  # "smaller than 512x512"
    too_big = max(image.width, image.height) > limit
    if image.mime in SENDABLE and not too_big:
        return image, None
    with _open(image) as img:
        out = img.copy()
    notes = []
    if too_big:
        out.thumbnail((limit, limit), Image.Resampling.LANCZOS)
        notes.append(
            f"{label} was {image.width}x{image.height}; downscaled to {out.width}x{out.height} "
            f"(FLUX.2 takes reference images smaller than {FLUX2_INPUT_MAX_SIDE}x"
            f"{FLUX2_INPUT_MAX_SIDE})"
        )
    fmt = "JPEG" if image.mime == "image/jpeg" else "PNG"
    if image.mime not in SENDABLE:
        notes.append(f"{label} was {_name(image)}; sent as PNG")
    return _encoded(out, fmt), "; ".join(notes)


def _converted(label: str, image: InputImage, mode: str) -> tuple[InputImage, str | None]:
    """WebP, or an image with transparency (the model wants no alpha), as a `mode` PNG."""
    with _open(image) as img:
        alpha = _has_alpha(img)
        if image.mime in SENDABLE and not alpha:
            return image, None
        out = (_flatten(img) if alpha else img).convert(mode)
    why = f"{label} was {_name(image)}" + (" with transparency" if alpha else "")
    return _encoded(out, "PNG"), f"{why}; sent as {'greyscale' if mode == 'L' else 'RGB'} PNG"


def openai_mask(mask: InputImage) -> tuple[InputImage, str]:
    """OpenAI's mask (transparent pixels = the area to edit) as Workers AI's inpainting mask
    (white = repaint, black = keep). A mask without an alpha channel is taken as already in
    Workers AI's convention."""
    with _open(mask) as img:
        if not _has_alpha(img):
            return mask, "mask has no transparency; white areas are repainted"
        alpha = img.convert("RGBA").getchannel("A")
    white_where_clear = alpha.point(lambda a: 255 if a == 0 else 0)
    note = "mask converted from OpenAI's convention (transparent = edit) to white = repaint"
    return _encoded(white_where_clear.convert("L"), "PNG"), note


def _open(image: InputImage) -> Image.Image:
    img = Image.open(io.BytesIO(image.data))
    img.load()
    return img


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _flatten(img: Image.Image) -> Image.Image:
    """Transparent areas over white, as an image viewer shows them."""
    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba)


def _encoded(img: Image.Image, fmt: str) -> InputImage:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, "JPEG", quality=95)
    else:
        img.save(buf, "PNG")
    return InputImage(buf.getvalue(), img.width, img.height, f"image/{fmt.lower()}")


def _name(image: InputImage) -> str:
    return image.mime.removeprefix("image/").upper().replace("WEBP", "WebP")
