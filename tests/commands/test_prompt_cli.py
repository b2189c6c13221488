"""`flux-remix prompt`: in-process (--demo) and against a running server (--server)."""

from __future__ import annotations

import json

from flux_remix.prompts.detect import has_cjk
from tests.commands.test_cli import clean_env, run
from tests.conftest import API_KEY


def test_prompt_demo_json(tmp_path):
    r = run(
        ["prompt", "一只可爱的猫咪，油画风格 16:9", "-m", "SD-XL-Bash-CF", "--demo", "--json"],
        clean_env(tmp_path),
    )
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)
    assert p["translator"] == "llm" and not has_cjk(p["final_prompt"])
    assert (p["aspect_hint"], p["width"], p["height"]) == ("16:9", 1344, 768)


def test_prompt_table_and_bad_mode(tmp_path):
    env = clean_env(tmp_path, FLUX_REMIX_TRANSLATOR="dictionary")
    r = run(["prompt", "一只猫", "--demo"], env)
    assert r.returncode == 0, r.stderr
    assert "final_prompt" in r.stdout and "cat" in r.stdout and "dictionary" in r.stdout
    bad = run(["prompt", "一只猫", "--translate", "sometimes", "--demo"], env)
    assert bad.returncode == 2 and "--translate" in bad.stderr


def test_prompt_against_a_server(app_server, tmp_path):
    env = clean_env(tmp_path)
    r = run(["prompt", "夕阳", "--server", app_server.url, "--key", API_KEY, "--json"], env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["final_prompt"] == "sunset"
    denied = run(["prompt", "夕阳", "--server", app_server.url, "--key", "nope", "--json"], env)
    assert denied.returncode == 4
