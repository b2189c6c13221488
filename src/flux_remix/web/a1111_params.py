"""A1111 request fields mapped onto `ImageRequest`, fitted to the chosen model with a note.

A1111 clients always send steps, a CFG scale and a size from their own settings (Open WebUI's
`IMAGE_STEPS` is 50 by default, SillyTavern's size 512x512), built for a local Stable Diffusion;
refusing them would break the client on every model with other limits. So a value outside the
model's range is brought into it, a field the model does not take is left out, and each such
change is a note in the answer's `info`. What A1111 fields mean here:

| A1111                         | flux-remix                                               |
|-------------------------------|----------------------------------------------------------|
| `batch_size` x `n_iter`       | `n` (at most 8)                                          |
| `cfg_scale`                   | `guidance`                                               |
| `seed` (-1 = random)          | `seed`                                                   |
| `init_images`, `mask`         | `image`/`mask` (SD 1.5) or `input_images` (FLUX.2)       |
| `denoising_strength` (img2img)| `strength`                                               |
| `override_settings.sd_model_checkpoint` | the model for this call                        |

Anything else (`sampler_name`, `restore_faces`, `enable_hr`, `alwayson_scripts` ...) is ignored
and named in the notes when it was set to something.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from flux_remix.catalog import SEED_MAX, ModelSpec, Param
from flux_remix.errors import InvalidParameterError
from flux_remix.schemas import MAX_IMAGES_PER_REQUEST, ImageRequest
from flux_remix.service import ImageService
from flux_remix.web.a1111_shapes import Img2ImgBody, Txt2ImgBody
from flux_remix.web.openai_params import parameter_error

IMG2IMG = "@cf/runwayml/stable-diffusion-v1-5-img2img"
INPAINTING = "@cf/runwayml/stable-diffusion-v1-5-inpainting"
# A1111 fields that carry no request (client plumbing, or set to A1111's defaults by clients).
_QUIET = frozenset({"url", "auth", "send_images", "save_images", "override_settings"})


def for_txt2img(spec: ModelSpec, default: ModelSpec, notes: list[str]) -> ModelSpec:
    """`spec`, or the default model when `spec` needs an input image (img2img models)."""
    if any(p.required and p.kind in ("image", "images") for p in spec.params):
        notes.append(f"{spec.short_id} needs an input image; txt2img used {default.short_id}")
        return default
    return spec


def for_img2img(
    service: ImageService, spec: ModelSpec, body: Img2ImgBody, notes: list[str]
) -> ModelSpec:
    """`spec` when it takes what the body brings, else SD 1.5 img2img or inpainting."""
    if body.mask and spec.param("mask") is None:
        notes.append(f"{spec.short_id} takes no mask; used stable-diffusion-v1-5-inpainting")
        return service.catalog.resolve(INPAINTING)
    if spec.param("image") is None and spec.param("input_images") is None:
        notes.append(f"{spec.short_id} takes no input image; used stable-diffusion-v1-5-img2img")
        return service.catalog.resolve(IMG2IMG)
    return spec


def image_request(spec: ModelSpec, body: Txt2ImgBody, notes: list[str]) -> ImageRequest:
    """The `ImageRequest` for an A1111 body on `spec`, each value fitted to the model."""
    fields: dict[str, Any] = {"prompt": body.prompt, "model": spec.id}
    count = max(1, body.batch_size or 1) * max(1, body.n_iter or 1)
    if count > MAX_IMAGES_PER_REQUEST:
        notes.append(f"batch_size x n_iter = {count}; made {MAX_IMAGES_PER_REQUEST}")
    fields["n"] = min(count, MAX_IMAGES_PER_REQUEST)
    fields.update(_size(spec, body, notes))
    for ours, value in (("steps", body.steps), ("guidance", body.cfg_scale)):
        fitted = _fit(spec, spec.param(ours), ours, value, notes)
        if fitted is not None:
            fields[ours] = fitted
    if body.negative_prompt:
        if spec.param("negative_prompt") is None:
            notes.append(f"{spec.short_id} takes no negative prompt; it was not used")
        else:
            fields["negative_prompt"] = body.negative_prompt
    if body.seed is not None and body.seed != -1:
        if 0 <= body.seed <= SEED_MAX:
            fields["seed"] = body.seed
        else:
            notes.append(f"seed {body.seed} is outside 0-{SEED_MAX}; a random one was used")
    if isinstance(body, Img2ImgBody):
        fields.update(_inputs(spec, body, notes))
    unused = _unused(body)
    if unused:
        notes.append(f"not used by flux-remix: {', '.join(unused)}")
    try:
        return ImageRequest(**fields)
    except ValidationError as exc:
        raise parameter_error(exc) from None


def _size(spec: ModelSpec, body: Txt2ImgBody, notes: list[str]) -> dict[str, int]:
    limits = spec.size
    asked = (body.width, body.height)
    if limits.fixed:
        if any(v is not None and v != limits.default_width for v in asked):
            notes.append(
                f"{spec.short_id} always makes {limits.default_width}x{limits.default_height}; "
                f"the requested {body.width}x{body.height} was not used"
            )
        return {}
    out: dict[str, int] = {}
    for name, value in (("width", body.width), ("height", body.height)):
        if value is None:
            continue
        fitted = min(max(value, limits.minimum), limits.maximum)
        if fitted != value:
            notes.append(
                f"{name} {value} is outside {limits.minimum}-{limits.maximum}; used {fitted}"
            )
        out[name] = fitted
    return out


def _fit(
    spec: ModelSpec, param: Param | None, name: str, value: float | None, notes: list[str]
) -> float | None:
    if value is None:
        return None
    if param is None:
        notes.append(f"{spec.short_id} takes no {name}; {value} was not used")
        return None
    lo = param.minimum if param.minimum is not None else value
    hi = param.maximum if param.maximum is not None else value
    fitted = min(max(value, lo), hi)
    if param.kind == "int":
        fitted = round(fitted)
    if fitted != value:
        notes.append(f"{name} {value} is outside {spec.short_id}'s {lo:g}-{hi:g}; used {fitted}")
    return fitted


def _inputs(spec: ModelSpec, body: Img2ImgBody, notes: list[str]) -> dict[str, Any]:
    images = [i for i in body.init_images or [] if i]
    if not images:
        raise InvalidParameterError("init_images", "img2img needs init_images (base64 images)")
    out: dict[str, Any] = {}
    references = spec.param("input_images")
    if references is not None:
        if len(images) > references.max_items:
            notes.append(f"{spec.short_id} takes {references.max_items} images; used the first")
        out["input_images"] = images[: references.max_items]
        if body.denoising_strength is not None:
            notes.append(f"{spec.short_id} takes no denoising_strength; it was not used")
        return out
    if len(images) > 1:
        notes.append(f"{spec.short_id} takes one image; used the first of {len(images)}")
    out["image"] = images[0]
    if body.mask:
        out["mask"] = body.mask
    strength = _fit(spec, spec.param("strength"), "strength", body.denoising_strength, notes)
    if strength is not None:
        out["strength"] = strength
    return out


def _unused(body: Txt2ImgBody) -> list[str]:
    """Fields the client set to something that flux-remix does not use."""
    extra = body.model_extra or {}
    unused = [
        k for k, v in extra.items() if k not in _QUIET and v not in (None, "", [], {}, False, 0)
    ]
    overrides = {k for k in (body.override_settings or {}) if k != "sd_model_checkpoint"}
    if any((body.override_settings or {}).get(k) is not None for k in overrides):
        unused.append("override_settings")
    return sorted(unused)
