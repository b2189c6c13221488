"""Model discovery (opt-in, `FLUX_REMIX_DISCOVER_MODELS=true`; `flux-remix models --discover`
previews it): the account's Text-to-Image models that the catalog does not know, built from
their input JSON Schema (contract section 1.5).

    GET /accounts/{id}/ai/models/search?task=Text-to-Image   names, beta, deprecation date
    GET /accounts/{id}/ai/models/schema?model=@cf/...        input/output JSON Schema

From the schema: JSON or multipart (a `multipart` property), binary or base64 output, the prompt's
`maxLength`, `width`/`height` (absent: a fixed 1024x1024), `steps` or `num_steps`, `guidance`,
`seed`, `negative_prompt`, `strength`, `image_b64` (+ `mask`) or `input_image_0..N` reference
files; each with its bounds and default. Such models are marked `discovered`; a past
`planned_deprecation_date` is flagged. Ids without `@cf/` (proxied third-party models) are skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from flux_remix import errors as e
from flux_remix.catalog import Catalog, ModelSpec, Param, SizeSpec
from flux_remix.model_families import flat_price
from flux_remix.settings import Account
from flux_remix.upstream import WorkersAIClient

log = logging.getLogger("flux_remix.discovery")

TASK = "Text-to-Image"
_REFERENCE = re.compile(r"^input_image_(\d+)$")


@dataclass(frozen=True)
class Discovered:
    spec: ModelSpec | None  # None: listed but not usable (why says so)
    name: str
    why: str | None = None


async def discover(client: WorkersAIClient, account: Account, catalog: Catalog) -> list[Discovered]:
    """The account's image models missing from `catalog`, each built from its schema."""
    found = []
    for item in await client.search_models(account, TASK):
        name = str(item.get("name", ""))
        if not name or _known(catalog, name):
            continue
        if not name.startswith("@cf/"):
            found.append(Discovered(None, name, "proxied third-party model (no @cf/ prefix)"))
            continue
        try:
            schema = await client.model_schema(account, name)
        except e.UpstreamError as err:
            found.append(Discovered(None, name, f"schema unavailable ({err.kind})"))
            continue
        spec = spec_from_schema(name, item, schema)
        found.append(Discovered(spec, name, None if spec else "schema not understood"))
    return found


def _known(catalog: Catalog, name: str) -> bool:
    return any(spec.id == name for spec in catalog)


def deprecation(item: dict[str, Any]) -> str | None:
    for prop in item.get("properties") or []:
        if isinstance(prop, dict) and prop.get("property_id") == "planned_deprecation_date":
            return str(prop.get("value"))
    return None


def is_past(date: str | None, today: dt.date | None = None) -> bool:
    if not date:
        return False
    try:
        day = dt.date.fromisoformat(date[:10])
    except ValueError:
        return False
    return day <= (today or dt.datetime.now(dt.UTC).date())


def spec_from_schema(name: str, item: dict[str, Any], schema: dict[str, Any]) -> ModelSpec | None:
    """A catalog entry for `name` from its search item and schema; None when the input is not
    an object with a `prompt`."""
    given = schema.get("input")
    inputs: dict[str, Any] = given if isinstance(given, dict) else {}
    props = _props(inputs)
    multipart = "multipart" in props
    if multipart:
        body = props["multipart"].get("properties", {}).get("body", {})
        form = body.get("form") if isinstance(body, dict) else None
        inputs = form if isinstance(form, dict) else body if isinstance(body, dict) else {}
        props = _props(inputs)
    if "prompt" not in props:
        return None
    output = schema.get("output")
    binary = isinstance(output, dict) and output.get("format") == "binary"
    params = _params(props, _required(inputs))
    size = _size(props)
    beta = any(
        isinstance(p, dict) and p.get("property_id") == "beta" and str(p.get("value")) == "true"
        for p in item.get("properties") or []
    )
    takes_image = any(p.required and p.kind in ("image", "images") for p in params)
    return ModelSpec(
        id=name,
        name=name.rsplit("/", 1)[-1],
        family="discovered",
        task="image-to-image" if takes_image else "text-to-image",
        body="multipart" if multipart else "json",
        output="binary" if binary else "json_b64",
        size=size,
        params=params,
        price=flat_price(0.0),
        price_note="unknown (discovered; not on the pricing table)",
        prompt_max=int(props["prompt"].get("maxLength") or 2048),
        description=str(item.get("description") or "Discovered from the account's model list."),
        beta=beta,
        origin="discovered",
        deprecated=deprecation(item),
    )


