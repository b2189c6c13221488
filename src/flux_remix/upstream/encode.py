"""Turn effective parameters into the body a model takes: JSON or multipart form fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flux_remix import b64
from flux_remix.validation import EffectiveParams


@dataclass(frozen=True)
class EncodedBody:
    json: dict[str, Any] | None = None
    files: list[tuple[str, tuple[str | None, bytes, str]]] = field(default_factory=list)

    @property
    def field_names(self) -> list[str]:
        if self.json is not None:
            return sorted(self.json)
        return sorted(name for name, _ in self.files)


def encode_image_request(params: EffectiveParams, prompt: str) -> EncodedBody:
    """The upstream body for `params`, following the model's catalog entry and nothing else."""
    spec = params.model
    fields: dict[str, Any] = {"prompt": prompt}
    if not spec.size.fixed:
        fields["width"] = params.width
        fields["height"] = params.height
    for scalar in spec.params:
        if scalar.upstream is None or scalar.kind in ("image", "images"):
            continue
        value = params.seed if scalar.name == "seed" else params.values.get(scalar.name)
        if value is not None:
            fields[scalar.upstream] = value
    if spec.body == "json":
        for name, images in params.images.items():
            param = spec.param(name)
            if param is None or param.upstream is None or not images:
                continue
            data = images[0].data
            if param.image_encoding == "b64":
                fields[param.upstream] = b64.encode(data)
            else:
                fields[param.upstream] = list(data)
        return EncodedBody(json=fields)
    files: list[tuple[str, tuple[str | None, bytes, str]]] = []
    for name, images in params.images.items():
        param = spec.param(name)
        if param is None or param.upstream is None:
            continue
        for i, img in enumerate(images):
            ext = img.mime.rsplit("/", 1)[-1]
            files.append((f"{param.upstream}_{i}", (f"{name}_{i}.{ext}", img.data, img.mime)))
    # Text fields travel as parts too, so the body is multipart even without any image.
    text_parts = [
        (name, (None, str(value).encode(), "text/plain")) for name, value in fields.items()
    ]
    return EncodedBody(files=[*text_parts, *files])
