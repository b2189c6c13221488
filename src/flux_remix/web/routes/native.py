"""The native API under `/api/v1`: generation with every parameter, models."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from flux_remix.schemas import ImageRequest, NativeImageResponse, PublicFailure, PublicImage
from flux_remix.web.deps import CallerDep, ServiceDep, authenticate
from flux_remix.web.json_response import OrjsonResponse, model_json
from flux_remix.web.json_route import json_post
from flux_remix.web.models_view import describe_models
from flux_remix.web.urls import image_url

router = APIRouter(prefix="/api/v1", tags=["native API"], dependencies=[Depends(authenticate)])


@json_post(router, "/images", response_model=NativeImageResponse)
async def create_images(
    req: ImageRequest, service: ServiceDep, caller: CallerDep, request: Request
) -> OrjsonResponse:
    """Generate images with any model's parameters; returns them with the effective values.

    Every image is stored before the answer and has a URL; `response_format: "url"` leaves
    the base64 out. A `seed` for a model that takes none is refused (400, `param: seed`)."""
    g = await service.generate(req, key_id=caller.key_id)
    inline = req.response_format == "b64_json"
    answer = NativeImageResponse(
        id=g.id,
        created=int(g.created),
        model=g.model_id,
        model_name=g.model_name,
        prompt=g.prompt.original,
        translated_prompt=g.prompt.final,
        final_prompt=g.params["prompt"],
        translator=g.prompt.translator,
        translation_note=g.prompt.note,
        enhanced=g.prompt.enhanced,
        prompt_cache_hit=g.prompt.cached,
        prompt_neurons=g.prompt.neurons,
        aspect_hint=g.prompt.aspect,
        params=g.params,
        images=[
            PublicImage(
                id=i.id,
                url=image_url(request, i),
                b64_json=i.as_base64() if inline else None,
                mime_type=i.mime,
                width=i.width,
                height=i.height,
                seed=i.seed,
                neurons=i.neurons,
                cache=i.cache,
            )
            for i in g.images
        ],
        errors=[PublicFailure(seed=f.seed, type=f.type, message=f.message) for f in g.failures],
        cache=g.cache,
        neurons=g.neurons,
        timings=g.timings.public(),
        demo=g.demo,
        seed_note=g.seed_note,
    )
    return model_json(answer)


@router.get("/models")
async def list_models(service: ServiceDep) -> dict[str, Any]:
    """Every model with its parameter schema, limits, defaults and price formula."""
    return {
        "default": service.resolve_model(None).id,
        "models": describe_models(service.catalog),
    }
