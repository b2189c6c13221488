"""OpenAI `POST /v1/chat/completions`: an image as a chat answer (NextChat, LobeChat, ChatBox,
Cherry Studio, Open WebUI as a model).

The last user message is the prompt and the model name picks the image model. The answer is an
assistant message holding a markdown image and one line of effective parameters. With
`stream: true` it is Server-Sent Events in OpenAI's `chat.completion.chunk` shape: progress
lines while the image is made, SSE comments as keep-alives every `FLUX_REMIX_SSE_KEEPALIVE`
seconds, then the image, then `data: [DONE]`. Errors found before generation starts get their
HTTP status; a failure after the stream began arrives as an `{"error": ...}` event, which the
openai SDK raises as an `APIError`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import Field

from flux_remix.catalog import ModelSpec
from flux_remix.errors import FluxRemixError
from flux_remix.ids import new_id
from flux_remix.schemas import GeneratedImage, Generation
from flux_remix.web.deps import CallerDep, RuntimeDep, authenticate
from flux_remix.web.errors import Problem, openai_error, problem_of
from flux_remix.web.generation_events import Failed, Finished, GenerationRun, Stage
from flux_remix.web.openai_params import OpenAIImageFields, effective, image_request
from flux_remix.web.routes.original import ChatMessage, last_user_text
from flux_remix.web.urls import image_url

log = logging.getLogger("flux_remix.web")

router = APIRouter(
    prefix="/v1", tags=["OpenAI-compatible API"], dependencies=[Depends(authenticate)]
)

NO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}  # no tokens are used


class ChatBody(OpenAIImageFields):
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatBody, request: Request, runtime: RuntimeDep, caller: CallerDep
) -> JSONResponse | StreamingResponse:
    """Generate an image from the last user message; answer it as a chat message."""
    service = runtime.service
    prompt = last_user_text(body.messages)
    req, notes = image_request(service, prompt, body)
    spec = service.resolve_model(body.model)
    model = body.model or spec.id

    def link(image: GeneratedImage) -> str:
        return image_url(request, image)

    if not body.stream:
        g = await service.generate(req, key_id=caller.key_id, unused_seed="ignore")
        return JSONResponse(
            {
                "id": f"chatcmpl-{g.id}",
                "object": "chat.completion",
                "created": int(g.created),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer(g, link)},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": NO_USAGE,
                "flux_remix": effective(g, notes),
            }
        )

    run = GenerationRun(service, req, key_id=caller.key_id, unused_seed="ignore")
    first = await run.next()
    if isinstance(first, Failed):  # refused before any work: a plain HTTP error
        raise first.error
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    chunks = ChunkWriter(f"chatcmpl-{new_id()}", int(time.time()), model)
    keepalive = runtime.settings.sse_keepalive
    events = _stream(run, first, chunks, spec, link, notes, include_usage, keepalive)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class ChunkWriter:
    """`chat.completion.chunk` events of one answer, as SSE `data:` lines."""

    def __init__(self, completion_id: str, created: int, model: str) -> None:
        self.base = {"id": completion_id, "object": "chat.completion.chunk", "created": created}
        self.model = model

    def event(self, payload: dict[str, Any]) -> str:
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    def delta(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self.event({**self.base, "model": self.model, "choices": [choice], **extra})

    def usage(self) -> str:
        return self.event({**self.base, "model": self.model, "choices": [], "usage": NO_USAGE})


async def _stream(
    run: GenerationRun,
    first: Stage | Finished | None,
    chunks: ChunkWriter,
    spec: ModelSpec,
    link: Callable[[GeneratedImage], str],
    notes: list[str],
    include_usage: bool,
    keepalive: float,
) -> AsyncIterator[str]:
    event: Stage | Finished | Failed | None = first
    try:
        yield chunks.delta({"role": "assistant", "content": ""})
        while True:
            if event is None:
                yield ": keep-alive\n\n"
            elif isinstance(event, Stage):
                text = progress_text(event, spec)
                if text:
                    yield chunks.delta({"content": text})
            elif isinstance(event, Finished):
                g = event.generation
                yield chunks.delta({"content": answer(g, link)})
                yield chunks.delta({}, "stop", flux_remix=effective(g, notes))
                if include_usage:
                    yield chunks.usage()
                break
            else:
                status, body = _error_body(event.error)
                message = body["error"]["message"]
                yield chunks.delta({"content": f"\n\n**Error ({status}):** {message}\n"})
                yield chunks.event(body)
                break
            event = await run.next(keepalive)
        yield "data: [DONE]\n\n"
    finally:
        run.detach()


def _error_body(error: Exception) -> tuple[int, dict[str, Any]]:
    if isinstance(error, FluxRemixError):
        return openai_error(problem_of(error, "openai"))
    log.error("unhandled error in a chat stream: %s", type(error).__name__, exc_info=error)
    return openai_error(Problem(500, "internal_error", "Internal error"))


def progress_text(stage: Stage, spec: ModelSpec) -> str | None:
    """One short progress line per stage (shown in the chat while the image is made)."""
    if stage.name == "queued":
        return f"_Queued for {_md(spec.name)}…_\n\n"
    if stage.name == "translating":
        return "_Preparing the prompt…_\n\n"
    if stage.name == "generating":
        prompt = _md(_short(str(stage.info.get("prompt", "")), 200))
        return f"_Generating: {prompt}…_\n\n"
    return None


def answer(g: Generation, link: Callable[[GeneratedImage], str]) -> str:
    """The assistant message: the image(s) as markdown, then the effective parameters."""
    alt = _short(re.sub(r"[\[\]\n\r]+", " ", g.prompt.original), 100)
    images = "\n\n".join(f"![{alt}]({link(i)})" for i in g.images)
    return f"{images}\n\n{params_line(g)}"


def params_line(g: Generation) -> str:
    """`FLUX.1 [schnell] · 1024×1024 · seed 42 · 4 steps · …` with what was really sent."""
    first = g.images[0]
    p = g.params
    parts = [_md(g.model_name), f"{first.width}×{first.height}"]
    if first.seed is None:
        parts.append("no seed (the model takes none; each image is new)")
    else:
        parts.append("seed " + ", ".join(str(i.seed) for i in g.images))
    if p.get("steps") is not None:
        parts.append(f"{p['steps']} steps")
    if p.get("guidance") is not None:
        parts.append(f"guidance {p['guidance']}")
    if p.get("negative_prompt"):
        parts.append(f"negative: {_md(_short(str(p['negative_prompt']), 80))}")
    if g.prompt.translated or g.prompt.enhanced:
        how = g.prompt.translator + (", enhanced" if g.prompt.enhanced else "")
        parts.append(f"prompt ({how}): {_md(_short(str(p['prompt']), 200))}")
    if g.cache != "miss":
        parts.append(f"cache {g.cache}")
    parts.append(f"{g.neurons:g} neurons")
    parts.append(f"{g.timings.total_ms / 1000:.1f} s")
    if g.demo:
        parts.append("demo image (emulator)")
    return " · ".join(parts)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _md(text: str) -> str:
    """Text safe to put inside a markdown line (no emphasis, links or HTML from the prompt)."""
    return re.sub(r"([\\`*_\[\]<>#|!])", r"\\\1", text)
