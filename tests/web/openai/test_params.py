"""OpenAI `size` mapped onto each model's legal sizes (pure function, table of cases)."""

import pytest

from flux_remix.catalog import build_catalog
from flux_remix.errors import ConfigError, InvalidParameterError
from flux_remix.settings import load_settings
from flux_remix.web.openai_params import map_size

CATALOG = build_catalog({})


@pytest.mark.parametrize(
    ("model", "size", "width", "height", "noted"),
    [
        ("DS-8-CF", None, None, None, False),
        ("DS-8-CF", "auto", None, None, False),
        ("DS-8-CF", "768x512", 768, 512, False),
        ("DS-8-CF", " 1024 X 640 ", 1024, 640, False),
        ("DS-8-CF", "512×512", 512, 512, False),
        ("DS-8-CF", "256x2048", 256, 2048, False),
        ("flux-2-dev", "1920x1080", 1920, 1080, False),
        ("lucid-origin", "2500x2500", 2500, 2500, False),
        ("FLUX.1-Schnell-CF", "1024x1024", None, None, False),
        ("FLUX.1-Schnell-CF", "512x512", None, None, True),
        ("FLUX.1-Schnell-CF", "1792x1024", None, None, True),
    ],
)
def test_legal_sizes(model, size, width, height, noted):
    w, h, notes = map_size(CATALOG.resolve(model), size)
    assert (w, h) == (width, height)
    assert bool(notes) is noted


@pytest.mark.parametrize(
    ("model", "size", "needle"),
    [
        ("DS-8-CF", "255x512", "from 256x256 to 2048x2048"),
        ("DS-8-CF", "512x2049", "512x2049 is outside"),
        ("flux-2-klein-9b", "2048x1024", "to 1920x1920"),
        ("DS-8-CF", "512", "WIDTHxHEIGHT"),
        ("DS-8-CF", "axb", "WIDTHxHEIGHT"),
        ("DS-8-CF", "512x512x3", "WIDTHxHEIGHT"),
        ("FLUX.1-Schnell-CF", "large", "WIDTHxHEIGHT"),  # malformed is refused even when fixed
    ],
)
def test_illegal_sizes_name_the_field(model, size, needle):
    with pytest.raises(InvalidParameterError) as caught:
        map_size(CATALOG.resolve(model), size)
    assert caught.value.field == "size"
    assert needle in caught.value.message


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", ()),
        ("*", ("*",)),
        (
            "https://chat.example.com/, http://localhost:3000",
            ("https://chat.example.com", "http://localhost:3000"),
        ),
    ],
)
def test_cors_origins_setting(value, origins):
    assert load_settings({"CORS_ORIGINS": value}).cors_origins == origins


@pytest.mark.parametrize("value", ["chat.example.com", "https://chat.example.com/app", "https://"])
def test_bad_cors_origins_name_the_variable(value):
    with pytest.raises(ConfigError) as caught:
        load_settings({"CORS_ORIGINS": value})
    assert caught.value.message.startswith("invalid configuration: CORS_ORIGINS:")
