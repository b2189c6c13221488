"""Reading a request body into a framework-free :class:`Payload` (JSON or multipart)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from starlette.datastructures import UploadFile
from starlette.requests import Request

from flux_remix.emulator.validate import Upload

ContentKind = Literal["json", "multipart", "form", "empty", "other"]


@dataclass(frozen=True)
class Payload:
    """A decoded body. ``data`` is the JSON value, or the form fields for multipart/form.

    ``error`` is set when the body could not be decoded at all (invalid JSON, broken
    multipart); the runner answers it with 400 / 5006.
    """

    kind: ContentKind
    data: object = field(default_factory=dict)
    error: str | None = None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self.data) if isinstance(self.data, dict) else ()


async def read_payload(request: Request) -> Payload:
    """Decode by ``Content-Type``; a body without one is tried as JSON."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        kind: ContentKind = "multipart" if content_type.startswith("multipart") else "form"
        try:
            form = await request.form()
        except Exception as exc:  # starlette raises its own HTTP/multipart errors
            return Payload(kind, error=f"invalid {kind} body: {exc}")
        fields: dict[str, str | Upload] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                fields[name] = Upload(data, value.filename or "", value.content_type or "")
            else:
                fields[name] = value
        await form.close()
        return Payload(kind, fields)
    body = await request.body()
    if not body.strip():
        return Payload("empty", {})
    looks_json = "json" in content_type or not content_type
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "json" if looks_json else "other"
        position = getattr(exc, "pos", 0)
        return Payload(kind, error=f"Unexpected token in JSON at position {position}")
    return Payload("json" if looks_json else "other", value)
