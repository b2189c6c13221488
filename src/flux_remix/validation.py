"""Validate a request against the chosen model's real limits and fill in its defaults.

Invalid values raise `InvalidParameterError` naming the field and the model's limit: never a
silent clamp, never an upstream 400.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from flux_remix.catalog import ModelSpec, Param, PriceInputs
from flux_remix.errors import InvalidParameterError
from flux_remix.limits import ImageLimits, InputImage, check_prompt, decode_image
from flux_remix.schemas import ImageRequest
from flux_remix.uploads import normalise

__all__ = [
    "EffectiveParams",
    "InputImage",
    "UnusedSeed",
    "check_final_prompt",
    "validate_request",
]

# What an explicit seed gets from a model that takes none (catalog `takes_seed`): the native API
# refuses it, like any parameter a model does not take; API shapes whose clients send a seed
# with every request (A1111, OpenAI SDK extras) ignore it and say so in the answer's note.
UnusedSeed = Literal["refuse", "ignore"]


@dataclass(frozen=True)
class EffectiveParams:
    """A request after validation: every value the model will get, defaults filled in."""

    model: ModelSpec
    width: int
    height: int
    seed: int | None  # None: the model takes no seed (its images cannot be made again)
    values: dict[str, Any]  # our param name -> value: scalar params the model takes, and `style`
    images: dict[str, tuple[InputImage, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what was changed in the uploads to suit the model
    seed_ignored: int | None = None  # an explicit seed that was not used (`UnusedSeed` ignore)

    def with_seed(self, seed: int | None) -> EffectiveParams:
        return dataclasses.replace(self, seed=seed)

    @property
    def steps(self) -> int | None:
        steps = self.values.get("steps")
        return int(steps) if steps is not None else None

    def price_inputs(self) -> PriceInputs:
        sizes = tuple((i.width, i.height) for imgs in self.images.values() for i in imgs)
        return PriceInputs(self.width, self.height, self.steps, sizes)

    def public(self) -> dict[str, Any]:
        """The effective parameters as a response reports them (no image bytes)."""
        out: dict[str, Any] = {"width": self.width, "height": self.height, "seed": self.seed}
        out.update({k: v for k, v in self.values.items() if k != "seed"})
        for name, imgs in self.images.items():
            out[name] = [f"{i.width}x{i.height} {i.mime}" for i in imgs]
        if self.images:  # the inputs as sent, by content (history can tell them apart)
            out["input_sha256"] = {
                name: [hashlib.sha256(i.data).hexdigest() for i in imgs]
                for name, imgs in self.images.items()
            }
        if self.notes:
            out["notes"] = list(self.notes)
        return out


_SCALAR_FIELDS = ("negative_prompt", "steps", "guidance", "strength")
_FLOAT_FIELDS = ("guidance", "strength")


def validate_request(
    spec: ModelSpec,
    req: ImageRequest,
    limits: ImageLimits | None = None,
    *,
    unused_seed: UnusedSeed = "refuse",
) -> EffectiveParams:
    """Check `req` against `spec` (and uploads against `limits`); return the effective
    parameters (seed drawn if unset and the model takes one)."""
    check_prompt(spec, req.prompt)
    for name in _FLOAT_FIELDS:  # whatever built `req`, a non-finite number goes no further
        value = getattr(req, name)
        if value is not None and not math.isfinite(value):
            raise InvalidParameterError(name, f"{name}: must be a finite number, not {value}")
    width, height = _size(spec, req.width, req.height)
    values: dict[str, Any] = {}
    if req.style is not None:  # stored with the image; its words join the prompt (styles.py)
        values["style"] = req.style
    for name in _SCALAR_FIELDS:
        given = getattr(req, name)
        param = spec.param(name)
        if param is None:
            if given is not None:
                raise InvalidParameterError(name, _not_taken(spec, name))
            continue
        if given is None:
            if param.default is not None:
                values[name] = param.default
            continue
        values[name] = _check_scalar(spec, param, given)
    seed, ignored = _seed(spec, req.seed, unused_seed)
    images, notes = _images(spec, req, limits or ImageLimits())
    return EffectiveParams(
        spec, width, height, seed, values, images, notes=notes, seed_ignored=ignored
    )


def _seed(spec: ModelSpec, given: int | None, unused: UnusedSeed) -> tuple[int | None, int | None]:
    """The seed to send (drawn when unset), and an explicit one that is not used."""
    seed_param = spec.param("seed")
    if seed_param is None or not spec.takes_seed:
        if given is not None and unused == "refuse":
            raise InvalidParameterError(
                "seed", f"{spec.seed_note}; leave seed out ({_takes(spec)})"
            )
        return None, given
    seed = given if given is not None else secrets.randbelow(2**32)
    _check_scalar(spec, seed_param, seed)
    return seed, None


def check_final_prompt(spec: ModelSpec, prompt: str) -> str:
    """Fit a translated prompt into the model's limit, cutting at a word boundary."""
    if len(prompt) <= spec.prompt_max:
        return prompt
    cut = prompt[: spec.prompt_max]
    boundary = max(cut.rfind(","), cut.rfind(" "))
    return (cut[:boundary] if boundary > spec.prompt_max // 2 else cut).rstrip(" ,")


def _size(spec: ModelSpec, width: int | None, height: int | None) -> tuple[int, int]:
    size = spec.size
    if size.fixed:
        for name, value in (("width", width), ("height", height)):
            if value is not None and value != size.default_width:
                raise InvalidParameterError(
                    name,
                    f"{spec.name} always makes {size.default_width}x{size.default_height} images; "
                    f"{name} cannot be set to {value}",
                )
        return size.default_width, size.default_height
    w = size.default_width if width is None else width
    h = size.default_height if height is None else height
    for name, value in (("width", w), ("height", h)):
        if not size.minimum <= value <= size.maximum:
            raise InvalidParameterError(
                name,
                f"{name} must be between {size.minimum} and {size.maximum} for {spec.name} "
                f"(got {value})",
            )
    return w, h


def _check_scalar(spec: ModelSpec, param: Param, value: Any) -> Any:
    name = param.name
    if param.kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise InvalidParameterError(name, f"{name} must be a non-empty string")
        return value
    if param.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise InvalidParameterError(name, f"{name} must be an integer (got {value!r})")
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterError(name, f"{name} must be a number (got {value!r})")
    lo, hi = param.minimum, param.maximum
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidParameterError(
            name,
            f"{name} must be between {_fmt(lo)} and {_fmt(hi)} for {spec.name} (got {value})",
        )
    return value


def _fmt(value: float | None) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else str(value)


def _not_taken(spec: ModelSpec, name: str) -> str:
    return f"{spec.name} does not take {name} ({_takes(spec)})"


def _takes(spec: ModelSpec) -> str:
    return "it takes: " + ", ".join(["prompt", *(p.name for p in spec.params)])


def _images(
    spec: ModelSpec, req: ImageRequest, limits: ImageLimits
) -> tuple[dict[str, tuple[InputImage, ...]], tuple[str, ...]]:
    """The uploads, decoded, checked and normalised to what `spec` takes (see uploads.py),
    with a note for each one that had to change."""
    given: dict[str, list[str]] = {}
    if req.image is not None:
        given["image"] = [req.image]
    if req.mask is not None:
        given["mask"] = [req.mask]
    if req.input_images:
        given["input_images"] = list(req.input_images)
    out: dict[str, tuple[InputImage, ...]] = {}
    notes: list[str] = []
    for name, items in given.items():
        param = spec.param(name)
        if param is None:
            raise InvalidParameterError(name, _not_taken(spec, name))
        if len(items) > param.max_items:
            raise InvalidParameterError(
                name, f"{spec.name} takes at most {param.max_items} {name} (got {len(items)})"
            )
        sent = []
        for index, item in enumerate(items):
            image, note = normalise(param, index, decode_image(name, item, limits))
            sent.append(image)
            if note:
                notes.append(note)
        out[name] = tuple(sent)
    for param in spec.params:
        if param.required and param.name not in out:
            raise InvalidParameterError(param.name, f"{spec.name} needs {param.name}")
    return out, tuple(notes)
