"""The AUTOMATIC1111 API under `/sdapi/v1`: the subset Open WebUI's `automatic1111` engine,
SillyTavern's Stable Diffusion source and the `webuiapi` client call.

Authentication is the project's: `Authorization: Bearer <key>`, or HTTP Basic with the API key as
the password and any user name (A1111's `--api-auth user:pass`, Open WebUI's
`AUTOMATIC1111_API_AUTH`, SillyTavern's "Authentication"). `sd_model_checkpoint` (options)
selects the model for the calling key; `progress` and `interrupt` act on the caller's running
generations (inflight.py). Generation goes through `ImageService.generate` like every route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Body, Depends, Request

from flux_remix.catalog import ModelSpec
from flux_remix.errors import UnknownModelError
from flux_remix.inflight import InFlight, Interrupted
from flux_remix.service import ImageService, Progress
from flux_remix.web import a1111_params as mapping
from flux_remix.web import a1111_shapes as shapes
from flux_remix.web.a1111_shapes import A1111Answer, Img2ImgBody, Txt2ImgBody
from flux_remix.web.deps import CallerDep, ServiceDep, authenticate

router = APIRouter(
    prefix="/sdapi/v1", tags=["AUTOMATIC1111-compatible API"], dependencies=[Depends(authenticate)]
)

_HASH_SUFFIX = re.compile(r"\s*\[[0-9a-fA-F]{6,64}\]\s*$")


@dataclass
class A1111State:
    """Per app: the checkpoint each key selected, and the generations running now."""

    checkpoints: dict[str | None, str] = field(default_factory=dict)  # key id -> model id
    inflight: InFlight = field(default_factory=InFlight)


def _state(request: Request) -> A1111State:
    state: A1111State = request.app.state.a1111
    return state


def resolve_checkpoint(service: ImageService, name: str) -> ModelSpec:
    """A checkpoint as A1111 clients name it: its title (`name [hash]`), model name, or any
    name the catalog knows."""
    return service.catalog.resolve(_HASH_SUFFIX.sub("", name))


def current_model(request: Request, service: ImageService, key_id: str | None) -> ModelSpec:
    chosen = _state(request).checkpoints.get(key_id)
    return service.catalog.resolve(chosen) if chosen else service.resolve_model(None)


@router.get("/options")
async def get_options(request: Request, service: ServiceDep, caller: CallerDep) -> dict[str, Any]:
    """The options that mean something here; `sd_model_checkpoint` is this key's model."""
    return shapes.options(current_model(request, service, caller.key_id))


@router.post("/options")
async def set_options(
    request: Request,
    service: ServiceDep,
    caller: CallerDep,
    body: dict[str, Any] = Body(default_factory=dict),  # noqa: B008 (FastAPI's idiom)
) -> None:
    """Set options: `sd_model_checkpoint` selects this key's model; the rest is accepted."""
    name = body.get("sd_model_checkpoint")
    if isinstance(name, str) and name.strip():
        _state(request).checkpoints[caller.key_id] = resolve_checkpoint(service, name).id


@router.get("/sd-models")
async def sd_models(service: ServiceDep) -> list[dict[str, Any]]:
    return [shapes.sd_model_item(spec) for spec in service.catalog]


def _constant(value: Any) -> Callable[[], Awaitable[Any]]:
    async def answer() -> Any:
        return value

    return answer


# The lists A1111 clients load to fill their menus (short and truthful, see a1111_shapes.py).
for _path, _value in (
    ("/samplers", shapes.SAMPLERS),
    ("/schedulers", shapes.SCHEDULERS),
    ("/upscalers", shapes.UPSCALERS),
    ("/latent-upscale-modes", shapes.LATENT_UPSCALE_MODES),
    ("/sd-vae", shapes.SD_VAES),
    ("/scripts", shapes.SCRIPTS),
):
    router.add_api_route(_path, _constant(_value), methods=["GET"], name=_path.strip("/"))


@router.get("/progress")
async def progress(request: Request, caller: CallerDep) -> dict[str, Any]:
    """Idle, or the caller's running generation with its stage (`textinfo`)."""
    return shapes.progress(_state(request).inflight.of(caller.key_id))


@router.post("/interrupt")
async def interrupt(request: Request, caller: CallerDep) -> dict[str, Any]:
    """Cancel the caller's running generations (others' are untouched)."""
    _state(request).inflight.interrupt(caller.key_id)
    return {}


@router.post("/txt2img", response_model=A1111Answer)
async def txt2img(
    body: Txt2ImgBody, request: Request, service: ServiceDep, caller: CallerDep
) -> dict[str, Any]:
    return await _generate(request, service, caller.key_id, "txt2img", body)


@router.post("/img2img", response_model=A1111Answer)
async def img2img(
    body: Img2ImgBody, request: Request, service: ServiceDep, caller: CallerDep
) -> dict[str, Any]:
    return await _generate(request, service, caller.key_id, "img2img", body)


def _model_for(
    request: Request, service: ImageService, key_id: str | None, body: Txt2ImgBody, notes: list[str]
) -> ModelSpec:
    """`override_settings.sd_model_checkpoint` for this call, else the key's checkpoint."""
    override = (body.override_settings or {}).get("sd_model_checkpoint")
    if isinstance(override, str) and override.strip():
        try:
            return resolve_checkpoint(service, override)
        except UnknownModelError:
            notes.append(f"override_settings.sd_model_checkpoint {override!r} is unknown")
    return current_model(request, service, key_id)


async def _generate(
    request: Request,
    service: ImageService,
    key_id: str | None,
    label: str,
    body: Txt2ImgBody,
) -> dict[str, Any]:
    """The model for this call (one that takes what the body brings), then the generation as
    an interruptible in-flight one, answered in A1111's shape."""
    notes: list[str] = []
    spec = _model_for(request, service, key_id, body, notes)
    if isinstance(body, Img2ImgBody):
        spec = mapping.for_img2img(service, spec, body, notes)
    else:
        spec = mapping.for_txt2img(spec, service.resolve_model(None), notes)
    req = mapping.image_request(spec, body, notes)

    async def work(progress: Progress) -> Any:
        return await service.generate(req, key_id=key_id, progress=progress, unused_seed="ignore")

    try:
        g = await _state(request).inflight.run(key_id, label, work, steps=req.steps)
    except Interrupted:
        info = json.dumps({"interrupted": True, "notes": [*notes, "interrupted"]})
        return {"images": [], "parameters": shapes.parameters(body), "info": info}
    return {
        "images": [image.as_base64() for image in g.images],
        "parameters": shapes.parameters(body),
        "info": shapes.info(g, spec, notes),
    }
