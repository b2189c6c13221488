"""Aspect hints: a trailing `16:9` (or `16：9`, `--ar 16:9`) in a prompt, as chat clients send.

The hint is cut from the prompt and, when the request sets no width or height, becomes the legal
size of the model nearest to that ratio at the model's default area, in multiples of 64. Fixed-
size models (FLUX.1 schnell) only lose the hint. This runs before validation, so the size it
picks is validated like any other.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from flux_remix.catalog import ModelSpec, SizeSpec
from flux_remix.schemas import ImageRequest

STEP = 64
MAX_TERM = 21  # 21:9 is the widest common ratio; larger numbers are times or counts, not ratios
MAX_RATIO = 4.0

_TRAILING = re.compile(
    r"(?:^|(?<=[\s,，、。;；(（\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]))"
    r"(?:--ar\s*|--aspect\s*|ar\s+|aspect\s+|比例\s*|宽高比\s*)?"
    r"(?P<w>\d{1,2})\s*[:：]\s*(?P<h>\d{1,2})"
    r"\s*[)）]?[\s,，、。.;；]*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AspectHint:
    ratio: str  # as written, normalized: "16:9"
    width: int | None  # the size it chose; None when the request or the model decided
    height: int | None
    note: str


def split_hint(prompt: str) -> tuple[str, tuple[int, int] | None]:
    """The prompt without a trailing ratio, and the ratio (None when there is none)."""
    match = _TRAILING.search(prompt)
    if match is None:
        return prompt, None
    w, h = int(match.group("w")), int(match.group("h"))
    if not (0 < w <= MAX_TERM and 0 < h <= MAX_TERM) or max(w / h, h / w) > MAX_RATIO:
        return prompt, None
    rest = prompt[: match.start()].rstrip(" \t\n,，、。;；(（")
    if not rest.strip():
        return prompt, None  # a prompt that is only "16:9" is a prompt, not a hint
    return rest, (w, h)


def nearest_size(size: SizeSpec, ratio: float) -> tuple[int, int]:
    """The multiple-of-64 size within the model's limits closest to `ratio` at the default area.

    Closeness is measured in log space: ratio error first, area error at a quarter weight.
    """
    area = size.default_width * size.default_height
    lo = math.ceil(size.minimum / STEP) * STEP
    hi = size.maximum // STEP * STEP
    best: tuple[float, int, int] | None = None
    for width in range(lo, hi + 1, STEP):
        for height in _heights(width, ratio, lo, hi):
            score = abs(math.log(width / height / ratio)) + 0.25 * abs(
                math.log(width * height / area)
            )
            if best is None or score < best[0]:
                best = (score, width, height)
    if best is None:  # limits narrower than one step: the default is the only legal choice
        return size.default_width, size.default_height
    return best[1], best[2]


def _heights(width: int, ratio: float, lo: int, hi: int) -> list[int]:
    ideal = width / ratio
    below = max(lo, min(hi, math.floor(ideal / STEP) * STEP))
    above = max(lo, min(hi, below + STEP))
    return sorted({below, above})


def apply_aspect_hint(spec: ModelSpec, req: ImageRequest) -> tuple[ImageRequest, AspectHint | None]:
    """`req` with a trailing ratio cut from its prompt and, if it set no size, sized by it."""
    prompt, ratio = split_hint(req.prompt)
    if ratio is None:
        return req, None
    w, h = ratio
    label = f"{w}:{h}"
    if spec.size.fixed:
        note = (
            f"{spec.name} always makes {spec.size.default_width}x{spec.size.default_height} "
            f"images; the {label} hint was removed from the prompt"
        )
        return req.model_copy(update={"prompt": prompt}), AspectHint(label, None, None, note)
    if req.width is not None or req.height is not None:
        note = f"the request sets its size; the {label} hint was removed from the prompt"
        return req.model_copy(update={"prompt": prompt}), AspectHint(label, None, None, note)
    width, height = nearest_size(spec.size, w / h)
    note = f"{label} from the prompt -> {width}x{height}"
    update = {"prompt": prompt, "width": width, "height": height}
    return req.model_copy(update=update), AspectHint(label, width, height, note)
