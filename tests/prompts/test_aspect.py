"""Aspect hints: parsing a trailing ratio, and the nearest legal size per model."""

from __future__ import annotations

import pytest

from flux_remix.catalog import SizeSpec, build_catalog
from flux_remix.prompts.aspect import apply_aspect_hint, nearest_size, split_hint
from flux_remix.schemas import ImageRequest

CATALOG = build_catalog({})


@pytest.mark.parametrize(
    ("prompt", "rest", "ratio"),
    [
        ("a cat 16:9", "a cat", (16, 9)),
        ("a cat, 16:9", "a cat", (16, 9)),
        ("一只猫 16：9", "一只猫", (16, 9)),
        ("一只猫16:9", "一只猫", (16, 9)),
        ("a cat --ar 9:16", "a cat", (9, 16)),
        ("a cat --ar 3:2 ", "a cat", (3, 2)),
        ("a cat (4:3)", "a cat", (4, 3)),
        ("a cat，比例 1:1。", "a cat", (1, 1)),
        ("a cat 21:9", "a cat", (21, 9)),
        # not hints: times, weights, ratios in the middle, absurd ratios, a bare ratio
        ("meet at 12:30", "meet at 12:30", None),
        ("(cat:1.2)", "(cat:1.2)", None),
        ("a cat:2", "a cat:2", None),
        ("16:9 a cat", "16:9 a cat", None),
        ("a strip 9:1", "a strip 9:1", None),
        ("a cat 0:9", "a cat 0:9", None),
        ("16:9", "16:9", None),
    ],
)
def test_split_hint(prompt, rest, ratio):
    assert split_hint(prompt) == (rest, ratio)


@pytest.mark.parametrize(
    ("model", "ratio", "size"),
    [
        ("SD-XL-Bash-CF", (16, 9), (1344, 768)),
        ("SD-XL-Bash-CF", (9, 16), (768, 1344)),
        ("SD-XL-Bash-CF", (1, 1), (1024, 1024)),
        ("DS-8-CF", (16, 9), (704, 384)),
        ("flux-2-dev", (4, 3), (1024, 768)),
    ],
)
def test_nearest_size_examples(model, ratio, size):
    assert nearest_size(CATALOG.resolve(model).size, ratio[0] / ratio[1]) == size


@pytest.mark.parametrize("spec", [m for m in CATALOG if not m.size.fixed], ids=lambda m: m.id)
@pytest.mark.parametrize("ratio", [(1, 1), (4, 3), (3, 2), (16, 9), (21, 9), (9, 16), (1, 4)])
def test_nearest_size_is_legal_close_and_near_the_default_area(spec, ratio):
    size: SizeSpec = spec.size
    w, h = nearest_size(size, ratio[0] / ratio[1])
    assert w % 64 == 0 and h % 64 == 0
    assert size.minimum <= w <= size.maximum and size.minimum <= h <= size.maximum
    assert abs((w / h) / (ratio[0] / ratio[1]) - 1) < 0.12
    area = size.default_width * size.default_height
    assert 0.6 < (w * h) / area < 1.4


def test_hint_sizes_a_request_without_a_size():
    spec = CATALOG.resolve("SD-XL-Bash-CF")
    req, hint = apply_aspect_hint(spec, ImageRequest(prompt="a fox in snow 16:9"))
    assert (req.prompt, req.width, req.height) == ("a fox in snow", 1344, 768)
    assert hint is not None and hint.ratio == "16:9" and (hint.width, hint.height) == (1344, 768)


def test_explicit_size_wins_and_fixed_models_only_lose_the_hint():
    sdxl = CATALOG.resolve("SD-XL-Bash-CF")
    req, hint = apply_aspect_hint(sdxl, ImageRequest(prompt="a fox 16:9", width=512, height=512))
    assert (req.prompt, req.width, req.height) == ("a fox", 512, 512)
    assert hint is not None and hint.width is None and "sets its size" in hint.note
    schnell = CATALOG.resolve("FLUX.1-Schnell-CF")
    req, hint = apply_aspect_hint(schnell, ImageRequest(prompt="a fox --ar 16:9"))
    assert (req.prompt, req.width, req.height) == ("a fox", None, None)
    assert hint is not None and "1024x1024" in hint.note


def test_no_hint_leaves_the_request_alone():
    spec = CATALOG.resolve("SD-XL-Bash-CF")
    original = ImageRequest(prompt="a fox at 12:30")
    assert apply_aspect_hint(spec, original) == (original, None)
