"""Limits are enforced before any work: no translation, no upstream call, nothing stored; each
answer is a clear 413 or 422 (400 in OpenAI's shape) naming the limit, and the server keeps
serving."""

from __future__ import annotations

import base64
import io
import os
import struct
import zlib

import httpx
import pytest
from PIL import Image

from tests.api_helpers import png_b64
from tests.conftest import AUTH

IMG2IMG = "stable-diffusion-v1-5-img2img"


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG header that claims a huge canvas (a decompression bomb's shape):
    only the IDAT is a token few bytes, so nothing here could actually be decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def encoded(image: Image.Image, fmt: str) -> str:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return base64.b64encode(buf.getvalue()).decode()


def nothing_done(emulator, server) -> None:
    assert emulator.state.calls() == []  # no LLM call, no image call
    with server.client(headers=AUTH) as c:
        assert c.get("/api/v1/images").json()["images"] == []
        assert c.get("/healthz").status_code == 200


@pytest.fixture
def small(start_app):
    return start_app(
        FLUX_REMIX_MAX_BODY_BYTES="4096",
        FLUX_REMIX_MAX_IMAGE_BYTES="2048",
        FLUX_REMIX_MAX_IMAGE_PIXELS="10000",
    )


@pytest.mark.parametrize(
    ("path", "shape"),
    [("/api/v1/images", "native"), ("/v1/images/generations", "openai"), ("/api/image", "orig")],
)
def test_a_declared_body_over_the_limit_is_413_before_any_work(small, emulator, path, shape):
    body = {"prompt": "x" * 5000, "messages": [{"role": "user", "content": "y"}]}
    with small.client(headers=AUTH) as c:
        r = c.post(path, json=body)
    assert r.status_code == 413, r.text[:300]
    error = r.json()["error"]
    message = error if shape == "orig" else error["message"]
    assert "4096 bytes" in message and "FLUX_REMIX_MAX_BODY_BYTES" in message
    assert r.headers["x-request-id"]
    nothing_done(emulator, small)


def test_a_streamed_body_without_length_is_cut_at_the_limit(small, emulator):
    sent = 0

    def chunks():
        nonlocal sent
        yield b'{"prompt": "'
        for _ in range(8192):  # 8 MiB, far past the 4 KiB limit
            sent += 1024
            yield b"x" * 1024
        yield b'"}'

    with small.client(headers={**AUTH, "Content-Type": "application/json"}) as c:
        try:
            r = c.post("/api/v1/images", content=chunks())
        except httpx.TransportError:  # the server may close while the client still sends
            r = None
    assert r is not None and r.status_code == 413
    assert r.json()["error"]["type"] == "payload_too_large"
    assert sent < 8192 * 1024  # the rest of the body was never read
    nothing_done(emulator, small)


def test_a_body_under_the_limit_is_served(small, emulator):
    with small.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json={"prompt": "a cat", "model": "DS-8-CF"})
    assert r.status_code == 200, r.text[:300]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/v1/images", {"prompt": "x" * 2049, "model": "FLUX.1-Schnell-CF"}, 422),
        ("/api/v1/prompt", {"prompt": "猫" * 2049, "model": "FLUX.1-Schnell-CF"}, 422),
        ("/v1/images/generations", {"prompt": "x" * 2049, "model": "FLUX.1-Schnell-CF"}, 400),
        ("/api/v1/images", {"prompt": "x" * 9000}, 422),  # the hard cap of every model
    ],
)
def test_a_prompt_over_the_models_limit_is_refused_before_translation(
    app_server, emulator, path, body, status
):
    with app_server.client(headers=AUTH) as c:
        r = c.post(path, json=body)
    assert r.status_code == status, r.text[:300]
    assert r.json()["error"]["param"] == "prompt"
    assert "2048" in r.json()["error"]["message"] or "8192" in r.json()["error"]["message"]
    nothing_done(emulator, app_server)


@pytest.mark.parametrize(
    ("path", "status"), [("/api/v1/images", 422), ("/v1/images/generations", 400)]
)
@pytest.mark.parametrize("n", [0, 9, 1000])
def test_n_outside_1_to_8_is_refused(app_server, emulator, path, status, n):
    with app_server.client(headers=AUTH) as c:
        r = c.post(path, json={"prompt": "a cat", "model": "DS-8-CF", "n": n})
    assert r.status_code == status, r.text[:300]
    assert r.json()["error"]["param"] == "n"
    nothing_done(emulator, app_server)


def upload(server, image: str):
    with server.client(headers=AUTH) as c:
        return c.post("/api/v1/images", json={"prompt": "a cat", "model": IMG2IMG, "image": image})


def test_an_upload_over_the_byte_limit_is_413_without_decoding(small, emulator):
    noise = Image.frombytes("RGB", (28, 28), os.urandom(28 * 28 * 3))  # does not compress
    r = upload(small, encoded(noise, "PNG"))  # over 2048 bytes, in a body under 4096
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"]["param"] == "image"
    assert "FLUX_REMIX_MAX_IMAGE_BYTES" in r.json()["error"]["message"]
    nothing_done(emulator, small)


@pytest.mark.parametrize(("width", "height"), [(101, 100), (65_000, 65_000), (1, 2**31 - 1)])
def test_an_image_claiming_too_many_pixels_is_413_before_decoding(small, emulator, width, height):
    r = upload(small, base64.b64encode(png_claiming(width, height)).decode())
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"]["param"] == "image"
    assert "pixels" in r.json()["error"]["message"]
    nothing_done(emulator, small)


def test_the_default_pixel_limit_refuses_a_decompression_bomb(app_server, emulator):
    bomb = png_claiming(20_000, 20_000)  # 400 megapixels in well under a kilobyte
    assert len(bomb) < 1024
    r = upload(app_server, base64.b64encode(bomb).decode())
    assert r.status_code == 413, r.text[:300]
    assert "16777216" in r.json()["error"]["message"]
    nothing_done(emulator, app_server)


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF")])
def test_only_png_jpeg_and_webp_uploads_are_taken(app_server, emulator, fmt, name):
    r = upload(app_server, encoded(Image.new("RGB", (64, 64), (9, 9, 9)), fmt))
    assert r.status_code == 422, r.text[:300]
    assert r.json()["error"]["param"] == "image"
    assert (
        name in r.json()["error"]["message"] and "PNG, JPEG or WebP" in r.json()["error"]["message"]
    )
    nothing_done(emulator, app_server)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_allowed_formats_within_the_limits_are_served(app_server, emulator, fmt):
    image = png_b64(64, 64) if fmt == "PNG" else encoded(Image.new("RGB", (64, 64)), fmt)
    assert upload(app_server, image).status_code == 200


@pytest.mark.parametrize("limit", [0, 201, 10_000])
def test_history_page_size_outside_1_to_200_is_422(app_server, limit):
    with app_server.client(headers=AUTH) as c:
        r = c.get("/api/v1/images", params={"limit": limit})
    assert r.status_code == 422, r.text[:300]
    assert r.json()["error"]["param"] == "limit"
