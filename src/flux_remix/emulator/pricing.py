"""Neuron price formulas (contract §6), as small callables over a :class:`Usage`.

Tiles are ``ceil(w/512) * ceil(h/512)``; megapixels are ``w*h / 2**20``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    """What one call consumed: output size, steps, reference image sizes, tokens."""

    width: int = 0
    height: int = 0
    steps: int = 0
    input_sizes: tuple[tuple[int, int], ...] = ()
    tokens_in: int = 0
    tokens_out: int = 0

    @property
    def tiles(self) -> int:
        return tiles(self.width, self.height)

    @property
    def input_tiles(self) -> int:
        return sum(tiles(w, h) for w, h in self.input_sizes)


PriceFn = Callable[[Usage], float]


def tiles(width: int, height: int) -> int:
    """512×512 tiles covering an image (partial tiles count whole)."""
    return math.ceil(width / 512) * math.ceil(height / 512)


def megapixels(width: int, height: int) -> float:
    return width * height / 2**20


def free(_: Usage) -> float:
    """Beta SD-family models: not priced (0.00 observed)."""
    return 0.0


def tile_times_steps(per_tile: float, per_tile_step: float) -> PriceFn:
    """FLUX.1 schnell as measured live: ``tiles * (per_tile + per_tile_step * steps)``."""
    return lambda u: u.tiles * (per_tile + per_tile_step * u.steps)


def tiles_plus_steps(per_tile: float, per_step: float) -> PriceFn:
    """Leonardo models: ``per_tile * tiles + per_step * steps``."""
    return lambda u: per_tile * u.tiles + per_step * u.steps


def input_output_tiles(per_input_tile: float, per_output_tile: float, *, per_step: bool) -> PriceFn:
    """FLUX.2 dev (per step) and klein-4b (flat): input and output tiles priced apart."""

    def price(u: Usage) -> float:
        base = per_input_tile * u.input_tiles + per_output_tile * u.tiles
        return base * u.steps if per_step else base

    return price


def first_megapixel(first: float, extra: float, per_input: float) -> PriceFn:
    """FLUX.2 klein-9b: a flat first megapixel, then per extra and per input megapixel."""

    def price(u: Usage) -> float:
        out = megapixels(u.width, u.height)
        inputs = sum(megapixels(w, h) for w, h in u.input_sizes)
        return first + extra * max(0.0, out - 1.0) + per_input * inputs

    return price


def per_million_tokens(prompt: float, completion: float) -> PriceFn:
    """Text models: neurons per million input and output tokens."""
    return lambda u: (prompt * u.tokens_in + completion * u.tokens_out) / 1_000_000


def count_tokens(text: str) -> int:
    """The emulator's token estimate: about four characters per token, at least one."""
    return max(1, math.ceil(len(text) / 4))
