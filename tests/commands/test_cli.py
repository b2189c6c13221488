"""The `flux-remix` command as a user runs it: real processes, real ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support import free_port

EXE = [sys.executable, "-m", "flux_remix.cli"]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    env["FLUX_REMIX_DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return env


def run(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EXE, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[str]:
    """`flux-remix serve --demo` as a user starts it; its log lines go to `log`."""
    port = free_port()
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [*EXE, "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "serve --demo did not start"
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def test_serve_refuses_without_accounts(tmp_path):
    r = run(["serve", "--port", str(free_port())], clean_env(tmp_path))
    assert r.returncode == 2
    assert "CF_ACCOUNT_LIST" in r.stderr and "--demo" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"CF_ACCOUNT_LIST": "[{oops"}, "CF_ACCOUNT_LIST: not valid JSON"),
        ({"CF_ACCOUNT_LIST": '[{"account_id": "abc", "token": ""}]'}, "entry 1 has an empty token"),
        (
            {
                "CF_ACCOUNT_LIST": '[{"account_id": "abc", "token": "t"}]',
                "CUSTOMER_MODEL_MAP": '{"mine": "@cf/nobody/x"}',
            },
            "CUSTOMER_MODEL_MAP: alias 'mine'",
        ),
        (
            {"CF_ACCOUNT_LIST": '[{"account_id": "abc", "token": "t"}]', "DEFAULT_MODEL": "nope"},
            "DEFAULT_MODEL",
        ),
    ],
)
def test_bad_config_stops_start_up_with_one_message(tmp_path, env, needle):
    r = run(["serve", "--port", str(free_port())], clean_env(tmp_path, **env))
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr


def test_serve_demo_answers_the_readme_curl(tmp_path):
    with serving(clean_env(tmp_path), tmp_path / "serve.log") as url:
        r = httpx.post(
            f"{url}/api/image",
            headers={"Authorization": "Bearer your_api_key_here"},
            json={"messages": [{"role": "user", "content": "一只可爱的猫咪"}], "model": "DS-8-CF"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert r.headers["x-flux-remix-demo"] == "true"
        assert r.json()["demo"] is True
        assert r.json()["translator"] == "llm"
        page = httpx.get(url + "/", timeout=5).text
        assert "Demo mode" in page


def test_generate_demo_writes_files_and_json(tmp_path):
    out = tmp_path / "out"
    r = run(
        [
            "generate",
            "一只猫",
            "--demo",
            "-m",
            "DS-8-CF",
            "-n",
            "2",
            "--seed",
            "7",
            "-o",
            str(out),
            "--json",
        ],
        clean_env(tmp_path),
    )
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert [f["seed"] for f in result["files"]] == [7, 8]
    for f in result["files"]:
        data = Path(f["path"]).read_bytes()
        assert data.startswith(b"\x89PNG")
        assert Path(f["path"]).name == f"{f['id']}.png"  # named by image id, as at /images/
    assert not list(out.glob("*.part"))


def test_generate_reports_invalid_parameters_with_exit_code(tmp_path):
    r = run(["generate", "a cat", "--demo", "--steps", "30"], clean_env(tmp_path))
    assert r.returncode == 3
    assert "steps must be between 1 and 8" in r.stderr


def test_models_lists_every_model(tmp_path):
    r = run(["models", "--json"], clean_env(tmp_path))
    assert r.returncode == 0
    assert len(json.loads(r.stdout)) == 11
    r = run(["models"], clean_env(tmp_path, COLUMNS="200"))
    assert "FLUX.1 [schnell]" in r.stdout
