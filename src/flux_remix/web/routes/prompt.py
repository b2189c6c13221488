"""`POST /api/v1/prompt`: the translated / enhanced prompt, without generating.

A client shows it, lets the user edit it, and sends the edited text with `translate: "off"`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from flux_remix.catalog import ModelSpec
from flux_remix.schemas import (
    MAX_PROMPT_CHARS,
    ImageRequest,
    PromptOutcome,
    RequestModel,
    Translator,
)
from flux_remix.settings import TranslateMode
from flux_remix.validation import check_final_prompt
from flux_remix.web.deps import ServiceDep, authenticate

router = APIRouter(prefix="/api/v1", tags=["native API"], dependencies=[Depends(authenticate)])


class PromptPreviewRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="What to draw")
    model: str | None = Field(default=None, description="The model it is for (prompt limit, size)")
    translate: TranslateMode | None = Field(
        default=None, description="off / auto (only CJK prompts) / always; server default if unset"
    )
    enhance: bool | None = Field(
        default=None, description="Rewrite into a detailed English prompt; server default if unset"
    )
    width: int | None = Field(default=None, description="A size the request would set")
    height: int | None = Field(default=None, description="A size the request would set")


class PromptPreview(BaseModel):
    prompt: str = Field(description="The prompt as sent")
    final_prompt: str = Field(description="What would go upstream; edit it and send translate=off")
    translator: Translator
    translated: bool
    enhanced: bool
    cache_hit: bool = Field(description="The LLM answer came from the prompt cache")
    note: str | None = Field(description="Why a step was skipped or fell back")
    neurons: float = Field(description="Neurons the LLM call cost")
    model: str
    prompt_max: int = Field(description="The model's prompt limit in characters")
    aspect_hint: str | None = Field(description="A trailing ratio cut from the prompt")
    width: int = Field(description="The width a generation would get")
    height: int = Field(description="The height a generation would get")


def preview_of(spec: ModelSpec, sized: ImageRequest, outcome: PromptOutcome) -> PromptPreview:
    """The public preview of `ImageService.preview_prompt`'s answer (also the CLI's JSON)."""
    size = spec.size
    return PromptPreview(
        prompt=outcome.original,
        final_prompt=check_final_prompt(spec, outcome.final),
        translator=outcome.translator,
        translated=outcome.translated,
        enhanced=outcome.enhanced,
        cache_hit=outcome.cached,
        note=outcome.note,
        neurons=outcome.neurons,
        model=spec.id,
        prompt_max=spec.prompt_max,
        aspect_hint=outcome.aspect,
        width=size.default_width if size.fixed or sized.width is None else sized.width,
        height=size.default_height if size.fixed or sized.height is None else sized.height,
    )


def request_of(body: PromptPreviewRequest) -> ImageRequest:
    return ImageRequest.model_validate(body.model_dump(exclude_none=True))


@router.post("/prompt", response_model=PromptPreview)
async def preview_prompt(body: PromptPreviewRequest, service: ServiceDep) -> PromptPreview:
    """Translate and/or enhance a prompt as a generation would, without generating."""
    return preview_of(*await service.preview_prompt(request_of(body)))
