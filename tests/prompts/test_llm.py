"""The LLM clients: Workers AI text models through the pool (emulator over HTTP), and
OpenAI-compatible endpoints (the emulator's /ai/v1 route, and MockTransport for odd answers)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from flux_remix import errors as e
from flux_remix.accounts import AccountPool
from flux_remix.prompts import instructions as ask
from flux_remix.prompts.detect import has_cjk
from flux_remix.prompts.llm import (
    OpenAICompatibleText,
    WorkersAIText,
    estimate_neurons,
    external_error,
    translation_body,
)
from flux_remix.upstream import WorkersAIClient
from tests.conftest import ACCOUNT_IDS, ACCOUNTS, SECRETS

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
M2M = "@cf/meta/m2m100-1.2b"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def pool(make_settings) -> AccountPool:
    return AccountPool(make_settings().accounts)


def text_calls(emulator, model):
    return [c for c in emulator.state.calls() if c.model == model]


@pytest.mark.parametrize("model", [LLAMA, QWEN])
async def test_workers_ai_text_models_answer_in_english_and_are_charged(
    model, emulator, http, pool
):
    llm = WorkersAIText(WorkersAIClient(http, emulator.base_url), pool, model, timeout=10)
    answer = await llm.complete(ask.TRANSLATE_SYSTEM, "夕阳下的猫", max_tokens=256)
    assert answer.text and not has_cjk(answer.text) and "<think>" not in answer.text
    assert answer.neurons is not None and answer.neurons > 0
    (call,) = text_calls(emulator, model)
    assert "max_tokens" in call.fields
    assert ("chat_template_kwargs" in call.fields) is (model == QWEN)  # thinking off
    used = sum(s.public()["neurons_used_today"] for s in await pool.status())
    assert used == pytest.approx(answer.neurons, abs=0.01)


async def test_a_translation_only_model_gets_its_own_body(emulator, http, pool):
    llm = WorkersAIText(WorkersAIClient(http, emulator.base_url), pool, M2M, timeout=10)
    assert llm.can_enhance is False
    answer = await llm.complete(ask.TRANSLATE_SYSTEM, "一只猫", max_tokens=256)
    assert answer.text and not has_cjk(answer.text)
    (call,) = text_calls(emulator, M2M)
    assert set(call.fields) == {"text", "source_lang", "target_lang"}


@pytest.mark.parametrize(
    ("prompt", "source"),
    [("一只猫", "zh"), ("夕焼けの猫", "ja"), ("ねこ", "ja"), ("a cat", "en")],
)
def test_m2m100_source_language_follows_the_script(prompt, source):
    assert translation_body(prompt) == {"text": prompt, "source_lang": source, "target_lang": "en"}


async def test_m2m100_refuses_korean_before_any_call_and_the_pipeline_says_so(emulator, http, pool):
    from flux_remix.prompts import PromptPipeline
    from flux_remix.prompts.cache import MemoryPromptCache
    from flux_remix.prompts.dictionary import DictionaryTranslator

    llm = WorkersAIText(WorkersAIClient(http, emulator.base_url), pool, M2M, timeout=10)
    with pytest.raises(e.UpstreamBadInputError, match=r"\(ko\)"):
        await llm.complete(ask.TRANSLATE_SYSTEM, "고양이", max_tokens=64)
    pipeline = PromptPipeline(llm, DictionaryTranslator(), MemoryPromptCache(16))
    outcome = await pipeline.prepare("고양이", mode="always")
    assert outcome.translator != "llm"
    assert "m2m100 does not translate" in (outcome.note or "")
    assert text_calls(emulator, M2M) == []


async def test_a_japanese_prompt_reaches_m2m100_as_japanese(emulator, http, pool):
    llm = WorkersAIText(WorkersAIClient(http, emulator.base_url), pool, M2M, timeout=10)
    answer = await llm.complete(ask.TRANSLATE_SYSTEM, "夕焼けの猫", max_tokens=64)
    assert answer.text
    (call,) = text_calls(emulator, M2M)
    assert call.status == 200


async def test_workers_ai_errors_come_back_typed(emulator, http, pool):
    from flux_remix.emulator import FaultSpec

    emulator.state.add_fault(FaultSpec(kind="server_error", model=LLAMA))
    llm = WorkersAIText(WorkersAIClient(http, emulator.base_url), pool, LLAMA, timeout=10)
    with pytest.raises(e.UpstreamError):
        await llm.complete(ask.TRANSLATE_SYSTEM, "一只猫", max_tokens=256)


def external(emulator, http, key: str | None, model: str = LLAMA) -> OpenAICompatibleText:
    base = f"{emulator.base_url}/accounts/{ACCOUNT_IDS[0]}/ai/v1"
    return OpenAICompatibleText(http, base, model, SecretStr(key) if key else None, timeout=10)


async def test_openai_compatible_endpoint(emulator, http):
    llm = external(emulator, http, ACCOUNTS[ACCOUNT_IDS[0]], QWEN)
    answer = await llm.complete(ask.TRANSLATE_SYSTEM, "一只可爱的猫咪", max_tokens=256)
    assert answer.text and not has_cjk(answer.text) and "<think>" not in answer.text
    (call,) = [c for c in emulator.state.calls() if "/ai/v1/chat/completions" in c.endpoint]
    assert {"model", "messages", "max_tokens", "chat_template_kwargs"} <= set(call.fields)


async def test_openai_compatible_refusal_names_the_setting_not_the_key(emulator, http):
    llm = external(emulator, http, "wrong-key-ZULU-123")
    with pytest.raises(e.UpstreamError) as info:
        await llm.complete(ask.TRANSLATE_SYSTEM, "一只猫", max_tokens=256)
    assert info.value.status == 401 and "EXTERNAL_API_KEY" in info.value.message
    assert not any(s in info.value.message for s in [*SECRETS, "wrong-key-ZULU-123"])


def mock_llm(handler) -> OpenAICompatibleText:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OpenAICompatibleText(http, "http://llm.test/v1", "some-model", None, timeout=5)


async def test_reasoning_is_stripped_from_openai_answers():
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        message = {
            "role": "assistant",
            "content": "<think>The user wants a cat.</think>\n\na cat",
            "reasoning_content": "The user wants a cat.",
        }
        return httpx.Response(200, json={"choices": [{"index": 0, "message": message}]})

    answer = await mock_llm(handler).complete("sys", "一只猫", max_tokens=300)
    assert answer.text == "a cat"
    assert seen[0]["max_tokens"] == 300 and seen[0]["model"] == "some-model"
    assert "chat_template_kwargs" not in seen[0]  # unknown models get no vendor fields
    assert str(seen[0]["messages"][1]["content"]) == "一只猫"


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(500, json={"error": {"message": "down"}}), e.UpstreamServerError),
        (httpx.Response(429, json={"error": "slow down"}), e.RateLimitedError),
        (httpx.Response(400, json={"error": {"message": "bad"}}), e.UpstreamBadInputError),
        (httpx.Response(200, text="<html>"), e.MalformedResponseError),
        (httpx.Response(200, json={"choices": []}), e.MalformedResponseError),
    ],
)
async def test_openai_answers_that_are_not_completions(response, error):
    with pytest.raises(error):
        await mock_llm(lambda request: response).complete("sys", "猫", max_tokens=64)


async def test_unreachable_external_llm():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(e.UpstreamConnectionError):
        await mock_llm(handler).complete("sys", "猫", max_tokens=64)


def test_neuron_estimate_is_cautious():
    assert estimate_neurons(LLAMA, 100, 256) == pytest.approx(
        (100 * 4119 + 256 * 34868) / 1e6, abs=0.01
    )
    assert estimate_neurons("@cf/unknown/model", 100, 256) == estimate_neurons(LLAMA, 100, 256)


async def test_external_errors_never_quote_the_key():
    key = "sk-SECRET-KEY-0123456789"

    def handler(request: httpx.Request) -> httpx.Response:
        status = 401 if request.headers["authorization"].endswith("0123456789") else 500
        return httpx.Response(status, json={"error": {"message": f"Incorrect API key {key}"}})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    llm = OpenAICompatibleText(http, "http://llm.test/v1", "m", SecretStr(key), timeout=5)
    with pytest.raises(e.UpstreamError) as info:
        await llm.complete("sys", "猫", max_tokens=64)
    assert info.value.status == 401 and "SECRET" not in info.value.message
    response = httpx.Response(500, json={"error": {"message": f"echo {key}"}})
    assert "SECRET" not in external_error(response, SecretStr(key)).message
