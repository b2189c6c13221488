"""OpenAI request fields mapped onto `ImageRequest`, and the effective parameters reported back.

Both OpenAI routes (`/v1/images/generations` and `/v1/chat/completions`) take the same image
fields: `model`, `size` ("WIDTHxHEIGHT" or "auto") and the flux-remix extensions
`negative_prompt`, `steps`, `seed`, `guidance`, `translate`, `enhance`. Fields OpenAI defines that
flux-remix has no use for (`quality`, `style`, `temperature`, ...) are accepted and named in
the answer's `flux_remix.notes`, so a client built for DALL-E still works and nothing is dropped
without a word.

Seeds: a model that takes no seed (FLUX.1 schnell) ignores an explicit `seed` (SDKs and
proxies pass one through) and reports `seed: null`, with the reason in `flux_remix.notes`.

Sizes: a model with a fixed output (FLUX.1 schnell, always 1024x1024) takes any well-formed
size and makes its own, with a note; Open WebUI sends its `IMAGE_SIZE` (512x512 by default)
with every request, and refusing it would break the default setup. Every other model takes a
size inside its limits; outside them the answer is a 400 naming `size` and the limits.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from pydantic import ConfigDict, Field, ValidationError

from flux_remix.catalog import ModelSpec
from flux_remix.errors import InvalidParameterError
from flux_remix.openai_aliases import openai_aliases, openai_model
from flux_remix.schemas import Generation, ImageRequest, RequestModel
from flux_remix.service import ImageService
from flux_remix.settings import TranslateMode
from flux_remix.web.urls import image_url

_SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX×*]\s*(\d{1,5})\s*$")


class OpenAIImageFields(RequestModel):
    """The image fields of an OpenAI body, with flux-remix's extension fields."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(default=None, description="Alias, short id or upstream model id")
    size: str | None = Field(
        default=None, description='"WIDTHxHEIGHT" within the model\'s limits, or "auto"'
    )
    negative_prompt: str | None = Field(default=None, description="What to avoid (extension)")
    steps: int | None = Field(default=None, description="Diffusion steps (extension)")
    seed: int | None = Field(default=None, description="Seed; random when unset (extension)")
    guidance: float | None = Field(default=None, description="Guidance scale (extension)")
    translate: TranslateMode | bool | None = Field(
        default=None,
        description="Prompt translation: off / auto / always, or true (auto) / false (off)",
    )
    enhance: bool | None = Field(
        default=None, description="Rewrite into a detailed English prompt first (extension)"
    )
    user: str | None = Field(default=None, description="End-user id (accepted, not used)")

    def ignored_fields(self) -> list[str]:
        """Fields the client sent that flux-remix does not use."""
        return sorted(self.model_extra or {})


def map_size(spec: ModelSpec, size: str | None) -> tuple[int | None, int | None, list[str]]:
    """`size` as width and height for `spec` (None = the model's default), plus notes."""
    if size is None or size.strip().lower() in ("", "auto"):
        return None, None, []
    match = _SIZE.match(size)
    if match is None:
        raise InvalidParameterError(
            "size", f"size must be WIDTHxHEIGHT such as 1024x768, or auto (got {size!r})"
        )
    width, height = int(match[1]), int(match[2])
    limits = spec.size
    if limits.fixed:
        if (width, height) == (limits.default_width, limits.default_height):
            return None, None, []
        note = (
            f"{spec.name} always makes {limits.default_width}x{limits.default_height} images; "
            f"the requested size {width}x{height} was not used"
        )
        return None, None, [note]
    lo, hi = limits.minimum, limits.maximum
    if not (lo <= width <= hi and lo <= height <= hi):
        raise InvalidParameterError(
            "size",
            f"{spec.name} makes sizes from {lo}x{lo} to {hi}x{hi}; {width}x{height} is outside "
            "that",
        )
    return width, height, []


def resolve_openai_model(service: ImageService, name: str | None) -> tuple[str | None, ModelSpec]:
    """An OpenAI `model` (hard-coded client names through openai_aliases.py) and its spec."""
    model = openai_model(openai_aliases(service.settings), name)
    return model, service.resolve_model(model)


def image_request(
    service: ImageService,
    prompt: str,
    fields: OpenAIImageFields,
    *,
    n: int = 1,
    inputs: dict[str, Any] | None = None,
) -> tuple[ImageRequest, list[str]]:
    """The `ImageRequest` for an OpenAI body (with `inputs`: image, mask, input_images,
    strength), and notes on what was not used as sent.

    Raises `UnknownModelError` or `InvalidParameterError` before any work is done.
    """
    model, spec = resolve_openai_model(service, fields.model)
    width, height, notes = map_size(spec, fields.size)
    translate = fields.translate
    if isinstance(translate, bool):
        translate = "auto" if translate else "off"
    try:
        req = ImageRequest(
            prompt=prompt,
            model=model,
            n=n,
            width=width,
            height=height,
            negative_prompt=fields.negative_prompt,
            steps=fields.steps,
            seed=fields.seed,
            guidance=fields.guidance,
            translate=translate,
            enhance=fields.enhance,
            **(inputs or {}),
        )
    except ValidationError as exc:
        raise parameter_error(exc) from None
    ignored = fields.ignored_fields()
    if ignored:
        notes.append(f"not used by flux-remix: {', '.join(ignored)}")
    return req, notes


def parameter_error(exc: ValidationError) -> InvalidParameterError:
    """A pydantic validation error as an `InvalidParameterError` naming its first field."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return InvalidParameterError(field, f"{field}: {first.get('msg', 'invalid')}")


def openai_images_answer(
    request: Request, g: Generation, response_format: str | None, notes: list[str]
) -> dict[str, Any]:
    """The `/v1/images/*` answer: `data[]` with `url` and/or `b64_json` (both when the client
    named no format: DALL-E clients read `url`, GPT image clients `b64_json`)."""
    url = response_format in ("url", None)
    b64 = response_format in ("b64_json", None)
    data: list[dict[str, Any]] = []
    for image in g.images:  # `OpenAIImage` without its Nones, as a dict (see json_response.py)
        item: dict[str, Any] = {"url": image_url(request, image)} if url else {}
        if b64:
            item["b64_json"] = image.as_base64()
        item["revised_prompt"] = g.params["prompt"]
        item["seed"] = image.seed
        data.append(item)
    return {"created": int(g.created), "data": data, "flux_remix": effective(g, notes)}


def effective(generation: Generation, notes: list[str]) -> dict[str, Any]:
    """The `flux_remix` extension object: everything that shaped the images."""
    g = generation
    return {
        "id": g.id,
        "model": g.model_id,
        "model_name": g.model_name,
        "prompt": g.prompt.original,
        "final_prompt": g.params["prompt"],
        "translator": g.prompt.translator,
        "translation_note": g.prompt.note,
        "enhanced": g.prompt.enhanced,
        "params": g.params,
        "seeds": [i.seed for i in g.images],
        "cache": g.cache,
        "neurons": g.neurons,
        "prompt_neurons": g.prompt.neurons,
        "timings": g.timings.public(),
        "demo": g.demo,
        "notes": [*notes, g.seed_note] if g.seed_note else notes,
        "errors": [{"seed": f.seed, "type": f.type, "message": f.message} for f in g.failures],
    }
