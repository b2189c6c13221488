"""Pure pieces: pricing formulas and validator wording, table-driven."""

from __future__ import annotations

import pytest

from flux_remix.emulator.models import build_table
from flux_remix.emulator.pricing import Usage, tiles
from flux_remix.emulator.validate import BadInput, Field, ObjectSchema, validate


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(1024, 1024, 4), (1024, 768, 4), (512, 512, 1), (513, 512, 2), (1920, 1080, 12)],
)
def test_tiles(width: int, height: int, expected: int) -> None:
    assert tiles(width, height) == expected


TABLE = build_table()


@pytest.mark.parametrize(
    ("model", "usage", "neurons"),
    [
        ("@cf/black-forest-labs/flux-1-schnell", Usage(1024, 1024, 4), 172.8),
        ("@cf/black-forest-labs/flux-1-schnell", Usage(1024, 1024, 1), 57.6),
        ("@cf/black-forest-labs/flux-2-dev", Usage(1024, 768, 50), 7500.0),
        ("@cf/black-forest-labs/flux-2-dev", Usage(512, 512, 10, ((256, 256),)), 562.5),
        ("@cf/black-forest-labs/flux-2-klein-4b", Usage(1024, 1024, 4), 104.2),
        ("@cf/black-forest-labs/flux-2-klein-9b", Usage(1024, 1024, 4), 1363.64),
        ("@cf/black-forest-labs/flux-2-klein-9b", Usage(512, 512, 4), 1363.64),
        ("@cf/leonardo/lucid-origin", Usage(1024, 1024, 20), 2784.0),
        ("@cf/leonardo/phoenix-1.0", Usage(1024, 1024, 25), 2370.0),
        ("@cf/bytedance/stable-diffusion-xl-lightning", Usage(1024, 1024, 8), 0.0),
        ("@cf/qwen/qwen3-30b-a3b-fp8", Usage(tokens_in=1_000_000, tokens_out=1_000_000), 35100.0),
        ("@cf/meta/m2m100-1.2b", Usage(tokens_in=1000, tokens_out=1000), 62.1),
    ],
)
def test_prices(model: str, usage: Usage, neurons: float) -> None:
    spec = TABLE.get(model)
    assert spec is not None
    assert spec.price(usage) == pytest.approx(neurons)


def test_table_covers_the_contract() -> None:
    image_models = [spec for spec in TABLE if spec.is_image]
    assert len(image_models) == 11
    assert TABLE.get("@cf/qwen/qwen1.5-14b-chat-awq") is None
    assert TABLE.get("@cf/meta/llama-3.1-8b-instruct") is None
    phoenix = TABLE.get("@cf/leonardo/phoenix-1.0")
    assert (
        phoenix is not None and not phoenix.sends_neurons and phoenix.content_type == "image/jpeg"
    )
    lightning = TABLE.get("@cf/bytedance/stable-diffusion-xl-lightning")
    assert lightning is not None and lightning.content_type == "image/png"
    assert lightning.image_format == "JPEG"


SCHEMA = ObjectSchema(
    {
        "a": Field("integer", minimum=1, maximum=3),
        "b": Field("string", min_length=2),
        "n": Field("object", schema=ObjectSchema({"x": Field("boolean")}, required=("x",))),
    },
    required=("a", "b"),
    additional=False,
)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "required properties at '/' are 'a,b'"),
        ({"a": 0, "b": "xy"}, "'/a' must be >= 1"),
        ({"a": True, "b": "xy"}, "Type mismatch of '/a', 'boolean' not in 'integer'"),
        (
            {"a": 1, "b": "x", "z": 1, "y": 2},
            "Length of '/b' must be >= 2, "
            "Additional or unevaluated properties '/z, /y' at '/' not allowed",
        ),
        ({"a": 1, "b": "xy", "n": {}}, "required properties at '/n' are 'x'"),
        ({"a": 1, "b": "xy", "n": {"x": None}}, "Type mismatch of '/n/x', 'null' not in 'boolean'"),
    ],
)
def test_validator_messages(data: dict[str, object], message: str) -> None:
    with pytest.raises(BadInput) as caught:
        validate(SCHEMA, data)
    assert caught.value.detail == message


def test_validator_fills_defaults() -> None:
    schema = ObjectSchema({"steps": Field("integer", default=4)})
    assert validate(schema, {}) == {"steps": 4}
