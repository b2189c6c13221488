"""`AiohttpTransport`: httpx's API over aiohttp, against real servers on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from flux_remix import errors as e
from flux_remix.catalog import build_catalog
from flux_remix.emulator import FaultSpec
from flux_remix.schemas import ImageRequest
from flux_remix.settings import Account
from flux_remix.upstream import WorkersAIClient
from flux_remix.upstream.transport import AiohttpTransport
from flux_remix.validation import validate_request
from tests.conftest import ACCOUNTS
from tests.support import free_port

ACCOUNT = Account(
    label="cf-1",
    account_id=SecretStr(next(iter(ACCOUNTS))),
    token=SecretStr(next(iter(ACCOUNTS.values()))),
)


async def echo(request: web.Request) -> web.Response:
    """Answers what it received, gzip-compressed, with a header of its own."""
    seen = {
        "method": request.method,
        "path": request.raw_path,
        "header": request.headers.get("x-probe"),
        "body": (await request.read()).decode(),
    }
    body = gzip.compress(json.dumps(seen).encode())
    headers = {"Content-Encoding": "gzip", "X-Answer": "yes"}
    return web.Response(body=body, status=201, headers=headers, content_type="application/json")


@pytest.fixture
async def echo_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_requests_and_answers_pass_through_unchanged(echo_url):
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        response = await http.post(
            f"{echo_url}/accounts/x/ai/run/@cf/black-forest-labs/flux-1-schnell?a=1",
            json={"prompt": "a fox"},
            headers={"X-Probe": "42"},
        )
    assert response.status_code == 201
    assert response.headers["x-answer"] == "yes"
    seen = response.json()  # decoded once, by httpx, from the gzip body
    assert seen == {
        "method": "POST",
        "path": "/accounts/x/ai/run/@cf/black-forest-labs/flux-1-schnell?a=1",
        "header": "42",
        "body": '{"prompt":"a fox"}',
    }


async def test_a_direct_post_is_answered_like_one_through_httpx(echo_url):
    transport = AiohttpTransport()
    try:
        response = await transport.post(
            f"{echo_url}/accounts/x/ai/run/@cf/black-forest-labs/flux-1-schnell",
            {"X-Probe": "7", "Content-Type": "application/json"},
            b'{"prompt":"a fox"}',
            5.0,
        )
    finally:
        await transport.aclose()
    assert response.status_code == 201
    assert response.headers["x-answer"] == "yes"
    assert response.json() == {  # the gzip body decoded, as httpx does
        "method": "POST",
        "path": "/accounts/x/ai/run/@cf/black-forest-labs/flux-1-schnell",
        "header": "7",
        "body": '{"prompt":"a fox"}',
    }


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "through-httpx"])
async def test_an_image_call_through_the_workers_ai_client(emulator, direct):
    spec = build_catalog({}, 4).resolve("FLUX.1-Schnell-CF")
    params = validate_request(spec, ImageRequest(prompt="a red fox"))
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        client = WorkersAIClient(
            http, emulator.base_url, timeout=10, direct=transport if direct else None
        )
        image = await client.run_image(ACCOUNT, params, "a red fox")
    assert image.format == "jpeg"
    assert (image.width, image.height) == (1024, 1024)
    assert image.b64 is not None and image.data.startswith(b"\xff\xd8\xff")
    (call,) = emulator.state.calls()
    assert call.model == "@cf/black-forest-labs/flux-1-schnell"
    assert call.content_kind == "json" and set(call.fields) == {"prompt", "steps"}


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "through-httpx"])
async def test_a_slow_upstream_is_a_timeout(emulator, direct):
    emulator.state.add_fault(FaultSpec(kind="slow", delay=2.0))
    spec = build_catalog({}, 4).resolve("FLUX.1-Schnell-CF")
    params = validate_request(spec, ImageRequest(prompt="a red fox"))
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        client = WorkersAIClient(
            http, emulator.base_url, timeout=0.3, direct=transport if direct else None
        )
        with pytest.raises(e.UpstreamTimeoutError):
            await client.run_image(ACCOUNT, params, "a red fox")


async def test_nothing_listening_is_a_connection_error_for_the_client():
    spec = build_catalog({}, 4).resolve("FLUX.1-Schnell-CF")
    params = validate_request(spec, ImageRequest(prompt="a red fox"))
    transport = AiohttpTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        client = WorkersAIClient(http, f"http://127.0.0.1:{free_port()}", direct=transport)
        with pytest.raises(e.UpstreamConnectionError):
            await client.run_image(ACCOUNT, params, "a red fox")


async def test_nothing_listening_is_a_connection_error():
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{free_port()}/", timeout=5)
