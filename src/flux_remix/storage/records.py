"""What is stored about one image, and how history is queried.

`ImageRecord` is the stored row: prompts, model, effective parameters, seed, size, format, byte
size, content hash, account label (never its id), neurons, timings, the id of the API key that
asked (a hash, never the key) and when. Its blob lives under `blob_key` in the blob store;
several rows may share one blob (a cache hit for another key points at the original's bytes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

ImageFormat = Literal["png", "jpeg"]

IMAGE_ID = re.compile(r"^[0-9a-f]{32}$")
BLOB_KEY = re.compile(r"^[0-9a-f]{32}\.(png|jpg)$")
UNHASHED = ""  # `ImageRecord.sha256` before `ImageStore.save` computes it from the bytes


def blob_key_for(image_id: str, fmt: ImageFormat) -> str:
    """The blob key of an image: `{id}.{png|jpg}`; nothing else is ever a key."""
    if not IMAGE_ID.match(image_id):
        raise ValueError(f"not an image id: {image_id!r}")
    return f"{image_id}.{'jpg' if fmt == 'jpeg' else 'png'}"


def check_blob_key(key: str) -> str:
    """Refuse anything that is not `{32 hex}.{png|jpg}` (no separators, no traversal)."""
    if not BLOB_KEY.match(key):
        raise ValueError(f"not a blob key: {key!r}")
    return key


@dataclass(frozen=True)
class ImageRecord:
    """One stored image's metadata (one row of the `images` table)."""

    id: str
    generation_id: str
    created_us: int  # microseconds since the Unix epoch, UTC
    key_id: str | None
    model: str
    model_name: str
    prompt: str  # as the caller wrote it
    translated_prompt: str  # after translation (equals `prompt` when none ran)
    enhanced_prompt: str | None  # after enhancement, when it ran
    final_prompt: str  # what was sent upstream
    translator: str
    params: dict[str, Any]  # every effective parameter of this image
    seed: int | None  # None: the model takes no seed
    width: int
    height: int
    format: ImageFormat
    bytes: int
    sha256: str
    account: str  # label only
    neurons: float  # neurons this row cost (0 for a cache hit)
    timings: dict[str, float]
    blob_key: str
    cache_key: str | None = None  # set when the request had an explicit seed
    source_id: str | None = None  # the image this one was answered from (cache hit / joined)
    demo: bool = False

    @property
    def ext(self) -> str:
        return "jpg" if self.format == "jpeg" else "png"

    @property
    def mime(self) -> str:
        return f"image/{self.format}"

    @property
    def created(self) -> float:
        return self.created_us / 1_000_000


@dataclass(frozen=True)
class HistoryQuery:
    """Filters for listing history, newest first."""

    limit: int = 50
    cursor: tuple[int, str] | None = None  # (created_us, id) of the last row already seen
    text: str | None = None  # substring of any prompt, case-insensitive
    model: str | None = None  # upstream model id
    since_us: int | None = None  # created at or after
    until_us: int | None = None  # created before
    key_id: str | None = None  # only this key's images; None means every key


@dataclass(frozen=True)
class HistoryPage:
    records: list[ImageRecord] = field(default_factory=list)
    next_cursor: tuple[int, str] | None = None

    @classmethod
    def of(cls, rows: list[ImageRecord], limit: int) -> HistoryPage:
        """A page from up to `limit + 1` rows: the extra row only says another page follows."""
        if len(rows) <= limit:
            return cls(rows, None)
        rows = rows[:limit]
        return cls(rows, (rows[-1].created_us, rows[-1].id))
