"""The model catalog: every Workers AI image model as data behind one small interface.

A `ModelSpec` knows its upstream id, its parameters (our names, upstream names, limits and
defaults), its request encoding (JSON or multipart), its output decoding (JSON-base64 or a binary
body) and its neuron price. Nothing else in flux-remix branches on a model id.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from flux_remix.errors import ConfigError, ProxiedModelError, UnknownModelError

Body = Literal["json", "multipart"]
Output = Literal["json_b64", "binary"]
ParamKind = Literal["int", "float", "str", "image", "images"]
# How an image parameter travels: base64 string, JSON array of byte values, multipart file parts.
ImageEncoding = Literal["b64", "byte_array", "files"]


@dataclass(frozen=True)
class Param:
    """One request parameter a model takes, under our name, with its upstream field name.

    `upstream=None` means flux-remix accepts the value but does not send it. A model whose
    upstream schema has no seed (FLUX.1 schnell) simply has no `seed` param: see `takes_seed`.
    """

    name: str
    kind: ParamKind
    upstream: str | None
    minimum: float | None = None
    maximum: float | None = None
    default: float | int | str | None = None
    required: bool = False
    image_encoding: ImageEncoding | None = None
    max_items: int = 1
    description: str = ""


@dataclass(frozen=True)
class SizeSpec:
    """Legal output sizes. `fixed` models (FLUX.1 schnell) get no width/height upstream."""

    minimum: int
    maximum: int
    default_width: int
    default_height: int
    fixed: bool = False


@dataclass(frozen=True)
class PriceInputs:
    width: int
    height: int
    steps: int | None
    input_images: tuple[tuple[int, int], ...] = ()


PriceFormula = Callable[[PriceInputs], float]


@dataclass(frozen=True)
class ModelSpec:
    id: str
    name: str
    family: str
    task: Literal["text-to-image", "image-to-image", "inpainting"]
    body: Body
    output: Output
    size: SizeSpec
    params: tuple[Param, ...]
    price: PriceFormula
    price_note: str
    prompt_max: int = 2048
    description: str = ""
    beta: bool = False
    aliases: tuple[str, ...] = field(default_factory=tuple)
    origin: Literal["builtin", "config", "discovered"] = "builtin"  # see model_families.py
    deprecated: str | None = None  # Cloudflare's planned deprecation date (YYYY-MM-DD)

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    @property
    def takes_seed(self) -> bool:
        """Whether upstream takes a seed, so that an image can be made again from it."""
        seed = self.param("seed")
        return seed is not None and seed.upstream is not None

    @property
    def seed_note(self) -> str | None:
        """Why no seed is reported for this model's images (None when it takes one)."""
        if self.takes_seed:
            return None
        return f"{self.name} takes no seed: every image is new and cannot be made again"

    @property
    def short_id(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    def estimate_neurons(self, inputs: PriceInputs) -> float:
        return round(self.price(inputs), 2)


# --- prices (contract section 6; conservative where measurements disagree) --------------------


def tiles(width: int, height: int) -> int:
    """512x512 tiles, as the pricing page counts them (ceil per side; UNVERIFIED for non-square)."""
    return math.ceil(width / 512) * math.ceil(height / 512)


def _schnell_price(p: PriceInputs) -> float:
    # Published 4.8/tile + 9.6/step = 57.6; measured 172.8 = tiles * (4.8 + 9.6 * steps).
    return tiles(p.width, p.height) * (4.8 + 9.6 * (p.steps or 4))


def _flux2_dev_price(p: PriceInputs) -> float:
    inputs = sum(tiles(w, h) for w, h in p.input_images)
    return (18.75 * inputs + 37.5 * tiles(p.width, p.height)) * (p.steps or 25)


def _klein_4b_price(p: PriceInputs) -> float:
    inputs = sum(tiles(w, h) for w, h in p.input_images)
    return 5.37 * inputs + 26.05 * tiles(p.width, p.height)


def _megapixels(width: int, height: int) -> float:
    return width * height / 2**20


def _klein_9b_price(p: PriceInputs) -> float:
    out = _megapixels(p.width, p.height)
    inputs = sum(_megapixels(w, h) for w, h in p.input_images)
    return 1363.64 + 181.82 * max(0.0, out - 1) + 181.82 * inputs


def _lucid_price(p: PriceInputs) -> float:
    return 636 * tiles(p.width, p.height) + 12 * (p.steps or 20)


def _phoenix_price(p: PriceInputs) -> float:
    return 530 * tiles(p.width, p.height) + 10 * (p.steps or 25)


def _free(_: PriceInputs) -> float:
    return 0.0


# --- parameters shared by families ---------------------------------------------------------

SEED_MAX = 2**32 - 1


def _seed() -> Param:
    return Param("seed", "int", "seed", 0, SEED_MAX, description="Random seed; random if unset")


def _negative() -> Param:
    return Param("negative_prompt", "str", "negative_prompt", description="What to avoid")


def _sd_params(*, steps_default: int, image: bool = False, mask: bool = False) -> tuple[Param, ...]:
    params = [
        _negative(),
        Param("steps", "int", "num_steps", 1, 20, steps_default, description="Diffusion steps"),
        Param("guidance", "float", "guidance", 0, 30, 7.5, description="Prompt adherence"),
        _seed(),
    ]
    if image:
        params += [
            Param(
                "image",
                "image",
                "image_b64",
                required=True,
                image_encoding="b64",
                description="Input image (PNG or JPEG)",
            ),
            Param("strength", "float", "strength", 0, 1, 0.8, description="How far to move away"),
        ]
    if mask:
        params.append(
            Param(
                "mask",
                "image",
                "mask",
                required=True,
                image_encoding="byte_array",
                description="Mask image: white areas are repainted",
            )
        )
    return tuple(params)


def _flux2_params(*, steps: bool) -> tuple[Param, ...]:
    params = [
        Param("guidance", "float", "guidance", 0, 20, None, description="Prompt adherence"),
        _seed(),
        Param(
            "input_images",
            "images",
            "input_image",
            image_encoding="files",
            max_items=4,
            description="Up to 4 reference images, each smaller than 512x512",
        ),
    ]
    if steps:
        params.insert(0, Param("steps", "int", "steps", 1, 50, 25, description="Diffusion steps"))
    return tuple(params)


_FLUX2_SIZE = SizeSpec(256, 1920, 1024, 768)
_SD_SIZE = SizeSpec(256, 2048, 1024, 1024)
_SD15_SIZE = SizeSpec(256, 2048, 512, 512)

# Input images for FLUX.2 must be smaller than 512x512 (contract section 3.2 / 6).
FLUX2_INPUT_MAX_SIDE = 512


def builtin_models(flux_steps: int = 4) -> tuple[ModelSpec, ...]:
    """Every current Workers AI text-to-image model (contract sections 3 and 10)."""
    return (
        ModelSpec(
            id="@cf/black-forest-labs/flux-1-schnell",
            name="FLUX.1 [schnell]",
            family="flux-1",
            task="text-to-image",
            body="json",
            output="json_b64",
            size=SizeSpec(1024, 1024, 1024, 1024, fixed=True),
            params=(
                # No seed: upstream's schema has none, so no image can be made again.
                Param("steps", "int", "steps", 1, 8, flux_steps, description="Diffusion steps"),
            ),
            price=_schnell_price,
            price_note="tiles x (4.8 + 9.6 x steps); 172.8 at 1024² / 4 steps",
            description="Fast 12B FLUX model; output fixed at 1024x1024 JPEG.",
            aliases=("FLUX.1-Schnell-CF",),
        ),
        ModelSpec(
            id="@cf/black-forest-labs/flux-2-dev",
            name="FLUX.2 [dev]",
            family="flux-2",
            task="text-to-image",
            body="multipart",
            output="json_b64",
            size=_FLUX2_SIZE,
            params=_flux2_params(steps=True),
            price=_flux2_dev_price,
            price_note="(18.75 x input tiles + 37.5 x output tiles) x steps",
            description="Highest quality FLUX.2; slow and expensive; up to 4 reference images.",
        ),
        ModelSpec(
            id="@cf/black-forest-labs/flux-2-klein-4b",
            name="FLUX.2 [klein] 4B",
            family="flux-2",
            task="text-to-image",
            body="multipart",
            output="json_b64",
            size=_FLUX2_SIZE,
            params=_flux2_params(steps=False),
            price=_klein_4b_price,
            price_note="5.37 x input tiles + 26.05 x output tiles",
            description="Small fast FLUX.2 (fixed 4 steps); up to 4 reference images.",
        ),
        ModelSpec(
            id="@cf/black-forest-labs/flux-2-klein-9b",
            name="FLUX.2 [klein] 9B",
            family="flux-2",
            task="text-to-image",
            body="multipart",
            output="json_b64",
            size=_FLUX2_SIZE,
            params=_flux2_params(steps=False),
            price=_klein_9b_price,
            price_note="1363.64 first MP + 181.82 per extra MP + 181.82 per input MP",
            description="FLUX.2 klein 9B (fixed 4 steps); up to 4 reference images.",
        ),
        ModelSpec(
            id="@cf/leonardo/lucid-origin",
            name="Leonardo Lucid Origin",
            family="leonardo",
            task="text-to-image",
            body="json",
            output="json_b64",
            size=SizeSpec(256, 2500, 1120, 1120),
            params=(
                Param("steps", "int", "steps", 1, 40, 20, description="Diffusion steps"),
                Param("guidance", "float", "guidance", 0, 10, 4.5, description="Prompt adherence"),
                _seed(),
            ),
            price=_lucid_price,
            price_note="636 x tiles + 12 x steps",
            description="Leonardo's photoreal partner model.",
        ),
        ModelSpec(
            id="@cf/leonardo/phoenix-1.0",
            name="Leonardo Phoenix 1.0",
            family="leonardo",
            task="text-to-image",
            body="json",
            output="binary",
            size=SizeSpec(256, 2048, 1024, 1024),
            params=(
                _negative(),
                Param("steps", "int", "num_steps", 1, 50, 25, description="Diffusion steps"),
                Param("guidance", "float", "guidance", 2, 10, 2, description="Prompt adherence"),
                _seed(),
            ),
            price=_phoenix_price,
            price_note="530 x tiles + 10 x steps (no cf-ai-neurons header upstream)",
            description="Leonardo's partner model with strong text rendering; JPEG output.",
        ),
        ModelSpec(
            id="@cf/stabilityai/stable-diffusion-xl-base-1.0",
            name="Stable Diffusion XL Base 1.0",
            family="stable-diffusion",
            task="text-to-image",
            body="json",
            output="binary",
            size=_SD_SIZE,
            params=_sd_params(steps_default=20),
            price=_free,
            price_note="beta, unpriced (0)",
            prompt_max=4096,
            description="The original SDXL base model: versatile, 20 steps by default.",
            beta=True,
            aliases=("SD-XL-Bash-CF",),
        ),
        ModelSpec(
            id="@cf/bytedance/stable-diffusion-xl-lightning",
            name="Stable Diffusion XL Lightning",
            family="stable-diffusion",
            task="text-to-image",
            body="json",
            output="binary",
            size=_SD_SIZE,
            params=_sd_params(steps_default=8),
            price=_free,
            price_note="beta, 0.00 measured",
            prompt_max=4096,
            description="SDXL distilled for speed: good images in a few steps.",
            beta=True,
            aliases=("SD-XL-Lightning-CF",),
        ),
        ModelSpec(
            id="@cf/lykon/dreamshaper-8-lcm",
            name="DreamShaper 8 LCM",
            family="stable-diffusion",
            task="text-to-image",
            body="json",
            output="binary",
            size=_SD15_SIZE,
            params=_sd_params(steps_default=8),
            price=_free,
            price_note="beta, unpriced (0)",
            prompt_max=4096,
            description="Stable Diffusion 1.5 tuned for art and portraits; fast (LCM).",
            beta=True,
            aliases=("DS-8-CF",),
        ),
        ModelSpec(
            id="@cf/runwayml/stable-diffusion-v1-5-img2img",
            name="Stable Diffusion 1.5 img2img",
            family="stable-diffusion",
            task="image-to-image",
            body="json",
            output="binary",
            size=_SD15_SIZE,
            params=_sd_params(steps_default=20, image=True),
            price=_free,
            price_note="$0.00 per step",
            prompt_max=4096,
            description="Redraws an input image to match the prompt.",
            beta=True,
        ),
        ModelSpec(
            id="@cf/runwayml/stable-diffusion-v1-5-inpainting",
            name="Stable Diffusion 1.5 inpainting",
            family="stable-diffusion",
            task="inpainting",
            body="json",
            output="binary",
            size=_SD15_SIZE,
            params=_sd_params(steps_default=20, image=True, mask=True),
            price=_free,
            price_note="$0.00 per step",
            prompt_max=4096,
            description="Repaints the white areas of a mask over an input image.",
            beta=True,
        ),
    )


# The original's aliases, in the original's order (its first key was its default model).
ORIGINAL_ALIASES: dict[str, str] = {
    "DS-8-CF": "@cf/lykon/dreamshaper-8-lcm",
    "SD-XL-Bash-CF": "@cf/stabilityai/stable-diffusion-xl-base-1.0",
    "SD-XL-Lightning-CF": "@cf/bytedance/stable-diffusion-xl-lightning",
    "FLUX.1-Schnell-CF": "@cf/black-forest-labs/flux-1-schnell",
}


class Catalog:
    """Models by upstream id, with aliases (original, short ids and `CUSTOMER_MODEL_MAP`)."""

    def __init__(self, models: Iterable[ModelSpec], aliases: Mapping[str, str]) -> None:
        self._models = {m.id: m for m in models}
        self._aliases: dict[str, str] = {}
        for model in self._models.values():
            self._aliases[model.short_id] = model.id
            for alias in model.aliases:
                self._aliases[alias] = model.id
        for alias, target in aliases.items():
            if target not in self._models:
                raise KeyError(target)
            self._aliases[alias] = target

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def add(self, spec: ModelSpec) -> None:
        """One more model (a discovered one), unless the catalog already has its id."""
        if spec.id not in self._models:
            self._models[spec.id] = spec
            self._aliases.setdefault(spec.short_id, spec.id)

    def resolve(self, name: str) -> ModelSpec:
        """A model by upstream id, alias or short id (case-insensitive for aliases)."""
        name = name.strip()
        if name in self._models:
            return self._models[name]
        target = self._aliases.get(name)
        if target is None:
            lowered = {k.lower(): v for k, v in self._aliases.items()}
            target = lowered.get(name.lower())
        if target is None:
            if "/" in name and not name.startswith("@"):
                raise ProxiedModelError(name)  # contract §12: not a Workers AI model
            raise UnknownModelError(name, sorted(self.public_aliases()))
        return self._models[target]

    def aliases_of(self, model_id: str) -> list[str]:
        spec = self._models[model_id]
        return [a for a, t in self._aliases.items() if t == model_id and a != spec.short_id]

    def public_aliases(self) -> dict[str, str]:
        """Aliases a person would type (not the implicit short ids)."""
        shorts = {m.short_id for m in self._models.values()}
        return {a: t for a, t in self._aliases.items() if a not in shorts}


def build_catalog(
    customer_model_map: Mapping[str, str],
    flux_steps: int = 4,
    extra: Iterable[ModelSpec] = (),
) -> Catalog:
    """The built-in models (and `extra` ones, FLUX_REMIX_EXTRA_MODELS) plus the original
    aliases and `CUSTOMER_MODEL_MAP` on top."""
    models = (*builtin_models(flux_steps), *extra)
    known = {m.id for m in models}
    for alias, target in customer_model_map.items():
        if target not in known:
            raise ConfigError(
                f"CUSTOMER_MODEL_MAP: alias '{alias}' points at unknown model '{target}'. "
                f"Known models: {', '.join(sorted(known))}."
            )
    return Catalog(models, {**ORIGINAL_ALIASES, **customer_model_map})


# --- text models used for translation and enhancement (contract section 4.4) ---------------

DEFAULT_TRANSLATE_MODEL = "@cf/meta/llama-3.1-8b-instruct-fast"

RETIRED_TEXT_MODELS: dict[str, str] = {
    "@cf/qwen/qwen1.5-14b-chat-awq": "retired 2025-10-01",
    "@cf/qwen/qwen1.5-7b-chat-awq": "retired 2025-10-01",
    "@cf/qwen/qwen1.5-1.8b-chat": "retired 2025-10-01",
    "@cf/qwen/qwen1.5-0.5b-chat": "retired 2025-10-01",
    "@cf/meta/llama-3.1-8b-instruct": "retired 2026-05-30",
    "@cf/meta/llama-3-8b-instruct": "retired 2026-05-30",
    "@cf/meta/llama-3-8b-instruct-awq": "retired 2026-05-30",
    "@cf/meta/llama-3.1-70b-instruct": "retired 2026-05-30",
    "@cf/mistral/mistral-7b-instruct-v0.1": "retired 2026-05-30",
    "@cf/google/gemma-3-12b-it": "retired 2026-05-30",
}

# Models that think by default; `chat_template_kwargs.enable_thinking=false` turns it off.
REASONING_TEXT_MODELS = frozenset(
    {
        "@cf/zai-org/glm-4.7-flash",
        "@cf/qwen/qwen3-30b-a3b-fp8",
        "@cf/google/gemma-4-26b-a4b-it",
    }
)
