"""The prompt pipeline through the real app over HTTP, against the emulator."""

from __future__ import annotations

import logging
import uuid

import pytest

from flux_remix.emulator import FaultSpec
from flux_remix.errors import ConfigError
from flux_remix.prompts.detect import has_cjk
from flux_remix.redis_client import redis_from_url
from flux_remix.settings import load_settings
from tests.conftest import ACCOUNT_IDS, ACCOUNTS, AUTH
from tests.servers import require_redis

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"


def llm_calls(emulator) -> list:
    return [c for c in emulator.state.calls() if "/ai/v1/" in c.endpoint or "@cf/meta" in c.model]


def image_calls(emulator) -> list:
    return [
        c
        for c in emulator.state.calls()
        if "/ai/run/" in c.endpoint
        and "@cf/" in c.model
        and "@cf/meta" not in c.model
        and "@cf/qwen" not in c.model
    ]


def test_preview_needs_a_key(app_server):
    with app_server.client() as c:
        r = c.post("/api/v1/prompt", json={"prompt": "一只猫"})
    assert r.status_code == 401


def test_preview_translates_and_sizes_without_generating(app_server, emulator):
    body = {"prompt": "一只可爱的猫咪坐在窗台上 16:9", "model": "SD-XL-Bash-CF"}
    with app_server.client(headers=AUTH) as c:
        r = c.post("/api/v1/prompt", json=body)
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["prompt"] == body["prompt"]
    assert p["translator"] == "llm" and p["translated"] is True
    assert p["final_prompt"] and not has_cjk(p["final_prompt"]) and "16:9" not in p["final_prompt"]
    assert (p["aspect_hint"], p["width"], p["height"]) == ("16:9", 1344, 768)
    assert p["model"] == "@cf/stabilityai/stable-diffusion-xl-base-1.0"
    assert p["prompt_max"] == 4096 and p["neurons"] > 0
    assert len(llm_calls(emulator)) == 1 and image_calls(emulator) == []


