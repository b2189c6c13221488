"""Successful answers for validated input: images, chat completions, translations.

Each sets ``Reply.neurons`` from the model's price formula; the runner bills it.
"""

from __future__ import annotations

import secrets
from typing import Literal

import anyio

from flux_remix import b64
from flux_remix.emulator import envelopes as env
from flux_remix.emulator import llm
from flux_remix.emulator.glossary import has_cjk, load, translate
from flux_remix.emulator.images import RenderRequest
from flux_remix.emulator.models import ModelSpec
from flux_remix.emulator.pricing import Usage, count_tokens
from flux_remix.emulator.source_images import SourceImage, reference_images, sd_mask, sd_source
from flux_remix.emulator.state import EmulatorState
from flux_remix.emulator.validate import BadInput

ENGLISH = ("en", "eng", "english")
M2M100_LANGUAGES = {
    "en": "english",
    "zh": "chinese",
    "fr": "french",
    "es": "spanish",
    "ar": "arabic",
    "ru": "russian",
    "de": "german",
    "ja": "japanese",
    "pt": "portuguese",
    "hi": "hindi",
}
"""m2m100's languages (contract §4.3), by code and by name; anything else is refused."""

Route = Literal["run", "chat"]
"""Which API route a call came through: ``/ai/run/{model}`` or ``/ai/v1/chat/completions``."""


async def produce(
    state: EmulatorState, spec: ModelSpec, values: dict[str, object], route: Route
) -> env.Reply:
    """The successful answer for validated input, with ``neurons`` set (not yet billed).

    Input images are decoded here, so a broken one still raises ``BadInput``.
    """
    if spec.is_image:
        return await _image(state, spec, values)
    await load()  # the dictionary the text models translate with, off the event loop, once
    if spec.is_chat:
        return _chat(state, spec, values, route)
    return _translation(spec, values)


def _sources(
    spec: ModelSpec, values: dict[str, object]
) -> tuple[tuple[SourceImage, ...], tuple[SourceImage, ...]]:
    """(images shown and priced, all decoded inputs)."""
    if spec.image_inputs == "references":
        refs = tuple(reference_images(values))
        return refs, refs
    if spec.image_inputs in ("sd-image", "sd-inpaint"):
        source, mask = sd_source(values), sd_mask(values)
        shown = (source,) if source else ()
        return shown, shown + ((mask,) if mask else ())
    return (), ()


def _int_value(values: dict[str, object], names: tuple[str, ...], default: int) -> int:
    for name in names:
        value = values.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
    return default


async def _image(state: EmulatorState, spec: ModelSpec, values: dict[str, object]) -> env.Reply:
    shown, inputs = _sources(spec, values)
    width, height = spec.default_size
    if not spec.fixed_size:
        width = _int_value(values, ("width",), width) or width
        height = _int_value(values, ("height",), height) or height
    steps = _int_value(values, spec.step_fields, spec.default_steps)
    seed_value = values.get("seed")
    seed = int(seed_value) if isinstance(seed_value, int | float) else secrets.randbelow(2**32)
    request = RenderRequest.build(
        spec.short_name,
        str(values.get("prompt", "")),
        seed,
        width,
        height,
        spec.image_format,
        tuple(inputs),
        seeded=isinstance(seed_value, int | float),
    )
    data = await state.renderer.render_async(request)
    if state.config.latency > 0:
        await anyio.sleep(state.config.latency)
    usage = Usage(width, height, steps, tuple(s.size for s in shown))
    neurons = round(spec.price(usage), 2)
    if spec.output == "json-b64":
        return env.image_success(b64.encode_ascii(data)).billed(neurons)
    return env.Reply(200, data, media_type=spec.content_type, neurons=neurons)


def _chat(
    state: EmulatorState, spec: ModelSpec, values: dict[str, object], route: Route
) -> env.Reply:
    messages = llm.conversation(values)
    max_tokens = _int_value(values, ("max_tokens",), spec.default_max_tokens)
    thinking = spec.reasoning and llm.thinking_enabled(values)
    completion = llm.complete(messages, max_tokens=max_tokens, thinking=thinking)
    usage = Usage(tokens_in=completion.prompt_tokens, tokens_out=completion.completion_tokens)
    neurons = round(spec.price(usage), 2)
    created = int(state.config.clock().timestamp())
    shape = "llm-openai" if route == "chat" else spec.output
    if values.get("stream") is True:
        body = llm.sse_body(completion, shape=shape, model=spec.id, created=created)
        return env.Reply(200, body, media_type="text/event-stream", neurons=neurons)
    if shape == "llm-classic":
        return env.success(llm.classic_result(completion)).billed(neurons)
    result = llm.openai_result(completion, spec.id, created)
    if route == "chat":  # the OpenAI-compatible route answers without an envelope
        return env.json_reply(200, result).billed(neurons)
    return env.success(result).billed(neurons)


def _language(values: dict[str, object], name: str) -> str:
    value = str(values.get(name, "")).strip().lower()
    if value not in M2M100_LANGUAGES and value not in M2M100_LANGUAGES.values():
        listed = ", ".join(M2M100_LANGUAGES)
        raise BadInput(f"'/{name}' is not a supported language ({value!r}); supported: {listed}")
    return value


def _translation(spec: ModelSpec, values: dict[str, object]) -> env.Reply:
    text = str(values["text"])
    _language(values, "source_lang")
    target = _language(values, "target_lang")
    out = translate(text) if target in ENGLISH and has_cjk(text) else text
    usage = Usage(tokens_in=count_tokens(text), tokens_out=count_tokens(out))
    return env.success({"translated_text": out}).billed(round(spec.price(usage), 2))
