"""Small helpers shared by the API tests."""

from __future__ import annotations

import base64
import io

from PIL import Image

from flux_remix.emulator import EmulatorServer


def decode_image(b64: str) -> Image.Image:
    data = base64.b64decode(b64)
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def png_b64(w: int, h: int, color: tuple[int, int, int] = (20, 120, 200)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def image_calls(emulator: EmulatorServer) -> list:
    return [
        c for c in emulator.state.calls() if "/ai/run/" in c.endpoint and "@cf/meta" not in c.model
    ]


def text_calls(emulator: EmulatorServer) -> list:
    return [c for c in emulator.state.calls() if c.model.startswith("@cf/meta")]