def _required(schema: dict[str, Any]) -> set[str]:
    """Names the object requires, itself or in every `anyOf`/`oneOf` branch taken together
    (SD 1.5 img2img: `anyOf` image or image_b64, so an image is required)."""
    names = set(schema.get("required") or [])
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key) or []:
            if isinstance(branch, dict):
                names |= set(branch.get("required") or [])
    return names


def _props(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    props = schema.get("properties") if isinstance(schema, dict) else None
    return {k: v for k, v in (props or {}).items() if isinstance(v, dict)}


def _number(spec: dict[str, Any], key: str) -> float | None:
    value = spec.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _scalar(name: str, upstream: str, spec: dict[str, Any], kind: str) -> Param:
    default = spec.get("default")
    return Param(
        name,
        "int" if kind == "integer" else "float",
        upstream,
        _number(spec, "minimum"),
        _number(spec, "maximum"),
        default if isinstance(default, int | float) and not isinstance(default, bool) else None,
        description=str(spec.get("description") or ""),
    )


def _params(props: dict[str, dict[str, Any]], required: set[str]) -> tuple[Param, ...]:
    params: list[Param] = []
    steps = "steps" if "steps" in props else "num_steps" if "num_steps" in props else None
    if steps:
        params.append(_scalar("steps", steps, props[steps], "integer"))
    if "guidance" in props:
        params.append(_scalar("guidance", "guidance", props["guidance"], "number"))
    if "strength" in props:
        params.append(_scalar("strength", "strength", props["strength"], "number"))
    if "seed" in props:
        seed = _scalar("seed", "seed", props["seed"], "integer")
        params.append(Param("seed", "int", "seed", 0, 2**32 - 1, description=seed.description))
    if "negative_prompt" in props:
        params.append(Param("negative_prompt", "str", "negative_prompt"))
    references = [int(m[1]) for k in props if (m := _REFERENCE.match(k))]
    if references:
        params.append(
            Param(
                "input_images",
                "images",
                "input_image",
                image_encoding="files",
                max_items=max(references) + 1,
                description="Reference images",
            )
        )
    elif "image_b64" in props:
        needs_image = bool({"image", "image_b64"} & required)
        params.append(
            Param("image", "image", "image_b64", required=needs_image, image_encoding="b64")
        )
        if "mask" in props:
            needs_mask = "mask" in required
            params.append(
                Param("mask", "image", "mask", required=needs_mask, image_encoding="byte_array")
            )
    return tuple(params)


def _size(props: dict[str, dict[str, Any]]) -> SizeSpec:
    width, height = props.get("width"), props.get("height")
    if width is None or height is None:
        return SizeSpec(1024, 1024, 1024, 1024, fixed=True)
    lo = int(max(_number(width, "minimum") or 256, _number(height, "minimum") or 256, 64))
    hi = int(min(_number(width, "maximum") or 2048, _number(height, "maximum") or 2048))
    dw = int(_number(width, "default") or min(1024, hi))
    dh = int(_number(height, "default") or min(1024, hi))
    return SizeSpec(lo, hi, dw, dh)


async def add_discovered(client: WorkersAIClient, account: Account, catalog: Catalog) -> int:
    """Discover and add to `catalog`; a failure is logged, never fatal. How many were added."""
    try:
        found = await discover(client, account, catalog)
    except (e.UpstreamError, e.NoCapacityError) as err:
        log.warning("model discovery failed (%s): %s", err.kind, err.message)
        return 0
    added = 0
    for entry in found:
        if entry.spec is None:
            log.info("discovered %s but did not add it: %s", entry.name, entry.why)
            continue
        catalog.add(entry.spec)
        added += 1
        if is_past(entry.spec.deprecated):
            date = entry.spec.deprecated
            log.warning("discovered model %s is past its deprecation date %s", entry.name, date)
    log.info("model discovery added %d model(s)", added)
    return added
