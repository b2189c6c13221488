"""A deterministic stand-in for the text models: translate, enhance, or echo.

The task is read from the whole conversation: "enhance/describe/expand/…" asks for a longer
English prompt; "translate"/"English" (or 翻译/英文) for a plain translation. The answer is
built from the last user message through :mod:`glossary` (fluent English on the offline
dictionary's words: 夕阳下的灯塔 → "a lighthouse under the sunset"), so it never contains CJK.

Reasoning models wrap a short trace in ``<think>…</think>`` at the start of the content and
also return it as ``reasoning_content``, unless ``chat_template_kwargs.enable_thinking`` is
false. ``max_tokens`` cuts the whole completion, trace included (about 4 characters a token).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flux_remix.emulator.glossary import has_cjk, translate
from flux_remix.emulator.pricing import count_tokens

ENHANCE_WORDS = (
    "enhance",
    "describe",
    "expand",
    "improve",
    "enrich",
    "elaborate",
    "优化",
    "扩写",
    "润色",
    "描述",
)
TRANSLATE_WORDS = ("translat", "english", "翻译", "英文", "英语")
QUALITY = (
    "highly detailed, intricate textures, dramatic cinematic lighting, rich vivid colors, "
    "sharp focus, professional composition, 8k resolution, masterpiece"
)
_INSTRUCTION = re.compile(r"^(?P<head>[^:：\n]{0,200})[:：\n]\s*(?P<rest>.+)$", re.DOTALL)


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Completion:
    """One generated answer and its token counts."""

    content: str
    reasoning: str | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def conversation(values: Mapping[str, object]) -> list[Message]:
    """The validated body's ``prompt`` or ``messages`` as a list of messages."""
    prompt = values.get("prompt")
    if isinstance(prompt, str):
        return [Message("user", prompt)]
    raw = values.get("messages")
    messages: list[Message] = []
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict):
                messages.append(Message(str(item.get("role", "")), str(item.get("content", ""))))
    return messages


def thinking_enabled(values: Mapping[str, object]) -> bool:
    kwargs = values.get("chat_template_kwargs")
    return not (isinstance(kwargs, dict) and kwargs.get("enable_thinking") is False)


def _payload(text: str) -> str:
    """Drop a leading instruction such as "Translate to English:" from a user message."""
    match = _INSTRUCTION.match(text.strip())
    if match:
        head = match.group("head").lower()
        if any(word in head for word in (*TRANSLATE_WORDS, *ENHANCE_WORDS, "prompt")):
            return match.group("rest").strip()
    return text.strip()


def task_of(messages: Sequence[Message]) -> str:
    """``enhance``, ``translate`` or ``echo``, read from system and user text."""
    text = " ".join(m.content for m in messages if m.role in ("system", "user")).lower()
    if any(word in text for word in ENHANCE_WORDS):
        return "enhance"
    if any(word in text for word in TRANSLATE_WORDS):
        return "translate"
    return "echo"


def answer(messages: Sequence[Message]) -> tuple[str, str]:
    """The task and the final answer text for a conversation."""
    users = [m.content for m in messages if m.role == "user"]
    source = _payload(users[-1]) if users else ""
    english = translate(source) if has_cjk(source) else " ".join(source.split())
    task = task_of(messages)
    if task == "enhance":
        return task, f"{english or 'an image'}, {QUALITY}"
    return task, english or "an image"


def _trace(task: str, source_has_cjk: bool, reply: str) -> str:
    steps = ["The user wants an image prompt."]
    if source_has_cjk:
        steps.append("The input is Chinese, so I translate it to English first.")
    if task == "enhance":
        steps.append("I should add visual detail and quality words.")
    steps.append(f"Answer with one line: {reply[:60]}")
    return " ".join(steps)


def complete(messages: Sequence[Message], *, max_tokens: int, thinking: bool) -> Completion:
    """Generate the (deterministic) completion, cut to ``max_tokens``."""
    task, reply = answer(messages)
    users = [m.content for m in messages if m.role == "user"]
    reasoning = _trace(task, bool(users) and has_cjk(users[-1]), reply) if thinking else None
    full = f"<think>\n{reasoning}\n</think>\n\n{reply}" if reasoning is not None else reply
    limit = max_tokens * 4
    content = full[:limit]
    if reasoning is not None and len(content) < len(reasoning) + 9:
        reasoning = content.removeprefix("<think>\n")
    prompt_text = "".join(m.content for m in messages)
    return Completion(
        content=content,
        reasoning=reasoning,
        finish_reason="length" if len(full) > limit else "stop",
        prompt_tokens=count_tokens(prompt_text),
        completion_tokens=count_tokens(content),
    )


def classic_result(completion: Completion) -> dict[str, object]:
    """The classic ``{"response", "tool_calls", "usage"}`` result of llama models."""
    return {"response": completion.content, "tool_calls": [], "usage": completion.usage}


def openai_result(completion: Completion, model: str, created: int) -> dict[str, object]:
    """An OpenAI ``chat.completion`` object (inside ``result`` on /ai/run, bare on /v1)."""
    message = {
        "role": "assistant",
        "content": completion.content,
        "reasoning_content": completion.reasoning,
    }
    return {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": completion.finish_reason}],
        "usage": completion.usage,
    }


def _pieces(text: str, size: int = 16) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _event(payload: object) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


def sse_body(completion: Completion, *, shape: str, model: str, created: int) -> bytes:
    """A complete ``text/event-stream`` body for ``"stream": true`` requests."""
    events: list[str] = []
    if shape == "llm-classic":
        events += [_event({"response": piece, "p": "emu"}) for piece in _pieces(completion.content)]
        events.append(_event({"response": "", "usage": completion.usage}))
    else:
        base = {
            "id": f"chatcmpl-{secrets.token_hex(12)}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        for piece in _pieces(completion.content):
            delta = {"role": "assistant", "content": piece}
            events.append(
                _event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            )
        final = {"index": 0, "delta": {}, "finish_reason": completion.finish_reason}
        events.append(_event({**base, "choices": [final], "usage": completion.usage}))
    events.append("data: [DONE]\n\n")
    return "".join(events).encode()
