"""Procedural stand-in images, deterministic from (model, prompt, seed, size, inputs).

A gradient with translucent shapes and a little grain (so JPEGs weigh a realistic
100–200 KB at 1024²), labelled "EMULATED — not AI" with the model, seed and prompt.
Rendering is CPU work: :meth:`ImageRenderer.render_async` runs it in a worker thread, and a
small LRU cache keeps repeated requests (benchmarks) from being dominated by drawing.
"""

from __future__ import annotations

import hashlib
import io
import random
import textwrap
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

import anyio.to_thread
from PIL import Image, ImageChops, ImageDraw, ImageFont

from flux_remix.emulator.source_images import SourceImage

LABEL = "EMULATED — not AI"
GRAIN = 16
JPEG_QUALITY = 85

ImageFormat = Literal["PNG", "JPEG"]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class RenderRequest:
    """Everything that determines the pixels; equal requests give identical bytes."""

    model: str
    prompt: str
    seed: int
    width: int
    height: int
    format: ImageFormat
    sources: tuple[SourceImage, ...] = field(default=(), compare=False, hash=False)
    source_digests: tuple[str, ...] = ()
    seeded: bool = True  # False: the model takes no seed, `seed` was drawn here (not shown)

    @classmethod
    def build(
        cls,
        model: str,
        prompt: str,
        seed: int,
        width: int,
        height: int,
        format: ImageFormat,
        sources: tuple[SourceImage, ...] = (),
        *,
        seeded: bool = True,
    ) -> RenderRequest:
        digests = tuple(s.digest for s in sources)
        return cls(model, prompt, seed, width, height, format, sources, digests, seeded)

    def digest(self) -> bytes:
        key = "\x1f".join(
            [
                self.model,
                self.prompt,
                str(self.seed),
                str(self.width),
                str(self.height),
                self.format,
                *([] if self.seeded else ["unseeded"]),
                *self.source_digests,
            ]
        )
        return hashlib.sha256(key.encode()).digest()


def _color(rng: random.Random, alpha: int | None = None) -> tuple[int, ...]:
    rgb = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    return rgb if alpha is None else (*rgb, alpha)


def _background(rng: random.Random, width: int, height: int) -> Image.Image:
    corners = Image.new("RGB", (2, 2))
    corners.putdata([_color(rng) for _ in range(4)])
    image = corners.resize((width, height), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image, "RGBA")
    side = min(width, height)
    for _ in range(16):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(side // 16 + 1, side // 3 + 2)
        fill = _color(rng, rng.randrange(60, 170))
        shape = rng.randrange(3)
        if shape == 0:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        elif shape == 1:
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=fill)
        else:
            points = [
                (x + rng.randrange(-r, r + 1), y + rng.randrange(-r, r + 1)) for _ in range(3)
            ]
            draw.polygon(points, fill=fill)
    return image


def _grain(rng: random.Random, image: Image.Image) -> Image.Image:
    width, height = image.size
    nw, nh = max(1, width // 2), max(1, height // 2)
    noise = Image.frombytes("L", (nw, nh), rng.randbytes(nw * nh))
    noise = noise.resize((width, height), Image.Resampling.BILINEAR)
    noise = noise.point([128 + (v - 128) * GRAIN // 128 for v in range(256)])
    return ImageChops.add(image, Image.merge("RGB", (noise, noise, noise)), 1.0, -128)


def _thumbnails(image: Image.Image, sources: tuple[SourceImage, ...]) -> None:
    width, height = image.size
    box = max(16, min(width, height) // 5)
    x = width - box - 8
    for source in sources:
        with Image.open(io.BytesIO(source.data)) as opened:
            thumb = opened.convert("RGB")
        thumb.thumbnail((box, box))
        image.paste(thumb, (max(0, x), 8))
        x -= box + 8


def _font(size: int) -> Font:
    """DejaVu Sans where installed (it has the em dash), else Pillow's bundled font."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _size(font: Font) -> float:
    return font.size if isinstance(font, ImageFont.FreeTypeFont) else 11.0


def _label(image: Image.Image, request: RenderRequest) -> None:
    width, height = image.size
    big, small = _font(max(10, width // 20)), _font(max(8, width // 42))
    seed = f"seed {request.seed}" if request.seeded else "no seed"
    details = f"{request.model} · {seed} · {request.width}x{request.height}"
    prompt_lines = textwrap.wrap(request.prompt, width=48, max_lines=3, placeholder=" …")
    lines = [(LABEL, big), (details, small)] + [(line, small) for line in prompt_lines]
    draw = ImageDraw.Draw(image, "RGBA")
    pad = max(4, width // 64)
    line_height = [int(_size(font) * 1.25) for _, font in lines]
    panel_h = sum(line_height) + 2 * pad
    top = max(0, height - panel_h - pad)
    draw.rectangle((pad, top, width - pad, top + panel_h), fill=(0, 0, 0, 150))
    y = top + pad
    for (text, font), step in zip(lines, line_height, strict=True):
        try:
            draw.text((2 * pad, y), text, font=font, fill=(255, 255, 255, 255))
        except (RuntimeError, ValueError, UnicodeError):  # text the layout engine cannot shape
            plain = "".join(c if c.isascii() and c.isprintable() else "?" for c in text)
            draw.text((2 * pad, y), plain, font=font, fill=(255, 255, 255, 255))
        y += step


def draw_image(request: RenderRequest) -> bytes:
    """Render and encode one image (pure and deterministic; CPU-bound)."""
    rng = random.Random(request.digest())
    image = _grain(rng, _background(rng, request.width, request.height))
    _thumbnails(image, request.sources)
    _label(image, request)
    buffer = io.BytesIO()
    if request.format == "JPEG":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    else:
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


class ImageRenderer:
    """Thread-safe LRU cache in front of :func:`draw_image`."""

    def __init__(self, cache_size: int = 32) -> None:
        self._cache_size = cache_size
        self._cache: OrderedDict[RenderRequest, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def _cached(self, request: RenderRequest) -> bytes | None:
        with self._lock:
            cached = self._cache.get(request)
            if cached is not None:
                self._cache.move_to_end(request)
            return cached

    def render(self, request: RenderRequest) -> bytes:
        cached = self._cached(request)
        if cached is not None:
            return cached
        data = draw_image(request)
        with self._lock:
            self._cache[request] = data
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return data

    async def render_async(self, request: RenderRequest) -> bytes:
        """:meth:`render` in a worker thread, so the event loop keeps serving (a picture drawn
        before is answered at once)."""
        cached = self._cached(request)
        if cached is not None:
            return cached
        return await anyio.to_thread.run_sync(self.render, request)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
