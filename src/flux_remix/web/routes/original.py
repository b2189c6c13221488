"""The original CF Flux Remix API: `/api/image`, `/api/generate-image`, `/api/models`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from flux_remix.errors import RequestError
from flux_remix.schemas import CacheOutcome, ImageRequest, RequestModel, ResponseFormat
from flux_remix.web.deps import CallerDep, ServiceDep, authenticate
from flux_remix.web.json_response import OrjsonResponse
from flux_remix.web.json_route import json_post
from flux_remix.web.models_view import describe_models
from flux_remix.web.urls import image_url

router = APIRouter(tags=["original API"], dependencies=[Depends(authenticate)])


class ChatMessage(RequestModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ImageBody(RequestModel):
    model_config = ConfigDict(extra="allow")

    messages: list[ChatMessage] = Field(min_length=1)
    model: str | None = None
    stream: bool = False  # accepted for compatibility; the original answered JSON either way
    response_format: ResponseFormat = "b64_json"  # "url": `image` is the stored image's URL


class GenerateImageBody(RequestModel):
    model_config = ConfigDict(extra="allow")

    prompt: str
    model: str | None = None
    response_format: ResponseFormat = "b64_json"  # "url": `image` is the stored image's URL


class OriginalImageResponse(BaseModel):
    prompt: str
    translatedPrompt: str
    image: str = Field(
        description="Base64 of the image bytes (PNG or JPEG, see mimeType); its URL with "
        'response_format "url"'
    )
    url: str = Field(description="Where the stored image is served")
    id: str
    cache: CacheOutcome
    mimeType: str
    model: str
    seed: int | None = Field(description="null when the model takes no seed (see seedNote)")
    seedNote: str | None = Field(default=None, description="Why there is no seed")
    translator: str
    demo: bool


def last_user_text(messages: list[ChatMessage]) -> str:
    """The last user message's text; chat clients send the whole history."""
    for message in reversed(messages):
        if message.role != "user" or message.content is None:
            continue
        if isinstance(message.content, str):
            text = message.content
        else:
            text = " ".join(
                str(part.get("text", ""))
                for part in message.content
                if part.get("type") in ("text", "input_text")
            )
        if text.strip():
            return text.strip()
    raise RequestError("No user message found in messages")


async def _generate(
    service: ServiceDep,
    caller: CallerDep,
    request: Request,
    prompt: str,
    model: str | None,
    response_format: ResponseFormat,
) -> OrjsonResponse:
    generation = await service.generate(
        ImageRequest(prompt=prompt, model=model), key_id=caller.key_id
    )
    image = generation.images[0]
    url = image_url(request, image)
    return OrjsonResponse(  # `OriginalImageResponse`, as a dict (see json_response.py)
        {
            "prompt": generation.prompt.original,
            "translatedPrompt": generation.params["prompt"],
            "image": url if response_format == "url" else image.as_base64(),
            "url": url,
            "id": image.id,
            "cache": image.cache,
            "mimeType": image.mime,
            "model": generation.model_id,
            "seed": image.seed,
            "seedNote": generation.seed_note,
            "translator": generation.prompt.translator,
            "demo": generation.demo,
        }
    )


@json_post(router, "/api/image", response_model=OriginalImageResponse)
async def api_image(
    body: ImageBody, service: ServiceDep, caller: CallerDep, request: Request
) -> OrjsonResponse:
    """Generate from the last user message (the original's chat-style endpoint)."""
    prompt = last_user_text(body.messages)
    return await _generate(service, caller, request, prompt, body.model, body.response_format)


@json_post(router, "/api/generate-image", response_model=OriginalImageResponse)
async def api_generate_image(
    body: GenerateImageBody, service: ServiceDep, caller: CallerDep, request: Request
) -> OrjsonResponse:
    """Generate from a bare prompt."""
    if not body.prompt.strip():
        raise RequestError("Missing prompt or model")
    return await _generate(service, caller, request, body.prompt, body.model, body.response_format)


@router.get("/api/models")
async def api_models(service: ServiceDep) -> dict[str, Any]:
    """The models by alias, in the original's shape (plus an OpenAI-style `data` list)."""
    models = [
        {"id": alias, "name": item["name"], "model": item["id"], "family": item["family"]}
        for item in describe_models(service.catalog)
        for alias in item["aliases"] or [item["short_id"]]
    ]
    return {
        "models": models,
        "object": "list",
        "data": [{"id": m["id"], "object": "model"} for m in models],
    }
