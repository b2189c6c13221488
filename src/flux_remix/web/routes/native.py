"""The native API under `/api/v1`: generation with every parameter, models, accounts."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends

from flux_remix.schemas import ImageRequest, NativeImageResponse, PublicImage
from flux_remix.web.deps import AdminDep, CallerDep, RuntimeDep, ServiceDep, authenticate
from flux_remix.web.models_view import describe_models

router = APIRouter(prefix="/api/v1", tags=["native API"], dependencies=[Depends(authenticate)])


@router.post("/images", response_model=NativeImageResponse)
async def create_images(
    req: ImageRequest, service: ServiceDep, caller: CallerDep
) -> NativeImageResponse:
    """Generate images with any model's parameters; returns them with the effective values."""
    g = await service.generate(req, key_id=caller.key_id)
    return NativeImageResponse(
        id=g.id,
        created=int(g.created),
        model=g.model_id,
        model_name=g.model_name,
        prompt=g.prompt.original,
        translated_prompt=g.prompt.final,
        final_prompt=g.params["prompt"],
        translator=g.prompt.translator,
        translation_note=g.prompt.note,
        params=g.params,
        images=[
            PublicImage(
                b64_json=base64.b64encode(i.data).decode("ascii"),
                mime_type=i.mime,
                width=i.width,
                height=i.height,
                seed=i.seed,
                neurons=i.neurons,
            )
            for i in g.images
        ],
        neurons=g.neurons,
        timings=g.timings.public(),
        demo=g.demo,
    )


@router.get("/models")
async def list_models(service: ServiceDep) -> dict[str, Any]:
    """Every model with its parameter schema, limits, defaults and price formula."""
    return {
        "default": service.resolve_model(None).id,
        "models": describe_models(service.catalog),
    }


@router.get("/accounts")
async def list_accounts(runtime: RuntimeDep, _: AdminDep) -> dict[str, Any]:
    """Account health by label (admin only; never ids or tokens)."""
    return {
        "accounts": [
            {
                "label": s.label,
                "state": s.state,
                "reason": s.reason,
                "available_at": s.available_at.isoformat() if s.available_at else None,
                "neurons_today": s.neurons_today,
                "successes": s.successes,
                "failures": s.failures,
            }
            for s in runtime.pool.status()
        ]
    }
