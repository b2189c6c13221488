"""A real LiteLLM proxy routes OpenAI image and chat requests to flux-remix.

LiteLLM lives in its own virtual environment (`scripts/litellm-venv` makes `.venv-litellm`; CI
runs it). Without it the test is skipped with that reason, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.api_helpers import decode_image, image_calls
from tests.conftest import API_KEY
from tests.support import ServerThread, free_port

ROOT = Path(__file__).resolve().parents[2]
LITELLM = ROOT / ".venv-litellm" / "bin" / "litellm"
MASTER_KEY = "sk-litellm-test-master"
START_TIMEOUT = 120

CONFIG = """\
model_list:
  - model_name: flux-schnell
    litellm_params:
      model: openai/FLUX.1-Schnell-CF
      api_base: {base}/v1
      api_key: os.environ/FLUX_REMIX_KEY
      drop_params: true
    model_info:
      mode: image_generation
  - model_name: sdxl-lightning
    litellm_params:
      model: openai/SD-XL-Lightning-CF
      api_base: {base}/v1
      api_key: os.environ/FLUX_REMIX_KEY
general_settings:
  master_key: {master}
"""


def _need_litellm() -> None:
    if LITELLM.exists():
        return
    reason = f"{LITELLM} is missing; create it with scripts/litellm-venv"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


class LiteLLMProxy:
    def __init__(self, workdir: Path, flux_remix: ServerThread) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "litellm.yaml"
        config.write_text(CONFIG.format(base=flux_remix.url, master=MASTER_KEY))
        env = {
            **os.environ,
            "FLUX_REMIX_KEY": API_KEY,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download at start-up
            "LITELLM_TELEMETRY": "False",
        }
        self.log = workdir / "litellm.log"
        command = [str(LITELLM), "--config", str(config)]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"LiteLLM exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health/liveliness", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"LiteLLM did not start in {START_TIMEOUT} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def litellm(app_server: ServerThread, tmp_path: Path) -> Iterator[openai.OpenAI]:
    _need_litellm()
    proxy = LiteLLMProxy(tmp_path, app_server)
    try:
        proxy.wait_ready()
        with openai.OpenAI(
            base_url=f"{proxy.url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=60
        ) as client:
            yield client
    finally:
        proxy.stop()


def test_image_and_chat_requests_through_a_real_litellm_proxy(litellm, emulator):
    result = litellm.images.generate(
        model="flux-schnell",
        prompt="a red fox in snow",
        size="512x512",  # Open WebUI's default, reaching schnell through the gateway
        response_format="b64_json",
        extra_body={"seed": 42, "steps": 6},
    )
    (item,) = result.data
    assert decode_image(item.b64_json).size == (1024, 1024)
    assert item.revised_prompt == "a red fox in snow"
    (call,) = image_calls(emulator)
    assert call.model == "@cf/black-forest-labs/flux-1-schnell"
    assert sorted(call.fields) == ["prompt", "steps"]

    # flux-remix's 400 naming the field reaches the gateway's caller
    with pytest.raises(openai.BadRequestError) as caught:
        litellm.images.generate(model="flux-schnell", prompt="a fox", extra_body={"steps": 12})
    assert "between 1 and 8" in caught.value.message
    assert len(image_calls(emulator)) == 1

    stream = litellm.chat.completions.create(
        model="sdxl-lightning",
        messages=[{"role": "user", "content": "a lighthouse"}],
        stream=True,
    )
    content = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "Generating: a lighthouse" in content
    assert "![a lighthouse](http://127.0.0.1:" in content
    assert len(image_calls(emulator)) == 2
