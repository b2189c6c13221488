"""AUTOMATIC1111's request and answer shapes (`modules/api/models.py`, `api.py` of
AUTOMATIC1111/stable-diffusion-webui), as far as the clients that call flux-remix read them.

Requests are taken loosely: A1111 clients send dozens of fields (`sampler_name`,
`restore_faces`, `enable_hr`, `alwayson_scripts`, SillyTavern even its own `url` and `auth`), so
every body model allows extra fields and the mapping (a1111_params.py) names what it did not use.
Answers carry what the clients read: `images` (base64), `parameters`, and `info` (a JSON *string*
with `seed`, `all_seeds`, ...); `sd-models` items carry `title`, `model_name`, `hash`.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flux_remix.catalog import ModelSpec
from flux_remix.inflight import Running
from flux_remix.schemas import Generation, RequestModel


class Txt2ImgBody(RequestModel):
    """`POST /sdapi/v1/txt2img`; every other A1111 field is accepted and reported as unused."""

    model_config = ConfigDict(extra="allow")

    prompt: str = ""
    negative_prompt: str | None = None
    seed: int | None = -1
    steps: int | None = None
    cfg_scale: float | None = None
    width: int | None = None
    height: int | None = None
    batch_size: int | None = 1
    n_iter: int | None = 1
    override_settings: dict[str, Any] | None = None


class Img2ImgBody(Txt2ImgBody):
    """`POST /sdapi/v1/img2img`: `init_images` (base64 or data URLs), `mask` (white = repaint,
    as Workers AI takes it), `denoising_strength`."""

    init_images: list[str] | None = None
    mask: str | None = None
    denoising_strength: float | None = 0.75


class A1111Answer(BaseModel):
    images: list[str] = Field(description="Base64 images")
    parameters: dict[str, Any]
    info: str = Field(description="A JSON string: seed, all_seeds, prompt, sd_model_name, ...")


def model_hash(spec: ModelSpec) -> str:
    return hashlib.sha256(spec.id.encode()).hexdigest()


def title(spec: ModelSpec) -> str:
    """A1111's checkpoint title, `name [short hash]`; the name is the model's short id."""
    return f"{spec.short_id} [{model_hash(spec)[:10]}]"


def sd_model_item(spec: ModelSpec) -> dict[str, Any]:
    return {
        "title": title(spec),
        "model_name": spec.short_id,
        "hash": model_hash(spec)[:10],
        "sha256": model_hash(spec),
        "filename": spec.id,
        "config": None,
    }


def options(spec: ModelSpec) -> dict[str, Any]:
    """`GET /sdapi/v1/options`: the settings that mean something here. Open WebUI posts this
    object back with `sd_model_checkpoint` changed, so every key must be accepted again."""
    return {
        "sd_model_checkpoint": title(spec),
        "sd_checkpoint_hash": model_hash(spec),
        "sd_vae": "Automatic",
        "CLIP_stop_at_last_layers": 1,
        "samples_format": "png",
    }


# Truthful short lists: Workers AI exposes no sampler, scheduler, upscaler or VAE choice.
SAMPLERS = [{"name": "Default", "aliases": ["default"], "options": {}}]
SCHEDULERS = [
    {
        "name": "automatic",
        "label": "Automatic",
        "aliases": None,
        "default_rho": None,
        "need_inner_model": None,
    }
]
UPSCALERS = [
    {"name": "None", "model_name": None, "model_path": None, "model_url": None, "scale": None}
]
LATENT_UPSCALE_MODES: list[dict[str, str]] = []
SD_VAES: list[dict[str, str]] = []
SCRIPTS: dict[str, list[str]] = {"txt2img": [], "img2img": []}


def progress(running: list[Running]) -> dict[str, Any]:
    """`GET /sdapi/v1/progress` for the caller: idle, or its oldest running generation."""
    state: dict[str, Any] = {
        "skipped": False,
        "interrupted": False,
        "stopping_generation": False,
        "job": "",
        "job_count": len(running),
        "job_timestamp": "0",
        "job_no": 0,
        "sampling_step": 0,
        "sampling_steps": 0,
    }
    if not running:
        return {
            "progress": 0.0,
            "eta_relative": 0.0,
            "state": state,
            "current_image": None,
            "textinfo": None,
        }
    job = running[0]
    fraction = job.fraction
    elapsed = max(0.0, time.time() - job.started)
    eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
    state.update(
        job=job.label,
        job_timestamp=time.strftime("%Y%m%d%H%M%S", time.gmtime(job.started)),
        job_no=job.stored,
        sampling_steps=job.steps or 0,
        interrupted=job.interrupted,
    )
    return {
        "progress": round(fraction, 3),
        "eta_relative": round(eta, 2),
        "state": state,
        "current_image": None,
        "textinfo": job.stage,
    }


def info(g: Generation, spec: ModelSpec, notes: list[str]) -> str:
    """The `info` JSON string A1111 answers with (`Processed.js()`), for what flux-remix made."""
    params = g.params
    seeds = [i.seed for i in g.images]
    prompt = str(params["prompt"])
    negative = str(params.get("negative_prompt") or "")
    size = f"{params['width']}x{params['height']}"
    infotext = (
        f"{prompt}\nNegative prompt: {negative}\n"
        f"Steps: {params.get('steps', '')}, CFG scale: {params.get('guidance', '')}, "
        f"Size: {size}, Model: {spec.short_id}"
    )
    return json.dumps(
        {
            "prompt": prompt,
            "all_prompts": [prompt] * len(seeds),
            "negative_prompt": negative,
            "all_negative_prompts": [negative] * len(seeds),
            "seed": seeds[0] if seeds else None,
            "all_seeds": seeds,
            "subseed": -1,
            "all_subseeds": [-1] * len(seeds),
            "subseed_strength": 0,
            "width": params["width"],
            "height": params["height"],
            "sampler_name": "Default",
            "cfg_scale": params.get("guidance"),
            "steps": params.get("steps"),
            "batch_size": len(seeds),
            "restore_faces": False,
            "sd_model_name": spec.short_id,
            "sd_model_hash": model_hash(spec)[:10],
            "denoising_strength": params.get("strength"),
            "index_of_first_image": 0,
            "infotexts": [
                infotext.replace(f"Size: {size}", f"Seed: {s}, Size: {size}")
                if s is not None
                else infotext  # a model without a seed: no "Seed:" that could not make it again
                for s in seeds
            ],
            "styles": [],
            "job_timestamp": time.strftime("%Y%m%d%H%M%S", time.gmtime(g.created)),
            "clip_skip": 1,
            "notes": notes,
            "images": [{"id": i.id, "seed": i.seed, "cache": i.cache} for i in g.images],
            "flux_remix": {"id": g.id, "model": g.model_id, "neurons": g.neurons},
        },
        ensure_ascii=False,
    )


def parameters(body: Txt2ImgBody) -> dict[str, Any]:
    """The request's parameters as A1111 echoes them (input images left out, as A1111 does)."""
    echoed = body.model_dump()
    for name in ("init_images", "mask"):
        if name in echoed:
            echoed[name] = None
    echoed.pop("auth", None)  # SillyTavern sends its Basic credentials in the body
    return echoed
