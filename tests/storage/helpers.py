"""Records and image bytes for storage tests."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from PIL import Image

from flux_remix.storage.packs import Packs
from flux_remix.storage.records import ImageRecord, blob_key_for

T0 = 1_760_000_000_000_000  # a fixed creation time (µs) the tests count from


def png_bytes(color: tuple[int, int, int] = (200, 30, 30), size: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, "PNG")
    return buf.getvalue()


def make_record(data: bytes = b"", **overrides: Any) -> ImageRecord:
    image_id = overrides.pop("id", uuid.uuid4().hex)
    fmt = overrides.get("format", "png")
    record = ImageRecord(
        id=image_id,
        generation_id=uuid.uuid4().hex,
        created_us=T0,
        key_id="key_aaaaaaaaaaaa",
        model="@cf/black-forest-labs/flux-1-schnell",
        model_name="FLUX.1 [schnell]",
        prompt="一只猫",
        translated_prompt="a cat",
        enhanced_prompt=None,
        final_prompt="a cat",
        translator="dictionary",
        params={"width": 1024, "height": 1024, "seed": 7, "steps": 4},
        seed=7,
        width=1024,
        height=1024,
        format=fmt,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        account="cf-1",
        neurons=9.6,
        timings={"translate_ms": 1.5, "generate_ms": 800.0},
        blob_key=blob_key_for(image_id, fmt),
    )
    return replace(record, **overrides)


def stored_blobs(images: Path) -> list[str]:
    """The plain key (`{id}.{ext}`) of every blob in an image directory, sorted: one file each
    (images stored before packs) or records in packs (what a killed process left included)."""
    if not images.exists():
        return []
    files = [p.name for p in images.rglob("*") if p.is_file() and p.parent.name != "packs"]
    return sorted(files + [place.name for place in Packs(images / "packs").scan()])
