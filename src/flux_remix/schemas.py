"""Request, result and public response models, split by role.

Requests come in (`ImageRequest`), the service hands back a `Generation` (internal, holds bytes
and the account label), and each API shape turns that into its own public response. No model
here holds an account id, token or API key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from flux_remix import b64
from flux_remix.errors import InvalidParameterError
from flux_remix.settings import TranslateMode
from flux_remix.styles import BY_ID as STYLE_IDS
from flux_remix.styles import check_style

ImageFormat = Literal["png", "jpeg"]
Translator = Literal["llm", "dictionary", "none"]
CacheOutcome = Literal["miss", "hit", "joined"]  # new / answered from storage / shared in flight
ResponseFormat = Literal["b64_json", "url"]

MAX_PROMPT_CHARS = 8192  # a hard cap before any work; each model's own limit is checked too
MAX_IMAGES_PER_REQUEST = 8


class RequestModel(BaseModel):
    """Base of every request body: numbers must be finite (NaN, Infinity and `1e999` are a 422
    naming the field, never a value that reaches a range check or Cloudflare as `null`)."""

    model_config = ConfigDict(allow_inf_nan=False)

    @model_validator(mode="after")
    def _finite_extras(self) -> Self:
        """Fields a shape accepts without knowing them (`extra="allow"`) are held to it too."""
        for name, value in (self.model_extra or {}).items():
            if not _finite(value):
                raise InvalidParameterError(name, f"{name}: must be a finite number")
        return self


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


class ImageRequest(RequestModel):
    """The native generation request (`POST /api/v1/images`); every API shape maps onto it."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="What to draw")
    model: str | None = Field(default=None, description="Alias, short id or upstream model id")
    negative_prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    width: int | None = Field(default=None, description="Output width in pixels")
    height: int | None = Field(default=None, description="Output height in pixels")
    steps: int | None = Field(default=None, description="Diffusion steps")
    guidance: float | None = Field(default=None, description="Guidance scale")
    seed: int | None = Field(default=None, description="Seed; random when unset, always returned")
    strength: float | None = Field(default=None, description="img2img strength (0-1)")
    n: int = Field(default=1, ge=1, le=MAX_IMAGES_PER_REQUEST, description="Images to generate")
    image: str | None = Field(default=None, description="Input image, base64 or data URL")
    mask: str | None = Field(default=None, description="Inpainting mask, base64 or data URL")
    input_images: list[str] | None = Field(
        default=None, description="FLUX.2 reference images, base64 or data URLs"
    )
    translate: TranslateMode | None = Field(
        default=None, description="off / auto (only CJK prompts) / always; server default if unset"
    )
    enhance: bool | None = Field(
        default=None,
        description="Rewrite into a detailed English prompt with the LLM; server default if unset",
    )
    response_format: ResponseFormat = Field(
        default="b64_json", description="b64_json (image bytes inline) or url (/images/{id}.ext)"
    )
    style: str | None = Field(
        default=None,
        description=f"A style preset whose words join the prompt sent: {', '.join(STYLE_IDS)}",
    )

    _style = field_validator("style")(check_style)


@dataclass(frozen=True)
class GeneratedImage:
    id: str  # stable image id; its public URL is /images/{id}.{ext} (see web/urls.py)
    data: bytes
    format: ImageFormat
    width: int
    height: int
    seed: int | None  # None: the model takes no seed
    neurons: float
    account: str  # the account's label, never its id
    cache: CacheOutcome = "miss"
    b64: str | None = field(default=None, repr=False)  # upstream's base64 of `data`, if any

    def as_base64(self) -> str:
        """`data` as base64 text: upstream's own when it sent base64, so it is not encoded
        a second time."""
        return self.b64 if self.b64 is not None else b64.encode(self.data)

    @property
    def mime(self) -> str:
        return f"image/{self.format}"

    @property
    def ext(self) -> str:
        return "jpg" if self.format == "jpeg" else "png"


@dataclass(frozen=True)
class PromptOutcome:
    original: str
    final: str
    translator: Translator
    translated: bool
    note: str | None = None  # why translation was skipped or fell back
    enhanced: bool = False  # the LLM rewrote it into a detailed English prompt
    cached: bool = False  # the LLM's answer came from the prompt cache
    neurons: float = 0.0  # what the LLM call cost (0 when cached, offline or external)
    aspect: str | None = None  # a trailing ratio such as "16:9" cut from the prompt


@dataclass
class Timings:
    translate_ms: float = 0.0
    generate_ms: float = 0.0
    total_ms: float = 0.0

    def public(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Generation:
    """What `ImageService.generate` returns: images plus everything that shaped them."""

    id: str
    model_id: str
    model_name: str
    prompt: PromptOutcome
    params: dict[str, Any]
    images: tuple[GeneratedImage, ...]
    timings: Timings
    demo: bool = False
    created: float = 0.0
    key_id: str | None = None  # the API key that asked (a hash), None with auth off
    failures: tuple[ImageFailure, ...] = field(default_factory=tuple)
    seed_note: str | None = None  # why no seed is reported (the model takes none)

    @property
    def neurons(self) -> float:
        return round(sum(i.neurons for i in self.images), 2)

    @property
    def errors(self) -> tuple[str, ...]:
        """The batch's failed images, one line each (derived from `failures`)."""
        return tuple(str(f) for f in self.failures)

    @property
    def cache(self) -> Literal["hit", "miss", "partial"]:
        """`hit` when no image needed an upstream call, `miss` when all did."""
        fresh = sum(1 for i in self.images if i.cache == "miss")
        return "miss" if fresh == len(self.images) else "hit" if fresh == 0 else "partial"


@dataclass(frozen=True)
class ImageFailure:
    """One image of a batch that could not be made (the others were)."""

    seed: int | None
    type: str  # the error's kind, e.g. "rate_limited"
    message: str

    def __str__(self) -> str:
        which = "an image" if self.seed is None else f"image with seed {self.seed}"
        return f"{which} failed ({self.type}): {self.message}"


class PublicImage(BaseModel):
    id: str
    url: str
    b64_json: str | None = Field(description="Base64 bytes; null with response_format=url")
    mime_type: str
    width: int
    height: int
    seed: int | None = Field(description="null when the model takes no seed (see seed_note)")
    neurons: float
    cache: CacheOutcome


class PublicFailure(BaseModel):
    seed: int | None
    type: str
    message: str


class NativeImageResponse(BaseModel):
    """`POST /api/v1/images`: the images plus the effective parameters that made them."""

    id: str
    created: int
    model: str
    model_name: str
    prompt: str
    translated_prompt: str
    final_prompt: str
    translator: Translator
    translation_note: str | None
    enhanced: bool = Field(default=False, description="The LLM rewrote the prompt (enhance)")
    prompt_cache_hit: bool = Field(default=False, description="The LLM answer came from cache")
    prompt_neurons: float = Field(default=0.0, description="Neurons the LLM call cost")
    aspect_hint: str | None = Field(default=None, description="Ratio cut from the prompt")
    params: dict[str, Any]
    images: list[PublicImage]
    errors: list[PublicFailure] = Field(
        default_factory=list, description="Images of the batch that failed (the rest succeeded)"
    )
    cache: Literal["hit", "miss", "partial"] = "miss"
    neurons: float
    timings: dict[str, float]
    demo: bool
    seed_note: str | None = Field(
        default=None, description="Why the images have no seed: the model takes none"
    )
