"""The upstream every path calls: the Workers AI emulator with a fixed delay, in its own process.

Two things differ from the emulator the tests use, both to make it a fixed-cost upstream like
the fake one the LiteLLM figures were taken with:

- Drawing a 1024² JPEG costs ~60 ms of CPU, and FLUX.1 schnell takes no seed, so every call
  would draw a new picture. Here the seed a call draws with is folded onto a few `VARIANTS`,
  drawn once at start-up and then answered from the emulator's own image cache: the bytes are
  real ~170 KB JPEGs, the drawing is out of the measurement.
- An OpenAI-shaped `POST /v1/images/generations` answers the same image after the same delay,
  so LiteLLM (which has no Cloudflare image provider) reaches the same upstream through its
  OpenAI-compatible provider.

    .venv/bin/python -m bench.gateway.upstream --port 8787 --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import secrets
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flux_remix import b64
from flux_remix.emulator import EmulatorConfig, create_emulator_app
from flux_remix.emulator.images import ImageRenderer, RenderRequest
from flux_remix.emulator.state import EmulatorState

VARIANTS = 4
MODEL = "flux-1-schnell"  # the emulator's short name: what its drawings are keyed by
SIZE = 1024
DAILY_NEURONS = 1e15  # no quota in the way of 100,000 requests


class FoldedRenderer(ImageRenderer):
    """Draws at most `VARIANTS` pictures per prompt and size; later calls hit the cache."""

    def render(self, request: RenderRequest) -> bytes:
        return super().render(fold(request))

    async def render_async(self, request: RenderRequest) -> bytes:
        return await super().render_async(fold(request))


def fold(request: RenderRequest) -> RenderRequest:
    return dataclasses.replace(request, seed=request.seed % VARIANTS)


def config(latency: float) -> EmulatorConfig:
    return EmulatorConfig.demo(
        latency=latency, daily_neurons=DAILY_NEURONS, image_cache_size=VARIANTS * 8
    )


def build(latency: float, prompts: list[str]) -> Starlette:
    app = create_emulator_app(config(latency))
    state: EmulatorState = app.state.emulator
    renderer = FoldedRenderer(cache_size=VARIANTS * 8)
    state.renderer = renderer
    for prompt in prompts:  # draw now, not during the first measured second
        for seed in range(VARIANTS):
            draw = RenderRequest.build(MODEL, prompt, seed, SIZE, SIZE, "JPEG", seeded=False)
            renderer.render(draw)

    async def openai_images(request: Request) -> Response:
        body = json.loads(await request.body())
        prompt = str(body.get("prompt", ""))
        seed = secrets.randbelow(2**32)
        draw = RenderRequest.build(MODEL, prompt, seed, SIZE, SIZE, "JPEG", seeded=False)
        data = await renderer.render_async(draw)
        await asyncio.sleep(latency)
        head = b'{"created":%d,"data":[{"b64_json":"' % int(time.time())
        # built like the emulator's envelope: base64 text needs no JSON escaping
        body = head + b64.encode_ascii(data) + b'"}]}'
        return Response(body, media_type="application/json")

    app.router.routes.insert(0, Route("/v1/images/generations", openai_images, methods=["POST"]))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per image call")
    parser.add_argument("--prompt", action="append", default=[], help="prompts to draw ahead")
    args = parser.parse_args()
    app = build(args.latency, args.prompt)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
