"""Model discovery: ``/ai/models/search`` items and ``/ai/models/schema`` JSON Schemas."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from flux_remix.emulator.models import RETIRED, ModelSpec, ModelTable
from flux_remix.emulator.validate import Field, ObjectSchema

_NAMESPACE = uuid.UUID("6f1b6c1e-4f4e-4d55-9a51-63c0b4a1e2d1")

_USAGE = ("prompt_tokens", "completion_tokens", "total_tokens")
_CHAT_COMPLETION = (
    ("id", "string"),
    ("object", "string"),
    ("created", "number"),
    ("model", "string"),
    ("choices", "array"),
)


def _stable_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


def _task(name: str) -> dict[str, object]:
    return {"id": _stable_id(f"task:{name}"), "name": name, "description": f"{name} models."}


def search_item(spec: ModelSpec) -> dict[str, object]:
    """One model as ``/ai/models/search`` lists it."""
    properties: list[dict[str, object]] = []
    if spec.price_lines:
        prices = [{"unit": unit, "price": usd, "currency": "USD"} for unit, usd in spec.price_lines]
        properties.append({"property_id": "price", "value": prices})
    if spec.beta:
        properties.append({"property_id": "beta", "value": "true"})
    if spec.partner:
        properties.append({"property_id": "partner", "value": "true"})
    if spec.planned_deprecation:
        properties.append(
            {"property_id": "planned_deprecation_date", "value": spec.planned_deprecation}
        )
    return {
        "id": _stable_id(spec.id),
        "source": 1,
        "name": spec.id,
        "description": spec.description,
        "task": _task(spec.task),
        "created_at": "2025-01-01 00:00:00.000",
        "tags": [],
        "properties": properties,
    }


def proxied_item(name: str) -> dict[str, object]:
    """A third-party model proxied through AI Gateway, listed without `@cf/` (contract §12)."""
    return {
        "id": _stable_id(name),
        "source": 2,
        "name": name,
        "description": "Proxied through AI Gateway; billed from Unified Billing credits.",
        "task": _task("Text-to-Image"),
        "created_at": "2026-06-01 00:00:00.000",
        "tags": ["proxied"],
        "properties": [{"property_id": "partner", "value": "true"}],
    }


def retired_item(model_id: str, date: str) -> dict[str, object]:
    return {
        "id": _stable_id(model_id),
        "source": 1,
        "name": model_id,
        "description": "Retired model.",
        "task": _task("Text Generation"),
        "created_at": "2024-01-01 00:00:00.000",
        "tags": [],
        "properties": [{"property_id": "planned_deprecation_date", "value": date}],
    }


def search(
    table: ModelTable, query: Mapping[str, str]
) -> tuple[list[dict[str, object]], dict[str, int]]:
    """Filter by ``task``, ``author``, ``search``; paginate by ``page``/``per_page``."""
    items = [search_item(spec) for spec in table] + [proxied_item(name) for name in table.proxied]
    if query.get("include_deprecated", "").lower() == "true":
        items += [retired_item(model_id, date) for model_id, date in RETIRED.items()]
    task = query.get("task", "").lower()
    author = query.get("author", "").lower()
    text = query.get("search", "").lower()

    def keep(item: Mapping[str, object]) -> bool:
        name = str(item["name"])
        task_info = item["task"]
        task_name = str(task_info["name"]).lower() if isinstance(task_info, dict) else ""
        task_id = str(task_info["id"]).lower() if isinstance(task_info, dict) else ""
        if task and task not in (task_name, task_id):
            return False
        if author and name.split("/")[1:2] != [author]:
            return False
        return not text or text in name.lower() or text in str(item["description"]).lower()

    selected = [item for item in items if keep(item)]
    page = max(1, _int(query.get("page"), 1))
    per_page = max(1, _int(query.get("per_page"), 50))
    chunk = selected[(page - 1) * per_page : page * per_page]
    info = {"count": len(chunk), "page": page, "per_page": per_page, "total_count": len(selected)}
    return chunk, info


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def field_schema(spec: Field) -> dict[str, object]:
    out: dict[str, object] = {"type": spec.type}
    if spec.type == "binary":
        out = {"type": "string", "format": "binary"}
    for key, value in (
        ("description", spec.description or None),
        ("default", spec.default),
        ("minimum", spec.minimum),
        ("maximum", spec.maximum),
        ("minLength", spec.min_length),
        ("maxLength", spec.max_length),
    ):
        if value is not None:
            out[key] = value
    if spec.items is not None:
        out["items"] = field_schema(spec.items)
    if spec.schema is not None:
        out.update(object_schema(spec.schema))
    return out


def object_schema(schema: ObjectSchema) -> dict[str, object]:
    out: dict[str, object] = {
        "type": "object",
        "properties": {name: field_schema(f) for name, f in schema.properties.items()},
    }
    if schema.required:
        out["required"] = list(schema.required)
    if not schema.additional:
        out["additionalProperties"] = False
    for key, branches in (("oneOf", schema.one_of), ("anyOf", schema.any_of)):
        if branches:
            out[key] = [object_schema(b) for b in branches]
    return out


def model_schema(spec: ModelSpec) -> dict[str, object]:
    """``{"input": ..., "output": ...}`` as ``/ai/models/schema`` returns it."""
    if spec.body == "multipart":
        body = object_schema(spec.schema)
        input_schema: dict[str, object] = {
            "type": "object",
            "properties": {
                "multipart": {
                    "type": "object",
                    "properties": {
                        "body": {"type": "object", "form": body},
                        "contentType": {"type": "string"},
                    },
                    "required": ["body", "contentType"],
                }
            },
            "required": ["multipart"],
        }
    else:
        input_schema = object_schema(spec.schema)
    return {"input": input_schema, "output": _output_schema(spec)}


def _output_schema(spec: ModelSpec) -> dict[str, object]:
    if spec.output.startswith("binary"):
        return {"type": "string", "contentType": spec.content_type, "format": "binary"}
    if spec.output == "json-b64":
        image = {"type": "string", "description": "The generated image in Base64 format."}
        return {"type": "object", "contentType": "application/json", "properties": {"image": image}}
    if spec.output == "translation":
        return {"type": "object", "properties": {"translated_text": {"type": "string"}}}
    usage = {"type": "object", "properties": {k: {"type": "number"} for k in _USAGE}}
    if spec.output == "llm-classic":
        props = {"response": {"type": "string"}, "tool_calls": {"type": "array"}, "usage": usage}
        return {"type": "object", "contentType": "application/json", "properties": props}
    props = {name: {"type": kind} for name, kind in _CHAT_COMPLETION}
    return {
        "type": "object",
        "contentType": "application/json",
        "properties": {**props, "usage": usage},
    }
