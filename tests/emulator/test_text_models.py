"""Text models: classic and OpenAI shapes, thinking on/off, max_tokens, m2m100, /v1 chat."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from flux_remix.emulator.glossary import has_cjk, translate

from .helpers import ACCOUNT, Emu

LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"
LLAMA_70B = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
GLM = "@cf/zai-org/glm-4.7-flash"
GEMMA = "@cf/google/gemma-4-26b-a4b-it"
M2M = "@cf/meta/m2m100-1.2b"
SYSTEM = "You translate image prompts into English. Reply with the prompt only."
PROMPT = "一只可爱的猫在花园里，油画风格, 4k"
EXPECTED = "a cute cat in the garden, oil painting style, 4k"


def translate_messages(text: str = PROMPT) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


@pytest.mark.parametrize("model", [LLAMA, LLAMA_70B])
def test_classic_shape(emu: Emu, model: str) -> None:
    response = emu.run(model, json={"messages": translate_messages()})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["errors"] == [] and body["messages"] == []
    result = body["result"]
    assert set(result) == {"response", "tool_calls", "usage"}
    assert result["response"] == EXPECTED
    usage = result["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert float(response.headers["cf-ai-neurons"]) > 0


def test_prompt_form(emu: Emu) -> None:
    response = emu.run(LLAMA, json={"prompt": f"Translate to English: {PROMPT}"})
    assert response.json()["result"]["response"] == EXPECTED


@pytest.mark.parametrize("model", [QWEN, GLM, GEMMA])
def test_openai_shape_with_thinking(emu: Emu, model: str) -> None:
    result = emu.run(model, json={"messages": translate_messages()}).json()["result"]
    assert result["object"] == "chat.completion" and result["model"] == model
    assert result["id"].startswith("chatcmpl-") and isinstance(result["created"], int)
    [choice] = result["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant"
    assert message["content"].startswith("<think>\n")
    assert message["content"].endswith(f"</think>\n\n{EXPECTED}")
    assert message["reasoning_content"] and "<think>" not in message["reasoning_content"]


@pytest.mark.parametrize("model", [QWEN, GLM, GEMMA])
def test_openai_shape_without_thinking(emu: Emu, model: str) -> None:
    body = {"messages": translate_messages(), "chat_template_kwargs": {"enable_thinking": False}}
    message = emu.run(model, json=body).json()["result"]["choices"][0]["message"]
    assert message["content"] == EXPECTED
    assert message["reasoning_content"] is None


def test_thinking_costs_tokens(emu: Emu) -> None:
    on = emu.run(QWEN, json={"messages": translate_messages()})
    off = emu.run(
        QWEN,
        json={"messages": translate_messages(), "chat_template_kwargs": {"enable_thinking": False}},
    )
    assert float(on.headers["cf-ai-neurons"]) > float(off.headers["cf-ai-neurons"])


def test_max_tokens_cuts_output(emu: Emu) -> None:
    result = emu.run(LLAMA, json={"messages": translate_messages(), "max_tokens": 3}).json()[
        "result"
    ]
    assert result["response"] == EXPECTED[:12]
    assert result["usage"]["completion_tokens"] == 3


def test_max_tokens_can_be_eaten_by_thinking(emu: Emu) -> None:
    body = {"messages": translate_messages(), "max_tokens": 10}
    choice = emu.run(QWEN, json=body).json()["result"]["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"].startswith("<think>")
    assert EXPECTED not in choice["message"]["content"]


def test_llama_default_max_tokens_is_256(emu: Emu) -> None:
    long_prompt = "enhance this prompt: " + "mountain lake " * 200
    response = emu.run(LLAMA, json={"prompt": long_prompt}).json()["result"]
    assert len(response["response"]) == 256 * 4


def test_enhance_gives_a_longer_english_prompt(emu: Emu) -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Enhance the user's image prompt."},
            {"role": "user", "content": "赛博朋克城市夜景"},
        ]
    }
    text = emu.run(LLAMA, json=body).json()["result"]["response"]
    assert text.startswith("cyberpunk city night view, ")
    assert "highly detailed" in text and not has_cjk(text) and "\n" not in text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"prompt": "a", "messages": [{"role": "user", "content": "a"}]},
            "oneOf at '/' not met, 2 matches",
        ),
        (
            {"max_tokens": 5},
            "oneOf at '/' not met, 0 matches: required properties at '/' are 'prompt', "
            "required properties at '/' are 'messages'",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]},
            "oneOf at '/' not met, 0 matches: required properties at '/' are 'prompt', "
            "Type mismatch of '/messages/0/content', 'array' not in 'string'",
        ),
        ({"prompt": "a", "temperature": 6}, "'/temperature' must be <= 5"),
        ({"prompt": "a", "max_tokens": 0}, "'/max_tokens' must be >= 1"),
    ],
    ids=["both", "neither", "content-array", "temperature", "max-tokens"],
)
def test_llm_schema(emu: Emu, body: dict[str, Any], message: str) -> None:
    response = emu.run(LLAMA, json=body)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"message": f"AiError: Bad input: Error: {message}", "code": 5006}
    ]


def test_m2m100(emu: Emu) -> None:
    response = emu.run(M2M, json={"text": "日落时的雪山", "source_lang": "zh", "target_lang": "en"})
    assert response.status_code == 200
    assert response.json() == {
        "result": {"translated_text": "snowy mountains at sunset"},
        "success": True,
        "errors": [],
        "messages": [],
    }
    assert float(response.headers["cf-ai-neurons"]) > 0
    missing = emu.run(M2M, json={"text": "猫"})
    assert "required properties at '/' are 'target_lang'" in missing.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("source", "target"), [("ko", "en"), ("korean", "en"), ("zh", "klingon"), ("", "en")]
)
def test_m2m100_refuses_languages_outside_the_contract(emu: Emu, source, target) -> None:
    """Contract §4.3: english, chinese, french, spanish, arabic, russian, german, japanese,
    portuguese, hindi (codes or names). Korean is not among them: 400 / 5006."""
    body = {"text": "고양이", "source_lang": source, "target_lang": target}
    response = emu.run(M2M, json=body)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["code"] == 5006 and "not a supported language" in error["message"]


def test_m2m100_takes_japanese_by_code_and_name(emu: Emu) -> None:
    for source in ("ja", "japanese"):
        body = {"text": "夕焼けの猫", "source_lang": source, "target_lang": "en"}
        assert emu.run(M2M, json=body).status_code == 200


def test_m2m100_other_targets_leave_text(emu: Emu) -> None:
    response = emu.run(M2M, json={"text": "a cat", "target_lang": "french"})
    assert response.json()["result"]["translated_text"] == "a cat"


def test_openai_compatible_chat_completions(emu: Emu) -> None:
    body = {
        "model": GLM,
        "messages": translate_messages(),
        "chat_template_kwargs": {"enable_thinking": False},
    }
    response = emu.client.post(f"/accounts/{ACCOUNT}/ai/v1/chat/completions", json=body)
    assert response.status_code == 200
    data = response.json()
    assert "result" not in data and data["object"] == "chat.completion"
    assert data["choices"][0]["message"]["content"] == EXPECTED
    llama = emu.client.post(
        f"/accounts/{ACCOUNT}/ai/v1/chat/completions",
        json={"model": LLAMA, "messages": translate_messages()},
    )
    assert llama.json()["choices"][0]["message"]["content"] == EXPECTED
    assert emu.server.state.calls()[-1].endpoint.endswith("/ai/v1/chat/completions")


def test_chat_completions_errors(emu: Emu) -> None:
    url = f"/accounts/{ACCOUNT}/ai/v1/chat/completions"
    no_model = emu.client.post(url, json={"messages": translate_messages()})
    assert no_model.json()["errors"][0]["message"].endswith(
        "required properties at '/' are 'model'"
    )
    image_model = emu.client.post(
        url,
        json={"model": "@cf/black-forest-labs/flux-1-schnell", "messages": translate_messages()},
    )
    assert image_model.status_code == 400 and image_model.json()["errors"][0]["code"] == 5007


@pytest.mark.parametrize(("model", "key"), [(LLAMA, "response"), (QWEN, "choices")])
def test_streaming(emu: Emu, model: str, key: str) -> None:
    body = {
        "messages": translate_messages(),
        "stream": True,
        "chat_template_kwargs": {"enable_thinking": False},
    }
    response = emu.run(model, json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    if key == "response":
        text = "".join(chunk["response"] for chunk in chunks)
    else:
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == EXPECTED
    assert "usage" in chunks[-1]


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("一只可爱的猫", "a cute cat"),
        ("动漫风格的女孩，樱花", "anime style girl, cherry blossoms"),
        ("犇", "an image"),  # nothing the dictionary knows
        ("plain English stays", "plain English stays"),
        ("赛博朋克城市，夜晚。霓虹灯", "cyberpunk city, night, neon lights"),
        ("夕阳下的灯塔", "a lighthouse under the sunset"),
        ("一只可爱的猫咪在窗台上晒太阳", "a cute cat basking in the sun on the window sill"),
        ("穿着红色连衣裙的女孩在花园里跳舞", "a girl wearing red dress dancing in the garden"),
        ("雪山脚下的小木屋", "a log cabin at the foot of the snowy mountains"),
        ("樱花树下", "under the cherry blossoms tree"),
        ("一碗热腾腾的拉面", "a bowl of steaming ramen"),
        ("(杰作:1.2), 一只猫", "(masterpiece:1.2), a cat"),
    ],
)
def test_glossary(text: str, english: str) -> None:
    assert translate(text) == english


def test_output_never_contains_cjk() -> None:
    sample = "龘靐齉一只狗在下雨的城市街道上，电影感，超写实 8k"
    out = translate(sample)
    assert not re.search(r"[\u3000-\u9fff\uff00-\uffef]", out)
    assert "dog" in out and "8k" in out
