"""Models added by configuration (`FLUX_REMIX_EXTRA_MODELS`): a new Workers AI model that behaves
like a family flux-remix knows, without waiting for a release.

    FLUX_REMIX_EXTRA_MODELS='[{"id": "@cf/acme/new-xl", "family": "sdxl",
                               "max_steps": 30, "max_size": 1536, "neurons": 50}]'

| family        | behaves like   | request / answer                                          |
|---------------|----------------|-----------------------------------------------------------|
| `sdxl` (`sd`) | SDXL base      | JSON: negative prompt, num_steps, guidance, seed; binary  |
| `flux1`       | FLUX.1 schnell | JSON: prompt and steps only; base64 JSON; fixed size      |
| `flux2`       | FLUX.2 klein   | multipart: guidance, seed, up to 4 references; base64 JSON|
| `flux2-steps` | FLUX.2 dev     | as `flux2`, with steps                                    |
| `leonardo`    | Lucid Origin   | JSON: steps, guidance, seed; base64 JSON                  |

Optional limits: `name`, `description`, `max_steps`, `default_steps`, `min_size`, `max_size`,
`default_width`, `default_height`, `neurons` (a flat estimate per image; 0 when unset).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from flux_remix.catalog import ModelSpec, Param, PriceInputs, builtin_models
from flux_remix.errors import ConfigError

_TEMPLATES: dict[str, str] = {
    "sdxl": "@cf/stabilityai/stable-diffusion-xl-base-1.0",
    "sd": "@cf/stabilityai/stable-diffusion-xl-base-1.0",
    "flux1": "@cf/black-forest-labs/flux-1-schnell",
    "flux2": "@cf/black-forest-labs/flux-2-klein-4b",
    "flux2-steps": "@cf/black-forest-labs/flux-2-dev",
    "leonardo": "@cf/leonardo/lucid-origin",
}
_LIMITS = frozenset(
    {
        "id",
        "family",
        "name",
        "description",
        "max_steps",
        "default_steps",
        "min_size",
        "max_size",
        "default_width",
        "default_height",
        "neurons",
    }
)


def check_model_id(model_id: str, source: str) -> None:
    """Only Workers AI ids (`@cf/...`); a bare `author/model` is a proxied third-party model."""
    if not model_id.startswith("@cf/"):
        raise ConfigError(
            f"invalid configuration: {source}: '{model_id}' is not a Workers AI model id. Ids "
            "without '@cf/' name third-party models Cloudflare proxies through AI Gateway, billed "
            "from paid credits rather than free neurons; flux-remix does not run them."
        )


def flat_price(neurons: float) -> Callable[[PriceInputs], float]:
    def price(_: PriceInputs) -> float:
        return neurons

    return price


def extra_models(entries: Iterable[dict[str, Any]]) -> tuple[ModelSpec, ...]:
    """`FLUX_REMIX_EXTRA_MODELS` entries as catalog models; `ConfigError` naming the problem."""
    templates = {m.id: m for m in builtin_models()}
    out = []
    for entry in entries:
        model_id = str(entry.get("id", "")).strip()
        family = str(entry.get("family", "")).strip().lower()
        source = "FLUX_REMIX_EXTRA_MODELS"
        if not model_id or family not in _TEMPLATES:
            raise ConfigError(
                f"invalid configuration: {source}: each entry needs an `id` and a `family` "
                f"({', '.join(sorted(_TEMPLATES))}); got {entry!r}"
            )
        check_model_id(model_id, source)
        unknown = set(entry) - _LIMITS
        if unknown:
            raise ConfigError(
                f"invalid configuration: {source}: '{model_id}' has unknown keys "
                f"{', '.join(sorted(unknown))}"
            )
        out.append(_from_template(templates[_TEMPLATES[family]], model_id, family, entry))
    return tuple(out)


def _from_template(
    template: ModelSpec, model_id: str, family: str, entry: dict[str, Any]
) -> ModelSpec:
    size = template.size
    size = dataclasses.replace(
        size,
        minimum=int(entry.get("min_size", size.minimum)),
        maximum=int(entry.get("max_size", size.maximum)),
        default_width=int(entry.get("default_width", size.default_width)),
        default_height=int(entry.get("default_height", size.default_height)),
    )
    params = tuple(_fitted(p, entry) for p in template.params)
    neurons = float(entry.get("neurons", 0.0))
    return dataclasses.replace(
        template,
        id=model_id,
        name=str(entry.get("name") or model_id.rsplit("/", 1)[-1]),
        description=str(entry.get("description") or f"Added by configuration ({family} family)."),
        size=size,
        params=params,
        price=flat_price(neurons),
        price_note=f"{neurons:g} per image (configured)",
        aliases=(),
        beta=True,
        origin="config",
    )


def _fitted(param: Param, entry: dict[str, Any]) -> Param:
    if param.name != "steps":
        return param
    return dataclasses.replace(
        param,
        maximum=float(entry.get("max_steps", param.maximum or 1)),
        default=int(entry.get("default_steps", param.default or 1)),
    )
