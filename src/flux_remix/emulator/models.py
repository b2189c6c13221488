"""The emulator's own model table (contract §3, §4, §10), independent of the app's catalog.

Each :class:`ModelSpec` says how the body is encoded, what comes back, which fields the
schema accepts and what a call costs. :func:`build_table` builds the table for one config.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from flux_remix.emulator import pricing as p
from flux_remix.emulator import schemas as sch
from flux_remix.emulator.schemas import ImageInputs
from flux_remix.emulator.validate import ObjectSchema

BodyKind = Literal["json", "multipart"]
OutputKind = Literal[
    "json-b64", "binary-png", "binary-jpeg", "llm-classic", "llm-openai", "translation"
]

TEXT_TO_IMAGE = "Text-to-Image"
TEXT_GENERATION = "Text Generation"
TRANSLATION = "Translation"

RETIRED: Mapping[str, str] = {
    "@cf/qwen/qwen1.5-14b-chat-awq": "2025-10-01",
    "@cf/qwen/qwen1.5-7b-chat-awq": "2025-10-01",
    "@cf/meta/llama-3.1-8b-instruct": "2026-05-30",
    "@cf/meta/llama-3-8b-instruct": "2026-05-30",
    "@cf/meta/llama-3-8b-instruct-awq": "2026-05-30",
    "@cf/meta/llama-3.1-70b-instruct": "2026-05-30",
    "@cf/mistral/mistral-7b-instruct-v0.1": "2026-05-30",
    "@cf/google/gemma-3-12b-it": "2026-05-30",
}
"""Retired models: calls answer 400 / 5007 like unknown ones."""

PAID_ONLY: frozenset[str] = frozenset(
    {"@cf/moonshotai/kimi-k2.6", "@cf/moonshotai/kimi-k2.7-code", "@cf/zai-org/glm-5.2"}
)
"""Models that need Workers Paid; free accounts (all emulated ones) get 403 / 5035."""


@dataclass(frozen=True)
class ModelSpec:
    """One model: request encoding, output, schema, sizes, steps and price."""

    id: str
    task: str
    body: BodyKind
    output: OutputKind
    schema: ObjectSchema
    price: p.PriceFn
    description: str = ""
    image_format: Literal["PNG", "JPEG"] = "JPEG"
    image_inputs: ImageInputs = "none"
    default_size: tuple[int, int] = (1024, 1024)
    fixed_size: bool = False
    step_fields: tuple[str, ...] = ()
    default_steps: int = 0
    sends_neurons: bool = True
    reasoning: bool = False
    default_max_tokens: int = 256
    price_lines: tuple[tuple[str, float], ...] = ()
    beta: bool = False
    partner: bool = False
    planned_deprecation: str | None = None  # YYYY-MM-DD, listed by models/search

    @property
    def short_name(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    @property
    def is_image(self) -> bool:
        return self.task == TEXT_TO_IMAGE

    @property
    def is_chat(self) -> bool:
        return self.output in ("llm-classic", "llm-openai")

    @property
    def content_type(self) -> str:
        """The declared ``Content-Type`` of a successful answer."""
        if self.output == "binary-png":
            return "image/png"
        if self.output == "binary-jpeg":
            return "image/jpeg"
        return "application/json"


@dataclass(frozen=True)
class ModelTable:
    """The models one emulator serves, by id."""

    models: Mapping[str, ModelSpec]
    proxied: tuple[str, ...] = ()  # listed by models/search only (contract §12), never run

    def get(self, model_id: str) -> ModelSpec | None:
        return self.models.get(model_id)

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self.models.values())


BFL = "@cf/black-forest-labs/"


def _image_models(accepts_seed: bool) -> list[ModelSpec]:
    models = [
        ModelSpec(
            id=BFL + "flux-1-schnell",
            task=TEXT_TO_IMAGE,
            body="json",
            output="json-b64",
            schema=sch.schnell_schema(accepts_seed),
            price=p.tile_times_steps(4.8, 9.6),
            description="FLUX.1 [schnell], 12B rectified flow transformer; output fixed 1024x1024.",
            fixed_size=True,
            step_fields=("steps",),
            default_steps=4,
            price_lines=(("per 512 by 512 tile", 0.0000528), ("per step", 0.0001056)),
        ),
        ModelSpec(
            id=BFL + "flux-2-dev",
            task=TEXT_TO_IMAGE,
            body="multipart",
            output="json-b64",
            schema=sch.flux2_schema(with_steps=True),
            price=p.input_output_tiles(18.75, 37.5, per_step=True),
            description="FLUX.2 [dev]: multi-reference generation and editing.",
            image_inputs="references",
            default_size=(1024, 768),
            step_fields=("steps",),
            default_steps=50,
            price_lines=(
                ("per input tile per step", 0.00021),
                ("per output tile per step", 0.00041),
            ),
        ),
        ModelSpec(
            id=BFL + "flux-2-klein-4b",
            task=TEXT_TO_IMAGE,
            body="multipart",
            output="json-b64",
            schema=sch.flux2_schema(with_steps=False),
            price=p.input_output_tiles(5.37, 26.05, per_step=False),
            description="FLUX.2 [klein] 4B: distilled, fixed 4 steps.",
            image_inputs="references",
            default_size=(1024, 768),
            default_steps=4,
            price_lines=(
                ("per input 512x512 tile", 0.000059),
                ("per output 512x512 tile", 0.000287),
            ),
        ),
        ModelSpec(
            id=BFL + "flux-2-klein-9b",
            task=TEXT_TO_IMAGE,
            body="multipart",
            output="json-b64",
            schema=sch.flux2_schema(with_steps=False),
            price=p.first_megapixel(1363.64, 181.82, 181.82),
            description="FLUX.2 [klein] 9B: distilled, fixed 4 steps.",
            image_inputs="references",
            default_size=(1024, 768),
            default_steps=4,
            price_lines=(
                ("first MP", 0.015),
                ("per additional MP", 0.002),
                ("per input MP", 0.002),
            ),
        ),
        ModelSpec(
            id="@cf/leonardo/lucid-origin",
            task=TEXT_TO_IMAGE,
            body="json",
            output="json-b64",
            schema=sch.leonardo_schema(
                size=(0, 2500, 1120), guidance=(0, 10, 4.5), steps=(1, 40, None), lucid=True
            ),
            price=p.tiles_plus_steps(636, 12),
            description="Leonardo Lucid Origin.",
            default_size=(1120, 1120),
            step_fields=("num_steps", "steps"),
            default_steps=20,
            partner=True,
            price_lines=(("per 512 by 512 tile", 0.006996), ("per step", 0.000132)),
        ),
        ModelSpec(
            id="@cf/leonardo/phoenix-1.0",
            task=TEXT_TO_IMAGE,
            body="json",
            output="binary-jpeg",
            schema=sch.leonardo_schema(
                size=(0, 2048, 1024), guidance=(2, 10, 2), steps=(1, 50, 25), lucid=False
            ),
            price=p.tiles_plus_steps(530, 10),
            description="Leonardo Phoenix 1.0.",
            step_fields=("num_steps",),
            default_steps=25,
            sends_neurons=False,
            partner=True,
            price_lines=(("per 512 by 512 tile", 0.00583), ("per step", 0.00011)),
        ),
    ]
    models += [_sd_model(*row) for row in SD_FAMILY]
    return models


SD_FAMILY: tuple[tuple[str, ImageInputs, Literal["PNG", "JPEG"], int, str], ...] = (
    (
        "@cf/stabilityai/stable-diffusion-xl-base-1.0",
        "none",
        "PNG",
        1024,
        "Stable Diffusion XL base 1.0.",
    ),
    # Observed live: declared image/png, but the bytes are JPEG.
    ("@cf/bytedance/stable-diffusion-xl-lightning", "none", "JPEG", 1024, "SDXL-Lightning."),
    ("@cf/lykon/dreamshaper-8-lcm", "none", "PNG", 512, "DreamShaper 8 LCM."),
    (
        "@cf/runwayml/stable-diffusion-v1-5-img2img",
        "sd-image",
        "PNG",
        512,
        "Stable Diffusion 1.5 img2img.",
    ),
    (
        "@cf/runwayml/stable-diffusion-v1-5-inpainting",
        "sd-inpaint",
        "PNG",
        512,
        "Stable Diffusion 1.5 inpainting.",
    ),
)
"""Stable Diffusion models: id, input images, actual byte format, native side, description."""


def _sd_model(
    model_id: str, inputs: ImageInputs, fmt: Literal["PNG", "JPEG"], side: int, description: str
) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        task=TEXT_TO_IMAGE,
        body="json",
        output="binary-png",
        schema=sch.sd_schema(inputs),
        price=p.free,
        description=description,
        image_format=fmt,
        image_inputs=inputs,
        default_size=(side, side),
        step_fields=("num_steps",),
        default_steps=20,
        beta=True,
        price_lines=(("per step", 0.0),),
    )


CHAT_MODELS: tuple[tuple[str, OutputKind, bool, int, float, float], ...] = (
    ("@cf/meta/llama-3.1-8b-instruct-fast", "llm-classic", False, 256, 4119, 34868),
    ("@cf/meta/llama-3.3-70b-instruct-fp8-fast", "llm-classic", False, 256, 26668, 204805),
    ("@cf/qwen/qwen3-30b-a3b-fp8", "llm-openai", True, 2000, 4625, 30475),
    ("@cf/zai-org/glm-4.7-flash", "llm-openai", True, 2000, 5500, 36400),
    ("@cf/google/gemma-4-26b-a4b-it", "llm-openai", True, 2000, 9091, 36364),
)
"""Text models: id, result shape, reasoning, default max_tokens, neurons per M in/out."""


def _usd(neurons: float) -> float:
    """Dollars for ``neurons`` at $0.011 per 1,000 neurons."""
    return round(neurons * 0.011 / 1000, 6)


def _text_models() -> list[ModelSpec]:
    models = [
        ModelSpec(
            id=model_id,
            task=TEXT_GENERATION,
            body="json",
            output=shape,
            schema=sch.chat_schema(max_tokens),
            price=p.per_million_tokens(n_in, n_out),
            description="Text generation.",
            reasoning=reasoning,
            default_max_tokens=max_tokens,
            price_lines=(("per M input tokens", _usd(n_in)), ("per M output tokens", _usd(n_out))),
        )
        for model_id, shape, reasoning, max_tokens, n_in, n_out in CHAT_MODELS
    ]
    models.append(
        ModelSpec(
            id="@cf/meta/m2m100-1.2b",
            task=TRANSLATION,
            body="json",
            output="translation",
            schema=sch.TRANSLATE_SCHEMA,
            price=p.per_million_tokens(31050, 31050),
            description="Multilingual encoder-decoder translation model.",
            price_lines=(("per M input tokens", 0.34155), ("per M output tokens", 0.34155)),
        )
    )
    return models


PREVIEW_MODELS = (
    ("@cf/acme/pixel-forge-1", None, "A new SDXL-like model no flux-remix release lists."),
    ("@cf/acme/old-diffusion", "2026-01-15", "A model past its planned deprecation date."),
)
PROXIED = ("black-forest-labs/flux-2-klein-9b",)


def _preview_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            id=model_id,
            task=TEXT_TO_IMAGE,
            body="json",
            output="binary-png",
            schema=sch.sd_schema("none"),
            price=p.free,
            description=description,
            image_format="PNG",
            default_size=(768, 768),
            step_fields=("num_steps",),
            default_steps=20,
            beta=True,
            planned_deprecation=deprecation,
        )
        for model_id, deprecation, description in PREVIEW_MODELS
    ]


def build_table(*, schnell_accepts_seed: bool = False, preview: bool = False) -> ModelTable:
    """The full table; the schnell schema depends on the ``schnell_accepts_seed`` flag, and
    ``preview`` adds :data:`PREVIEW_MODELS` and lists :data:`PROXIED`."""
    specs = [*_image_models(schnell_accepts_seed), *_text_models()]
    if preview:
        specs += _preview_models()
    return ModelTable({spec.id: spec for spec in specs}, PROXIED if preview else ())
