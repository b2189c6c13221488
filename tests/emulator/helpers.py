"""Shared helpers for the emulator tests: constants, a manual clock, image checks."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from PIL import Image

from flux_remix.emulator import EmulatorConfig, EmulatorServer
from flux_remix.emulator.config import demo_account_id

START = datetime(2026, 10, 12, 10, 0, tzinfo=UTC)
ACCOUNT = demo_account_id(1)
OTHER_ACCOUNT = demo_account_id(2)
TOKEN = "demo-token-1"
OTHER_TOKEN = "demo-token-2"


class ManualClock:
    """A clock the tests move by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Emu:
    """A running server plus an authenticated client for account 1."""

    server: EmulatorServer
    client: httpx.Client
    clock: ManualClock

    def run(self, model: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(f"/accounts/{ACCOUNT}/ai/run/{model}", **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.server.root_url}/__emulator__/{path}"
        return httpx.request(method, url, timeout=10, **kwargs)


def start_emulator(**overrides: Any) -> tuple[EmulatorServer, ManualClock]:
    clock = ManualClock()
    config = EmulatorConfig.demo(clock=clock, **overrides)
    return EmulatorServer(config).start(), clock


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def image_of(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def b64_image(response: httpx.Response) -> bytes:
    return base64.b64decode(response.json()["result"]["image"])


def is_png(data: bytes) -> bool:
    return data.startswith(b"\x89PNG\r\n\x1a\n")


def is_jpeg(data: bytes) -> bool:
    return data.startswith(b"\xff\xd8\xff")


def multipart(fields: dict[str, str], **files: tuple[str, bytes, str]) -> dict[str, Any]:
    """``files=`` for httpx that always yields multipart/form-data (text parts included)."""
    parts: dict[str, Any] = {name: (None, value) for name, value in fields.items()}
    parts.update(files)
    return parts
