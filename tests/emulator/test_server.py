"""Server lifecycle, config and the public API surface."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import httpx
import pytest

import flux_remix.emulator as emulator
from flux_remix.emulator import EmulatorConfig, EmulatorServer, create_emulator_app
from flux_remix.emulator.config import demo_account_id
from flux_remix.emulator.server import describe

from .helpers import ACCOUNT, TOKEN, Emu, start_emulator


def test_public_api() -> None:
    assert sorted(emulator.__all__) == [
        "EmulatorConfig",
        "EmulatorServer",
        "EmulatorState",
        "FaultSpec",
        "create_emulator_app",
        "run",
    ]


def test_demo_config() -> None:
    config = EmulatorConfig.demo()
    assert config.accounts == {
        demo_account_id(1): "demo-token-1",
        demo_account_id(2): "demo-token-2",
    }
    assert all(len(a) == 32 and int(a, 16) >= 0 for a in config.accounts)
    assert "demo-token" not in repr(config)
    assert EmulatorConfig.demo(quota_code=3036).quota_code == 3036
    with pytest.raises(ValueError):
        EmulatorConfig(quota_code=429)


def test_urls_and_lifecycle() -> None:
    with EmulatorServer(EmulatorConfig.demo()) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/client/v4"
        assert server.root_url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{server.root_url}/__emulator__/health").status_code == 200
        port = server.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/__emulator__/health")


def test_describe_lists_accounts_and_tokens() -> None:
    text = describe(EmulatorConfig.demo(), "http://127.0.0.1:8787/client/v4")
    assert demo_account_id(1) in text and "demo-token-2" in text
    assert "http://127.0.0.1:8787/__emulator__/" in text


def test_latency_is_added_to_image_calls() -> None:
    server, _ = start_emulator(latency=0.25)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        url = f"{server.base_url}/accounts/{ACCOUNT}/ai/run/@cf/black-forest-labs/flux-1-schnell"
        started = time.perf_counter()
        assert httpx.post(url, json={"prompt": "a"}, headers=headers).status_code == 200
        assert time.perf_counter() - started >= 0.25
    finally:
        server.stop()


async def test_concurrent_calls_are_served_in_parallel(emu: Emu) -> None:
    emu.server.state.add_fault(kind="slow", delay=0.4)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"/accounts/{ACCOUNT}/ai/run/@cf/meta/llama-3.1-8b-instruct-fast"
    async with httpx.AsyncClient(base_url=emu.server.base_url, headers=headers) as client:
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(client.post(url, json={"prompt": "hi"}) for _ in range(5))
        )
        elapsed = time.perf_counter() - started
    assert [r.status_code for r in responses] == [200] * 5
    assert elapsed < 1.5


async def test_app_works_in_process_over_asgi_transport() -> None:
    app = create_emulator_app(EmulatorConfig.demo())
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://emu/client/v4") as client:
        response = await client.post(
            f"/accounts/{ACCOUNT}/ai/run/@cf/lykon/dreamshaper-8-lcm",
            json={"prompt": "a", "width": 256, "height": 256},
            headers=headers,
        )
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
    assert app.state.emulator.calls()[0].status == 200


def test_run_serves_in_the_foreground_and_prints_accounts() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = f"from flux_remix.emulator import run; run('127.0.0.1', {port})"
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/__emulator__/health").status_code == 200:
                    break
            except httpx.ConnectError:
                time.sleep(0.05)
        else:
            pytest.fail("emulator did not start")
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/client/v4" in output
    assert demo_account_id(1) in output and "demo-token-1" in output
