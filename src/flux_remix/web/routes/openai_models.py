"""OpenAI `GET /v1/models`: the text-to-image models by the names chat apps should send.

Each model appears under each of its aliases (the original's `FLUX.1-Schnell-CF` and
`CUSTOMER_MODEL_MAP` names), or under its short id when it has none; the default model comes
first, as chat apps often pick the first entry. img2img and inpainting models need an input
image that neither OpenAI route carries, so they are not listed (they still resolve by name).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from flux_remix.catalog import ModelSpec
from flux_remix.web.deps import ServiceDep, authenticate

router = APIRouter(
    prefix="/v1", tags=["OpenAI-compatible API"], dependencies=[Depends(authenticate)]
)

OWNER = "cloudflare-workers-ai"


class OpenAIModel(BaseModel):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = OWNER
    name: str = Field(description="Human-readable name (extension)")
    upstream_id: str = Field(description="The Workers AI model id (extension)")


class ModelList(BaseModel):
    object: str = "list"
    data: list[OpenAIModel]


def _entry(name: str, spec: ModelSpec) -> OpenAIModel:
    return OpenAIModel(id=name, name=spec.name, upstream_id=spec.id)


@router.get("/models", response_model=ModelList)
async def list_models(service: ServiceDep) -> ModelList:
    """Text-to-image models, the default first."""
    default = service.resolve_model(None)
    specs = [s for s in service.catalog if s.task == "text-to-image"]
    specs.sort(key=lambda s: s.id != default.id)
    return ModelList(
        data=[
            _entry(name, spec)
            for spec in specs
            for name in service.catalog.aliases_of(spec.id) or [spec.short_id]
        ]
    )


@router.get("/models/{model:path}", response_model=OpenAIModel)
async def retrieve_model(model: str, service: ServiceDep) -> OpenAIModel:
    """One model by any name it answers to (404 for an unknown name)."""
    return _entry(model, service.resolve_model(model))
