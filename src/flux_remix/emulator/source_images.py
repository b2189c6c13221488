"""Input images sent with a request: FLUX.2 reference files, SD ``image``/``image_b64``/``mask``.

Each must decode as a real PNG or JPEG image ("each an image file (PNG or JPEG)", contract
§1.2; WebP, GIF and the rest are refused); FLUX.2 references must be smaller than 512×512 and
at most four. Problems raise :class:`BadInput` (400 / 5006).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from flux_remix.emulator.validate import BadInput, Upload

MAX_REFERENCE_SIDE = 512
MAX_REFERENCES = 4
FORMATS = ("PNG", "JPEG")


@dataclass(frozen=True)
class SourceImage:
    """A decoded input image: its bytes, size and a digest for cache keys."""

    data: bytes
    width: int
    height: int

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:16]

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


def open_image(data: bytes, pointer: str) -> SourceImage:
    """Decode ``data`` enough to know it is an image and how large it is."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            width, height = image.size
            fmt = image.format or "unknown"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BadInput(f"'{pointer}' is not a valid image") from exc
    if fmt not in FORMATS:
        raise BadInput(f"'{pointer}' must be a PNG or JPEG image, not {fmt}")
    return SourceImage(data, width, height)


def reference_images(values: Mapping[str, object]) -> list[SourceImage]:
    """FLUX.2 ``input_image_0..3`` file parts, in index order."""
    found: list[SourceImage] = []
    for index in range(MAX_REFERENCES):
        name = f"input_image_{index}"
        upload = values.get(name)
        if not isinstance(upload, Upload):
            continue
        image = open_image(upload.data, f"/{name}")
        if image.width >= MAX_REFERENCE_SIDE or image.height >= MAX_REFERENCE_SIDE:
            raise BadInput(
                f"All input images must be smaller than 512x512; '/{name}' is "
                f"{image.width}x{image.height}"
            )
        found.append(image)
    return found


def _bytes_field(values: Mapping[str, object], name: str) -> bytes | None:
    value = values.get(name)
    if isinstance(value, list):
        return bytes(int(v) for v in value)
    return None


def sd_source(values: Mapping[str, object]) -> SourceImage | None:
    """The SD source image from ``image_b64`` (preferred) or the ``image`` byte array."""
    encoded = values.get("image_b64")
    if isinstance(encoded, str):
        try:
            data = base64.b64decode("".join(encoded.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadInput("Invalid data type for base64 input: '/image_b64'") from exc
        return open_image(data, "/image_b64")
    data_array = _bytes_field(values, "image")
    return open_image(data_array, "/image") if data_array is not None else None


def sd_mask(values: Mapping[str, object]) -> SourceImage | None:
    data = _bytes_field(values, "mask")
    return open_image(data, "/mask") if data is not None else None
