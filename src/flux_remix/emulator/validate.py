"""A small JSON-schema-like validator that words its errors the way Workers AI does.

Observed message forms (joined with ``", "`` when several apply)::

    required properties at '/' are 'text,target_lang'
    Additional or unevaluated properties '/width, /height' at '/' not allowed
    Type mismatch of '/steps', 'string' not in 'integer'
    '/num_steps' must be <= 20
    Length of '/prompt' must be <= 2048
    oneOf at '/' not met, 0 matches: required properties at '/' are 'prompt', ...

The web layer wraps them as ``AiError: Bad input: Error: <detail>`` (400 / 5006).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal["string", "integer", "number", "boolean", "array", "object", "binary"]


class BadInput(Exception):
    """The request body does not match the model's input schema; ``detail`` is the message."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart body."""

    data: bytes
    filename: str = ""
    content_type: str = ""


@dataclass(frozen=True)
class Field:
    """One property: its type, bounds and default. ``binary`` means a multipart file part."""

    type: FieldType
    description: str = ""
    default: object = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    items: Field | None = None
    schema: ObjectSchema | None = None


@dataclass(frozen=True)
class ObjectSchema:
    """An object: properties, required names, and the ``oneOf``/``anyOf`` branches.

    ``one_of`` needs exactly one branch to match, ``any_of`` at least one. Each branch is
    checked against the same object and may name its own required properties.
    """

    properties: Mapping[str, Field]
    required: tuple[str, ...] = ()
    additional: bool = True
    one_of: tuple[ObjectSchema, ...] = field(default=())
    any_of: tuple[ObjectSchema, ...] = field(default=())


def json_type(value: object) -> str:
    """The JSON type name of a decoded value, as the error messages spell it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Upload | bytes):
        return "binary"
    return "object"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _child(pointer: str, name: str | int) -> str:
    return f"/{name}" if pointer == "/" else f"{pointer}/{name}"


def _type_ok(expected: FieldType, value: object) -> bool:
    if expected == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return float(value).is_integer()
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return json_type(value) == expected


def check_field(spec: Field, value: object, pointer: str) -> list[str]:
    """Errors for one value against its field spec (empty when valid)."""
    if not _type_ok(spec.type, value):
        return [f"Type mismatch of '{pointer}', '{json_type(value)}' not in '{spec.type}'"]
    errors: list[str] = []
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            errors.append(f"'{pointer}' must be >= {_number(spec.minimum)}")
        if spec.maximum is not None and value > spec.maximum:
            errors.append(f"'{pointer}' must be <= {_number(spec.maximum)}")
    if isinstance(value, str | list):
        if spec.min_length is not None and len(value) < spec.min_length:
            errors.append(f"Length of '{pointer}' must be >= {spec.min_length}")
        if spec.max_length is not None and len(value) > spec.max_length:
            errors.append(f"Length of '{pointer}' must be <= {spec.max_length}")
    if isinstance(value, list) and spec.items is not None:
        for index, item in enumerate(value):
            errors.extend(check_field(spec.items, item, _child(pointer, index)))
            if len(errors) > 8:
                break
    if isinstance(value, dict) and spec.schema is not None:
        errors.extend(check_object(spec.schema, value, pointer))
    return errors


def _branch_errors(
    branches: tuple[ObjectSchema, ...], data: Mapping[str, object], pointer: str
) -> tuple[int, list[str]]:
    matches, errors = 0, []
    for branch in branches:
        found = check_object(branch, data, pointer)
        if found:
            errors.extend(found)
        else:
            matches += 1
    return matches, errors


def check_object(schema: ObjectSchema, data: Mapping[str, object], pointer: str = "/") -> list[str]:
    """Errors for an object against ``schema``, in validator order."""
    errors: list[str] = []
    missing = [name for name in schema.required if name not in data]
    if missing:
        errors.append(f"required properties at '{pointer}' are '{','.join(missing)}'")
    for name, spec in schema.properties.items():
        if name in data:
            errors.extend(check_field(spec, data[name], _child(pointer, name)))
    if schema.one_of:
        matches, branch_errors = _branch_errors(schema.one_of, data, pointer)
        if matches == 0:
            errors.append(f"oneOf at '{pointer}' not met, 0 matches: {', '.join(branch_errors)}")
        elif matches > 1:
            errors.append(f"oneOf at '{pointer}' not met, {matches} matches")
    if schema.any_of:
        matches, branch_errors = _branch_errors(schema.any_of, data, pointer)
        if matches == 0:
            errors.append(f"anyOf at '{pointer}' not met: {', '.join(branch_errors)}")
    if not schema.additional:
        known = set(schema.properties)
        for branch in (*schema.one_of, *schema.any_of):
            known.update(branch.properties)
        extra = [_child(pointer, name) for name in data if name not in known]
        if extra:
            listed = ", ".join(extra)
            errors.append(
                f"Additional or unevaluated properties '{listed}' at '{pointer}' not allowed"
            )
    return errors


def validate(schema: ObjectSchema, data: object) -> dict[str, object]:
    """Validate a decoded body; return it with defaults filled in, or raise :class:`BadInput`."""
    if not isinstance(data, dict):
        raise BadInput(f"Type mismatch of '/', '{json_type(data)}' not in 'object'")
    errors = check_object(schema, data)
    if errors:
        raise BadInput(", ".join(errors))
    values = dict(data)
    for name, spec in all_properties(schema).items():
        if name not in values and spec.default is not None:
            values[name] = spec.default
    return values


def all_properties(schema: ObjectSchema) -> dict[str, Field]:
    """Top-level properties including those declared only in ``oneOf``/``anyOf`` branches."""
    merged: dict[str, Field] = {}
    for branch in (*schema.one_of, *schema.any_of):
        merged.update(branch.properties)
    merged.update(schema.properties)
    return merged


def coerce_form(schema: ObjectSchema, fields: Mapping[str, str | Upload]) -> dict[str, object]:
    """Turn multipart text fields into typed values where the schema asks for numbers.

    A value that does not parse stays a string, so validation reports a type mismatch.
    """
    props = all_properties(schema)
    typed: dict[str, object] = {}
    for name, value in fields.items():
        spec = props.get(name)
        typed[name] = value
        if spec is None or not isinstance(value, str):
            continue
        if spec.type in ("integer", "number"):
            try:
                number = float(value)
            except ValueError:
                continue
            typed[name] = int(number) if number.is_integer() else number
        elif spec.type == "boolean" and value in ("true", "false"):
            typed[name] = value == "true"
    return typed
