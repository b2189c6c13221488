"""Models beyond the built-in catalog: FLUX_REMIX_EXTRA_MODELS by family, discovery from the
account's models/search and models/schema (the emulator serves models no release knows), and
the refusal of proxied third-party ids (no `@cf/`, contract section 12)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from flux_remix.catalog import build_catalog
from flux_remix.commands.models import discover_models
from flux_remix.discovery import is_past, spec_from_schema
from flux_remix.emulator import EmulatorConfig, EmulatorServer
from flux_remix.emulator.listing import model_schema, search_item
from flux_remix.emulator.models import build_table
from flux_remix.errors import ConfigError, ProxiedModelError
from flux_remix.model_families import extra_models
from tests.api_helpers import decode_image, image_calls
from tests.conftest import ACCOUNTS, API_KEY, AUTH
from tests.web.helpers import sign_in

NEW = "@cf/acme/pixel-forge-1"
OLD = "@cf/acme/old-diffusion"
PROXIED = "black-forest-labs/flux-2-klein-9b"


@pytest.fixture
def preview_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(accounts=dict(ACCOUNTS), preview_models=True)) as server:
        yield server


def test_an_extra_model_behaves_like_its_family():
    (spec,) = extra_models([{"id": NEW, "family": "sdxl", "max_steps": 12, "neurons": 40}])
    sdxl = build_catalog({}).resolve("SD-XL-Bash-CF")
    assert (spec.body, spec.output, spec.origin) == (sdxl.body, sdxl.output, "config")
    assert spec.param("steps").maximum == 12 and spec.param("negative_prompt") is not None
    assert build_catalog({}, 4, [spec]).resolve("pixel-forge-1").id == NEW
    (klein,) = extra_models([{"id": "@cf/acme/k2", "family": "flux2"}])
    assert klein.body == "multipart" and klein.param("input_images").max_items == 4


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"id": NEW, "family": "dalle"}, "needs an `id` and a `family`"),
        ({"id": PROXIED, "family": "flux2"}, "not a Workers AI model id"),
        ({"id": NEW, "family": "sdxl", "colour": "red"}, "unknown keys colour"),
    ],
)
def test_bad_extra_models_stop_start_up(entry, needle):
    with pytest.raises(ConfigError, match=needle):
        extra_models([entry])


def test_a_proxied_id_is_refused_saying_why():
    with pytest.raises(ProxiedModelError, match="proxies through AI Gateway"):
        build_catalog({}).resolve(PROXIED)


def test_every_emulated_image_schema_is_understood_as_its_catalog_entry():
    """The schemas the emulator serves give back what the catalog says of its own models."""
    catalog = build_catalog({})
    for emulated in build_table():
        if not emulated.is_image:
            continue
        spec = spec_from_schema(emulated.id, search_item(emulated), model_schema(emulated))
        known = catalog.resolve(emulated.id)
        assert spec is not None
        shape = (spec.body, spec.output, spec.size.fixed)
        assert shape == (known.body, known.output, known.size.fixed), emulated.id
        ours = {p.name for p in spec.params if p.name != "seed"}
        theirs = {p.name for p in known.params if p.name != "seed" and p.upstream}
        assert theirs <= ours, emulated.id  # SD's shared schema also offers image and mask
        assert {p.name for p in spec.params if p.required} == {
            p.name for p in known.params if p.required
        }, emulated.id


def test_discovery_adds_the_accounts_new_models(start_app, preview_emulator):
    server = start_app(CF_API_BASE=preview_emulator.base_url, FLUX_REMIX_DISCOVER_MODELS="true")
    with server.client(headers=AUTH) as c:
        models = {m["id"]: m for m in c.get("/api/v1/models").json()["models"]}
        assert models[NEW]["origin"] == "discovered" and models[NEW]["deprecated"] is False
        assert models[OLD]["deprecated"] is True and models[OLD]["deprecation_date"] == "2026-01-15"
        assert models["@cf/lykon/dreamshaper-8-lcm"]["origin"] == "builtin"
        assert PROXIED not in models
        body = {"prompt": "a kite", "model": NEW, "steps": 4, "width": 768, "height": 512}
        r = c.post("/api/v1/images", json=body)
        assert r.status_code == 200, r.text
        assert decode_image(r.json()["images"][0]["b64_json"]).size == (768, 512)
        too_many = c.post("/api/v1/images", json={**body, "steps": 21})  # the schema's maximum
        assert too_many.status_code == 422 and "between 1 and 20" in too_many.text
    with sign_in(server, API_KEY) as (browser, _):
        page = browser.get("/")
    assert "(discovered)" in page.text and "(deprecated 2026-01-15)" in page.text
    (call,) = image_calls(preview_emulator)
    assert call.model == NEW and "num_steps" in call.fields


def test_without_discovery_the_new_model_is_unknown(start_app, preview_emulator):
    server = start_app(CF_API_BASE=preview_emulator.base_url)
    with server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json={"prompt": "a kite", "model": NEW})
    assert r.status_code == 404


def test_an_extra_model_by_config_is_served(start_app, preview_emulator):
    extra = '[{"id": "@cf/acme/pixel-forge-1", "family": "sdxl", "max_steps": 20}]'
    server = start_app(CF_API_BASE=preview_emulator.base_url, FLUX_REMIX_EXTRA_MODELS=extra)
    with server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json={"prompt": "a kite", "model": "pixel-forge-1"})
        assert r.status_code == 200, r.text
        listed = {m["id"]: m for m in c.get("/api/v1/models").json()["models"]}
    assert listed[NEW]["origin"] == "config"


def test_a_proxied_model_is_refused_on_the_openai_route(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        r = c.post("/v1/images/generations", json={"prompt": "a kite", "model": PROXIED})
    assert r.status_code == 404
    assert "paid credits" in r.json()["error"]["message"]
    assert emulator.state.calls() == []


def test_models_discover_previews_what_discovery_would_add(make_settings, preview_emulator):
    settings = make_settings(CF_API_BASE=preview_emulator.base_url)
    found = {m["id"]: m for m in asyncio.run(discover_models(settings))}
    assert found[NEW]["origin"] == "discovered"
    assert found[PROXIED]["skipped"].startswith("proxied")
    assert "@cf/lykon/dreamshaper-8-lcm" not in found


def test_is_past():
    import datetime as dt

    today = dt.date(2026, 12, 7)
    assert is_past("2026-01-15", today) and not is_past("2027-01-01", today)
    assert not is_past(None, today) and not is_past("soon", today)


def test_the_models_command_previews_discovery_as_a_user_runs_it(tmp_path, preview_emulator):
    from tests.commands.test_cli import clean_env, run
    from tests.conftest import account_list

    env = clean_env(tmp_path, CF_ACCOUNT_LIST=account_list(), CF_API_BASE=preview_emulator.base_url)
    r = run(["models", "--discover", "--json"], env)
    assert r.returncode == 0, r.stderr
    found = {m["id"]: m for m in json.loads(r.stdout)}
    assert found[OLD]["deprecated"] is True and "skipped" in found[PROXIED]
    table = run(["models", "--discover"], {**env, "COLUMNS": "200"})
    assert "(discovered)" in table.stdout and "skipped black-forest-labs" in table.stdout
    assert "tok-" not in r.stdout + r.stderr + table.stdout + table.stderr  # no token shown
