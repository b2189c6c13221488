"""The request paths compared, each checked once (status and a real image) before it is loaded."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx
from bench.gateway import load
from bench.gateway.servers import ACCOUNTS, KEY, LITELLM_KEY, PROMPT, Server

SCHNELL = "@cf/black-forest-labs/flux-1-schnell"


@dataclass(frozen=True)
class Target:
    name: str
    request: load.Request
    image: str  # where the answer carries the image: "b64_json", "url", "image" or "result"


def _body(**fields: Any) -> str:
    return json.dumps(fields)


def direct_workers_ai(upstream: Server) -> Target:
    account, token = next(iter(ACCOUNTS.items()))
    url = f"{upstream.url}/client/v4/accounts/{account}/ai/run/{SCHNELL}"
    return Target(
        "direct: Workers AI API", load.Request(url, _body(prompt=PROMPT, steps=4), token), "result"
    )


def direct_openai(upstream: Server) -> Target:
    url = f"{upstream.url}/v1/images/generations"
    body = _body(model="flux-bench", prompt=PROMPT, response_format="b64_json")
    return Target("direct: OpenAI shape", load.Request(url, body, "unused"), "b64_json")


def openai_images(
    app: Server, response_format: str, seed: int | None = None, model: str = "FLUX.1-Schnell-CF"
) -> Target:
    fields: dict[str, Any] = {"model": model, "prompt": PROMPT}
    fields["response_format"] = response_format
    if seed is not None:  # for a model that takes one (schnell takes none: never cached)
        fields.update(seed=seed, size="1024x1024")
    name = f"flux-remix /v1/images/generations {response_format}"
    url = f"{app.url}/v1/images/generations"
    return Target(name, load.Request(url, _body(**fields), KEY), response_format)


def original_image(app: Server) -> Target:
    body = _body(messages=[{"role": "user", "content": PROMPT}], model="FLUX.1-Schnell-CF")
    return Target("flux-remix /api/image", load.Request(f"{app.url}/api/image", body, KEY), "image")


def litellm(proxy: Server) -> Target:
    body = _body(model="flux-bench", prompt=PROMPT, response_format="b64_json")
    url = f"{proxy.url}/v1/images/generations"
    return Target(
        "LiteLLM proxy /v1/images/generations", load.Request(url, body, LITELLM_KEY), "b64_json"
    )


def check(path: Target) -> dict[str, Any]:
    """One request; raise unless it answered 200 with a JPEG (inline or at its URL)."""
    request = path.request
    headers = {"authorization": f"Bearer {request.key}", "content-type": "application/json"}
    response = httpx.request(
        request.method, request.url, content=request.body, headers=headers, timeout=60
    )
    if response.status_code != 200:
        raise RuntimeError(f"{path.name}: HTTP {response.status_code}: {response.text[:300]}")
    answer: dict[str, Any] = response.json()
    if path.image == "result":
        data = base64.b64decode(answer["result"]["image"])
    elif path.image == "image":
        data = base64.b64decode(answer["image"])
    elif path.image == "url":
        data = httpx.get(answer["data"][0]["url"], timeout=30).content
    else:
        data = base64.b64decode(answer["data"][0]["b64_json"])
    if not data.startswith(b"\xff\xd8\xff") or len(data) < 50_000:
        raise RuntimeError(f"{path.name}: the answer holds no full JPEG ({len(data)} bytes)")
    return answer
