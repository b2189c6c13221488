"""The public description of catalog models (parameter schemas for clients and the web page)."""

from __future__ import annotations

from typing import Any

from flux_remix.catalog import Catalog, ModelSpec, PriceInputs
from flux_remix.discovery import is_past


def describe_model(spec: ModelSpec, aliases: list[str]) -> dict[str, Any]:
    size = spec.size
    default_cost = spec.estimate_neurons(
        PriceInputs(
            size.default_width,
            size.default_height,
            int(p.default) if (p := spec.param("steps")) and p.default is not None else None,
        )
    )
    return {
        "id": spec.id,
        "short_id": spec.short_id,
        "name": spec.name,
        "aliases": aliases,
        "family": spec.family,
        "task": spec.task,
        "description": spec.description,
        "beta": spec.beta,
        "origin": spec.origin,  # builtin, config (FLUX_REMIX_EXTRA_MODELS) or discovered
        "deprecation_date": spec.deprecated,
        "deprecated": is_past(spec.deprecated),
        "request_encoding": spec.body,
        "output": spec.output,
        "prompt_max": spec.prompt_max,
        "takes_seed": spec.takes_seed,  # False: images report seed null, see seed_note
        "seed_note": spec.seed_note,
        "size": {
            "min": size.minimum,
            "max": size.maximum,
            "default_width": size.default_width,
            "default_height": size.default_height,
            "fixed": size.fixed,
        },
        "params": [
            {
                "name": p.name,
                "type": p.kind,
                "min": p.minimum,
                "max": p.maximum,
                "default": p.default,
                "required": p.required,
                "max_items": p.max_items if p.kind == "images" else None,
                "sent_upstream": p.upstream is not None,
                "description": p.description,
            }
            for p in spec.params
        ],
        "price": spec.price_note,
        "default_neurons": default_cost,
    }


def describe_models(catalog: Catalog) -> list[dict[str, Any]]:
    return [describe_model(spec, catalog.aliases_of(spec.id)) for spec in catalog]
