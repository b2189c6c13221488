import pytest

from flux_remix.catalog import PriceInputs, build_catalog, tiles
from flux_remix.errors import ConfigError, UnknownModelError

ALL = [
    "@cf/black-forest-labs/flux-1-schnell",
    "@cf/black-forest-labs/flux-2-dev",
    "@cf/black-forest-labs/flux-2-klein-4b",
    "@cf/black-forest-labs/flux-2-klein-9b",
    "@cf/leonardo/lucid-origin",
    "@cf/leonardo/phoenix-1.0",
    "@cf/stabilityai/stable-diffusion-xl-base-1.0",
    "@cf/bytedance/stable-diffusion-xl-lightning",
    "@cf/lykon/dreamshaper-8-lcm",
    "@cf/runwayml/stable-diffusion-v1-5-img2img",
    "@cf/runwayml/stable-diffusion-v1-5-inpainting",
]


def test_every_current_model_is_in_the_catalog():
    assert sorted(m.id for m in build_catalog({})) == sorted(ALL)


@pytest.mark.parametrize(
    ("alias", "target"),
    [
        ("FLUX.1-Schnell-CF", "@cf/black-forest-labs/flux-1-schnell"),
        ("DS-8-CF", "@cf/lykon/dreamshaper-8-lcm"),
        ("SD-XL-Bash-CF", "@cf/stabilityai/stable-diffusion-xl-base-1.0"),
        ("SD-XL-Lightning-CF", "@cf/bytedance/stable-diffusion-xl-lightning"),
        ("flux-2-klein-4b", "@cf/black-forest-labs/flux-2-klein-4b"),
        ("flux.1-schnell-cf", "@cf/black-forest-labs/flux-1-schnell"),
        ("@cf/leonardo/phoenix-1.0", "@cf/leonardo/phoenix-1.0"),
    ],
)
def test_aliases_resolve(alias, target):
    assert build_catalog({}).resolve(alias).id == target


def test_customer_model_map_adds_aliases_and_rejects_unknown_targets():
    catalog = build_catalog({"mine": "@cf/leonardo/lucid-origin"})
    assert catalog.resolve("mine").id == "@cf/leonardo/lucid-origin"
    with pytest.raises(ConfigError, match="CUSTOMER_MODEL_MAP: alias 'x' points at unknown"):
        build_catalog({"x": "@cf/nobody/nothing"})


def test_unknown_model_lists_known_aliases():
    with pytest.raises(UnknownModelError, match=r"FLUX\.1-Schnell-CF"):
        build_catalog({}).resolve("dall-e-3")


@pytest.mark.parametrize(
    ("model", "inputs", "neurons"),
    [
        ("flux-1-schnell", PriceInputs(1024, 1024, 4), 172.8),
        ("flux-2-klein-9b", PriceInputs(1024, 1024, None), 1363.64),
        ("flux-2-klein-4b", PriceInputs(1024, 1024, None), 104.2),
        ("flux-2-dev", PriceInputs(1024, 768, 50), 7500.0),
        ("lucid-origin", PriceInputs(1024, 1024, 20), 2784.0),
        ("phoenix-1.0", PriceInputs(1024, 1024, 25), 2370.0),
        ("stable-diffusion-xl-lightning", PriceInputs(1024, 1024, 8), 0.0),
    ],
)
def test_price_formulas_match_the_contract(model, inputs, neurons):
    assert build_catalog({}).resolve(model).estimate_neurons(inputs) == pytest.approx(neurons)


def test_tiles_round_up_per_side():
    assert tiles(1024, 1024) == 4
    assert tiles(1024, 768) == 4
    assert tiles(513, 512) == 2


def test_schnell_takes_only_steps_and_no_seed():
    spec = build_catalog({}).resolve("FLUX.1-Schnell-CF")
    assert spec.size.fixed
    assert [(p.name, p.upstream) for p in spec.params] == [("steps", "steps")]
    steps = spec.param("steps")
    assert steps is not None and steps.maximum == 8
    assert not spec.takes_seed
    assert spec.seed_note is not None and "takes no seed" in spec.seed_note


def test_every_other_model_takes_a_seed_upstream():
    seeded = {m.short_id for m in build_catalog({}) if m.takes_seed}
    assert seeded == {m.short_id for m in build_catalog({})} - {"flux-1-schnell"}
    assert all(build_catalog({}).resolve(s).seed_note is None for s in seeded)


def test_flux_num_steps_sets_the_schnell_default():
    steps = build_catalog({}, flux_steps=6).resolve("FLUX.1-Schnell-CF").param("steps")
    assert steps is not None and steps.default == 6
