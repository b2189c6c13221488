"""Request limits, each checked before any work is spent on the request.

| limit                        | where it is checked                          | answer |
|------------------------------|----------------------------------------------|--------|
| request body bytes           | web/body_limit.py, while the body streams in | 413    |
| prompt characters (hard cap) | the request models (`MAX_PROMPT_CHARS`)      | 422    |
| prompt characters per model  | `check_prompt`, before translation           | 422    |
| images per request (`n`)     | the request models (`MAX_IMAGES_PER_REQUEST`)| 422    |
| uploaded image bytes         | `decode_image`, from the base64 length       | 413    |
| uploaded image pixels        | `decode_image`, from the header, not decoded | 413    |
| uploaded image format        | `decode_image`: PNG, JPEG or WebP only       | 422    |
| history page size            | the history route (`limit` ≤ 200)            | 422    |

Uploads are never decoded into pixels here: Pillow reads the header only, so a small file that
claims a huge canvas (a decompression bomb) is refused by its claimed size. Pillow's own bomb
guard is turned into an error as well, and only the allowed formats' parsers are tried.
"""

from __future__ import annotations

import binascii
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from flux_remix import b64
from flux_remix.catalog import ModelSpec
from flux_remix.errors import InvalidParameterError, PayloadTooLargeError
from flux_remix.settings import Settings

ALLOWED_IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")
_FORMAT_NAMES = "PNG, JPEG or WebP"


@dataclass(frozen=True)
class InputImage:
    data: bytes
    width: int
    height: int
    mime: str


@dataclass(frozen=True)
class ImageLimits:
    """What an uploaded image (img2img input, mask, FLUX.2 reference) may be."""

    max_bytes: int = 10 * 2**20
    max_pixels: int = 4096 * 4096
    formats: tuple[str, ...] = ALLOWED_IMAGE_FORMATS

    @classmethod
    def of(cls, settings: Settings) -> ImageLimits:
        return cls(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)


def check_prompt(spec: ModelSpec, prompt: str) -> None:
    """The prompt is not blank and fits the model's own limit (checked before translating)."""
    if not prompt.strip():
        raise InvalidParameterError("prompt", "prompt must not be empty")
    if len(prompt) > spec.prompt_max:
        raise InvalidParameterError(
            "prompt",
            f"prompt is {len(prompt)} characters; {spec.name} takes at most {spec.prompt_max}",
        )


def decoded_size(text: str) -> int:
    """The byte length base64 `text` decodes to (for well-formed input), without decoding."""
    stripped = text.rstrip("=")
    return len(stripped) * 3 // 4


def decode_image(name: str, value: str, limits: ImageLimits) -> InputImage:
    """A base64 (or data URL) upload checked against `limits`; never decoded into pixels."""
    text = value.strip()
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    if decoded_size(text) > limits.max_bytes:
        raise PayloadTooLargeError(
            name,
            f"{name} is about {decoded_size(text)} bytes; the limit is {limits.max_bytes} "
            "(FLUX_REMIX_MAX_IMAGE_BYTES)",
        )
    try:
        data = b64.decode(text)
    except (binascii.Error, ValueError):
        raise InvalidParameterError(name, f"{name} is not valid base64") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=limits.formats) as img:
                fmt = img.format or ""
                width, height = img.size
                frames = int(getattr(img, "n_frames", 1))
                _check_pixels(name, width, height, frames, limits)
                img.verify()  # structure and checksums, without decoding pixels
    except (InvalidParameterError, PayloadTooLargeError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLargeError(
            name, f"{name} claims more pixels than the limit of {limits.max_pixels}"
        ) from None
    except UnidentifiedImageError:
        other = _other_format(data)
        if other:
            message = f"{name} is {other} image; only {_FORMAT_NAMES} images are taken"
        else:
            message = f"{name} is not a readable image ({_FORMAT_NAMES})"
        raise InvalidParameterError(name, message) from None
    except Exception:  # Pillow raises many kinds for damaged data
        raise InvalidParameterError(name, f"{name} is not a readable image") from None
    return InputImage(data, width, height, Image.MIME.get(fmt, "application/octet-stream"))


_OTHER_FORMATS = (
    (b"GIF87a", "a GIF"),
    (b"GIF89a", "a GIF"),
    (b"BM", "a BMP"),
    (b"II*\x00", "a TIFF"),
    (b"MM\x00*", "a TIFF"),
    (b"\x00\x00\x01\x00", "an ICO"),
)


def _other_format(data: bytes) -> str | None:
    """The name of a recognisable image format that is not allowed, for a clear message."""
    if data[4:12] in (b"ftypavif", b"ftypheic", b"ftypmif1"):
        return "an AVIF/HEIC"
    return next((name for magic, name in _OTHER_FORMATS if data.startswith(magic)), None)


def _check_pixels(name: str, width: int, height: int, frames: int, limits: ImageLimits) -> None:
    pixels = width * height * max(1, frames)
    if pixels > limits.max_pixels:
        shown = f"{width}x{height}" + (f" x {frames} frames" if frames > 1 else "")
        raise PayloadTooLargeError(
            name,
            f"{name} is {shown} = {pixels} pixels; the limit is {limits.max_pixels} "
            "(FLUX_REMIX_MAX_IMAGE_PIXELS)",
        )
