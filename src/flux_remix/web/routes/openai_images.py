"""OpenAI `POST /v1/images/generations`: what Open WebUI, LiteLLM and the openai SDK call."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from flux_remix.schemas import MAX_IMAGES_PER_REQUEST, MAX_PROMPT_CHARS
from flux_remix.web.deps import CallerDep, ServiceDep, authenticate
from flux_remix.web.json_response import OrjsonResponse
from flux_remix.web.json_route import json_post
from flux_remix.web.openai_params import OpenAIImageFields, image_request, openai_images_answer

router = APIRouter(
    prefix="/v1", tags=["OpenAI-compatible API"], dependencies=[Depends(authenticate)]
)


class ImagesBody(OpenAIImageFields):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="What to draw")
    n: int = Field(default=1, ge=1, le=MAX_IMAGES_PER_REQUEST, description="Images (seeds +i)")
    response_format: Literal["url", "b64_json"] | None = Field(
        default=None,
        description="url or b64_json; when unset both are sent, so clients written for DALL-E "
        "(which read url) and for GPT Image (which read b64_json) both work",
    )


class OpenAIImage(BaseModel):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str = Field(description="The prompt actually sent upstream")
    seed: int | None = Field(description="null when the model takes no seed (see notes)")


class ImagesResponse(BaseModel):
    created: int
    data: list[OpenAIImage]
    flux_remix: dict[str, Any] = Field(description="Effective parameters (extension)")


@json_post(
    router, "/images/generations", response_model=ImagesResponse, response_model_exclude_unset=True
)
async def create_images(
    body: ImagesBody, request: Request, service: ServiceDep, caller: CallerDep
) -> OrjsonResponse:
    """Generate `n` images; `revised_prompt` is the prompt sent upstream (after translation)."""
    req, notes = image_request(service, body.prompt, body, n=body.n)
    g = await service.generate(req, key_id=caller.key_id, unused_seed="ignore")
    return OrjsonResponse(openai_images_answer(request, g, body.response_format, notes))