def test_an_edited_preview_is_generated_verbatim(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        preview = c.post("/api/v1/prompt", json={"prompt": "夕阳下的灯塔"}).json()
        edited = preview["final_prompt"] + ", oil painting"
        g = c.post(
            "/api/v1/images", json={"prompt": edited, "translate": "off", "model": "DS-8-CF"}
        ).json()
    assert g["final_prompt"] == edited and g["translator"] == "none"
    assert len(llm_calls(emulator)) == 1  # only the preview asked the LLM


def test_enhance_and_the_prompt_cache_through_the_native_api(app_server, emulator):
    req = {"prompt": "夕阳下的城市", "model": "DS-8-CF", "enhance": True}
    with app_server.client(headers=AUTH) as c:
        first = c.post("/api/v1/images", json=req).json()
        second = c.post("/api/v1/images", json=req).json()
        plain = c.post("/api/v1/images", json={**req, "enhance": False}).json()
    assert first["enhanced"] is True and first["translator"] == "llm"
    assert len(first["final_prompt"]) > len(plain["final_prompt"])
    assert first["prompt_cache_hit"] is False and first["prompt_neurons"] > 0
    assert second["prompt_cache_hit"] is True and second["final_prompt"] == first["final_prompt"]
    assert second["prompt_neurons"] == 0
    assert plain["enhanced"] is False
    assert len(llm_calls(emulator)) == 2  # the enhancement once, the plain translation once


def test_aspect_hint_sizes_the_image_before_validation(app_server):
    with app_server.client(headers=AUTH) as c:
        sdxl = c.post(
            "/api/v1/images", json={"prompt": "a lighthouse 16:9", "model": "SD-XL-Lightning-CF"}
        ).json()
        schnell = c.post("/api/v1/images", json={"prompt": "a lighthouse --ar 16:9"}).json()
        explicit = c.post(
            "/api/v1/images",
            json={"prompt": "a lighthouse 16:9", "model": "DS-8-CF", "width": 512, "height": 768},
        ).json()
    assert sdxl["final_prompt"] == "a lighthouse" and sdxl["aspect_hint"] == "16:9"
    assert (sdxl["images"][0]["width"], sdxl["images"][0]["height"]) == (1344, 768)
    assert (sdxl["params"]["width"], sdxl["params"]["height"]) == (1344, 768)
    assert schnell["final_prompt"] == "a lighthouse"
    assert (schnell["images"][0]["width"], schnell["images"][0]["height"]) == (1024, 1024)
    assert "1024x1024" in schnell["translation_note"]
    assert (explicit["images"][0]["width"], explicit["images"][0]["height"]) == (512, 768)


def test_original_api_reports_the_effective_prompt(app_server):
    with app_server.client(headers=AUTH) as c:
        r = c.post(
            "/api/image",
            json={"messages": [{"role": "user", "content": "一只猫 16:9"}], "model": "DS-8-CF"},
        )
    body = r.json()
    assert r.status_code == 200, r.text
    assert body["prompt"] == "一只猫 16:9"
    assert not has_cjk(body["translatedPrompt"]) and "16:9" not in body["translatedPrompt"]


def test_exhausted_accounts_fall_back_to_the_dictionary(app_server, emulator):
    for account_id in ACCOUNT_IDS:
        emulator.state.set_used(account_id, 10_000)
    with app_server.client(headers=AUTH) as c:
        p = c.post("/api/v1/prompt", json={"prompt": "一只猫，油画风格"}).json()
    assert (p["final_prompt"], p["translator"]) == ("cat, oil painting style", "dictionary")
    assert "used the offline dictionary" in p["note"]


def test_broken_weights_fall_back_to_the_dictionary(app_server, emulator):
    emulator.state.add_fault(FaultSpec(kind="unweighted", model=LLAMA))
    with app_server.client(headers=AUTH) as c:
        p = c.post("/api/v1/prompt", json={"prompt": "(杰作:1.2), 最高画质, 1girl"}).json()
    # the LLM's answer "masterpiece, best quality, 1girl" lost the weight: refused
    assert p["final_prompt"] == "(masterpiece:1.2), best quality, 1girl"
    assert p["translator"] == "dictionary" and "weights or brackets" in p["note"]


def test_dictionary_as_the_configured_translator(start_app, emulator):
    app = start_app(FLUX_REMIX_TRANSLATOR="dictionary")
    with app.client(headers=AUTH) as c:
        p = c.post("/api/v1/prompt", json={"prompt": "一只猫", "enhance": True}).json()
    assert (p["final_prompt"], p["translator"], p["enhanced"]) == ("cat", "dictionary", False)
    assert "needs a chat LLM" in p["note"]
    assert llm_calls(emulator) == []


def test_external_openai_compatible_llm(start_app, emulator):
    account = ACCOUNT_IDS[1]
    app = start_app(
        USE_EXTERNAL_API="true",
        EXTERNAL_API=f"{emulator.base_url}/accounts/{account}/ai/v1",
        EXTERNAL_MODEL=LLAMA,
        EXTERNAL_API_KEY=ACCOUNTS[account],
    )
    with app.client(headers=AUTH) as c:
        p = c.post("/api/v1/prompt", json={"prompt": "一只可爱的猫咪"}).json()
    assert p["translator"] == "llm" and not has_cjk(p["final_prompt"])
    (call,) = llm_calls(emulator)
    assert call.endpoint.endswith("/ai/v1/chat/completions") and call.account_id == account


def test_server_defaults_and_per_request_overrides(start_app, emulator):
    app = start_app(CF_IS_TRANSLATE="false", FLUX_REMIX_ENHANCE="true")
    with app.client(headers=AUTH) as c:
        default = c.post("/api/v1/prompt", json={"prompt": "a cat"}).json()
        off = c.post("/api/v1/prompt", json={"prompt": "一只猫", "enhance": False}).json()
        on = c.post(
            "/api/v1/prompt", json={"prompt": "一只猫", "enhance": False, "translate": "auto"}
        ).json()
    assert default["enhanced"] is True and len(default["final_prompt"]) > len("a cat")
    assert (off["final_prompt"], off["translator"]) == ("一只猫", "none")
    assert on["translator"] == "llm" and not has_cjk(on["final_prompt"])


def test_a_retired_translate_model_warns_and_still_translates(start_app, emulator, caplog):
    with caplog.at_level(logging.WARNING, logger="flux_remix"):
        app = start_app(CF_TRANSLATE_MODEL="@cf/qwen/qwen1.5-14b-chat-awq")
    assert any("retired" in r.getMessage() for r in caplog.records)
    with app.client(headers=AUTH) as c:
        p = c.post("/api/v1/prompt", json={"prompt": "一只猫"}).json()
    assert (p["final_prompt"], p["translator"]) == ("cat", "dictionary")
    assert "model_unavailable" in p["note"]


def test_prompt_settings_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="FLUX_REMIX_TRANSLATOR"):
        load_settings({"FLUX_REMIX_TRANSLATOR": "babelfish"})
    with pytest.raises(ConfigError, match="FLUX_REMIX_ENHANCE"):
        load_settings({"FLUX_REMIX_ENHANCE": "maybe"})
    with pytest.raises(ConfigError, match="FLUX_REMIX_PROMPT_CACHE_SIZE"):
        load_settings({"FLUX_REMIX_PROMPT_CACHE_SIZE": "-1"})
    s = load_settings({"FLUX_REMIX_TRANSLATOR": "Dictionary", "FLUX_REMIX_ENHANCE": "on"})
    assert (s.translator, s.enhance_default, s.llm_timeout) == ("dictionary", True, 30.0)


async def test_redis_prompt_cache_is_shared_by_replicas(start_app, emulator):
    url = require_redis()
    prefix = f"flux-remix-test:{uuid.uuid4().hex[:12]}:"
    try:
        first = start_app(REDIS_URL=url, REDIS_PREFIX=prefix)
        second = start_app(REDIS_URL=url, REDIS_PREFIX=prefix)
        with first.client(headers=AUTH) as c:
            a = c.post("/api/v1/prompt", json={"prompt": "雪山下的湖泊"}).json()
        with second.client(headers=AUTH) as c:
            b = c.post("/api/v1/prompt", json={"prompt": "雪山下的湖泊"}).json()
        assert (a["cache_hit"], b["cache_hit"]) == (False, True)
        assert a["final_prompt"] == b["final_prompt"]
        assert len(llm_calls(emulator)) == 1
    finally:
        client = redis_from_url(url)
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
