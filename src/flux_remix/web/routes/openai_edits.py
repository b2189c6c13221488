"""OpenAI `POST /v1/images/edits`: multipart, as the `openai` client and Open WebUI send it.

Fields: `image` (one file) or `image[]` (several), optional `mask`, `prompt`, `model`, `n`,
`size`, `response_format`, and the generations' extension fields (`strength`, `seed`, `steps`,
`guidance`, `negative_prompt`, `translate`, `enhance`). The images go where the model takes them:

| model                          | images                    | mask                             |
|--------------------------------|---------------------------|----------------------------------|
| FLUX.2 dev / klein             | 1-4 reference images      | refused                          |
| SD 1.5 img2img                 | exactly one (+ strength)  | switches to SD 1.5 inpainting    |
| SD 1.5 inpainting              | exactly one               | required; OpenAI's convention    |
|                                |                           | (transparent = edit) converted   |

Then the request is an `ImageRequest` like any other: the same validation, upload
normalisation, pipeline and storage as `/api/v1/images`, and the answer is the generations
answer. The form is read after authentication (the route's dependency), never before.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field, ValidationError
from starlette.datastructures import UploadFile

from flux_remix import b64
from flux_remix.catalog import ModelSpec
from flux_remix.errors import InvalidParameterError
from flux_remix.limits import ImageLimits, decode_image
from flux_remix.openai_aliases import EDIT_DEFAULT
from flux_remix.schemas import MAX_IMAGES_PER_REQUEST, MAX_PROMPT_CHARS
from flux_remix.uploads import openai_mask
from flux_remix.web.deps import CallerDep, ServiceDep, authenticate
from flux_remix.web.json_response import OrjsonResponse
from flux_remix.web.openai_params import (
    OpenAIImageFields,
    image_request,
    openai_images_answer,
    parameter_error,
    resolve_openai_model,
)

router = APIRouter(
    prefix="/v1", tags=["OpenAI-compatible API"], dependencies=[Depends(authenticate)]
)

INPAINTING = "stable-diffusion-v1-5-inpainting"
IMAGE_FIELDS = ("image", "image[]")
MAX_FORM_FILES = 8


class EditFields(OpenAIImageFields):
    """The text fields of an edit request (files are read separately)."""

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="The edit")
    n: int = Field(default=1, ge=1, le=MAX_IMAGES_PER_REQUEST)
    response_format: Literal["url", "b64_json"] | None = None
    strength: float | None = Field(default=None, description="img2img strength (extension)")


@router.post(
    "/images/edits",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["image", "prompt"],
                        "properties": {
                            "image": {"type": "string", "format": "binary"},
                            "image[]": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                            "mask": {"type": "string", "format": "binary"},
                            **{
                                name: {"type": "string"}
                                for name in ("prompt", "model", "n", "size", "response_format")
                            },
                        },
                    }
                }
            },
            "required": True,
        }
    },
)
async def edit_images(request: Request, service: ServiceDep, caller: CallerDep) -> OrjsonResponse:
    """Edit or vary images: FLUX.2 reference images, SD 1.5 img2img, or inpainting with a mask."""
    async with request.form(max_files=MAX_FORM_FILES, max_fields=64) as form:
        texts = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        images = [v for k, v in form.multi_items() if k in IMAGE_FIELDS and _is_file(v)]
        masks = [v for k, v in form.multi_items() if k == "mask" and _is_file(v)]
        uploads = [await _read(f) for f in images]
        mask = await _read(masks[0]) if masks else None
    fields = _fields(texts)
    if fields.model is None:
        fields.model = INPAINTING if mask is not None else EDIT_DEFAULT
    _, spec = resolve_openai_model(service, fields.model)
    notes: list[str] = []
    if mask is not None and spec.param("image") is not None and spec.param("mask") is None:
        notes.append(f"{spec.short_id} with a mask: used {INPAINTING}")
        fields.model = INPAINTING  # SD 1.5 img2img with a mask is SD 1.5 inpainting
        _, spec = resolve_openai_model(service, fields.model)
    limits = ImageLimits.of(service.settings)
    inputs = await asyncio.to_thread(_inputs, spec, uploads, mask, notes, limits)  # a mask decodes
    if fields.strength is not None:
        inputs["strength"] = fields.strength
    req, more = image_request(service, fields.prompt, fields, n=fields.n, inputs=inputs)
    g = await service.generate(req, key_id=caller.key_id, unused_seed="ignore")
    return OrjsonResponse(openai_images_answer(request, g, fields.response_format, notes + more))


def _is_file(value: object) -> bool:
    return isinstance(value, UploadFile)


async def _read(upload: Any) -> str:
    data: bytes = await upload.read()
    return b64.encode(data)


def _fields(texts: dict[str, str]) -> EditFields:
    try:
        return EditFields.model_validate(texts)
    except ValidationError as exc:
        raise parameter_error(exc) from None


def _inputs(
    spec: ModelSpec, images: list[str], mask: str | None, notes: list[str], limits: ImageLimits
) -> dict[str, Any]:
    """Where `spec` takes the uploaded images, as `ImageRequest` fields; 400 naming the field
    for anything it cannot take."""
    if not images:
        raise InvalidParameterError(
            "image", "image is required: send one file as `image`, or several as `image[]`"
        )
    references = spec.param("input_images")
    single = spec.param("image")
    if references is not None:
        if mask is not None:
            raise InvalidParameterError(
                "mask", f"{spec.name} takes no mask; for inpainting use model={INPAINTING}"
            )
        if len(images) > references.max_items:
            raise InvalidParameterError(
                "image",
                f"{spec.name} takes at most {references.max_items} images (got {len(images)})",
            )
        return {"input_images": images}
    if single is None:
        raise InvalidParameterError(
            "model",
            f"{spec.name} takes no input image; edits need a FLUX.2 model (1-4 images), "
            f"stable-diffusion-v1-5-img2img (one image) or {INPAINTING} (an image and a mask)",
        )
    if len(images) > 1:
        raise InvalidParameterError(
            "image", f"{spec.name} takes one image (got {len(images)}); FLUX.2 models take up to 4"
        )
    inputs: dict[str, Any] = {"image": images[0]}
    if mask is not None:
        converted, note = openai_mask(decode_image("mask", mask, limits))
        inputs["mask"] = b64.encode(converted.data)
        notes.append(note)
    return inputs
