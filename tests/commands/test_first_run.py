"""A new user's first hour, as real processes: the demo keeps to itself, and keys and openness
are never a surprise (start-up log, `keys create` on an open server, revoking the last key)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.commands.test_cli import EXE, clean_env, run, serving

DS8 = ["-m", "DS-8-CF"]


def xdg_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment whose default data directory is under `tmp_path` (no
    FLUX_REMIX_DATA_DIR), as on a new machine."""
    env = clean_env(tmp_path, XDG_DATA_HOME=str(tmp_path / "xdg"), **extra)
    del env["FLUX_REMIX_DATA_DIR"]
    return env


def history(env: dict[str, str], *flags: str) -> list[dict]:
    r = run(["history", "--json", *flags], env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["images"]


def test_the_demo_keeps_its_own_data_directory(tmp_path):
    env = xdg_env(tmp_path)
    made = run(["generate", "一只猫", "--demo", *DS8, "-o", str(tmp_path / "out"), "--json"], env)
    assert made.returncode == 0, made.stderr
    image_id = json.loads(made.stdout)["files"][0]["id"]
    real = tmp_path / "xdg" / "flux-remix"
    assert (real / "demo" / "flux-remix.sqlite3").exists()
    assert not (real / "flux-remix.sqlite3").exists()
    assert [r["id"] for r in history(env, "--demo")] == [image_id]
    assert history(env) == []  # real use does not see the demo's image
    made_key = keys(env, "create", "trying the demo", "--demo", "--yes")
    assert made_key.returncode == 0, made_key.stderr
    demo_keys = json.loads(keys(env, "list", "--demo", "--json").stdout)["keys"]
    assert [k["label"] for k in demo_keys] == ["trying the demo"]
    assert json.loads(keys(env, "list", "--json").stdout)["keys"] == []  # nor its keys


def test_an_explicit_data_directory_is_used_by_the_demo_too(tmp_path):
    env = clean_env(tmp_path)  # FLUX_REMIX_DATA_DIR set: the demo uses it as given
    made = run(["generate", "一只猫", "--demo", *DS8, "-o", str(tmp_path / "out"), "--json"], env)
    assert made.returncode == 0, made.stderr
    assert len(history(env)) == 1


def keys(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EXE, "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,  # not a terminal: warns, does not ask
        check=False,
    )


def test_keys_and_openness_are_never_a_surprise(tmp_path):
    env = clean_env(tmp_path)
    log = tmp_path / "serve.log"
    with serving(env, log) as url:
        assert httpx.get(f"{url}/api/v1/images", timeout=5).status_code == 200
        page = httpx.get(url + "/", timeout=5).text
        assert "open-banner" in page and "anyone who can reach this server" in page
    assert "auth is off" in log.read_text() and "open to anyone" in log.read_text()

    first = keys(env, "create", "alice")
    assert first.returncode == 0, first.stderr
    assert "open now" in first.stderr and "turns authentication on" in first.stderr
    assert first.stderr.index("turns authentication on") < first.stderr.index("created key_")
    second = keys(env, "create", "bob")
    assert second.returncode == 0 and "turns authentication on" not in second.stderr
    key = first.stdout.strip()

    with serving(env, log) as url:
        assert httpx.get(f"{url}/api/v1/images", timeout=5).status_code == 401
        ok = httpx.get(f"{url}/api/v1/images", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
        assert "open-banner" not in httpx.get(url + "/", timeout=5).text
    assert "auth is on: 2 active stored key(s)" in log.read_text()

    ids = [k["id"] for k in json.loads(keys(env, "list", "--json").stdout)["keys"]]
    assert "last active stored key" not in keys(env, "revoke", ids[0]).stderr
    last = keys(env, "revoke", ids[1])
    assert last.returncode == 0 and "last active stored key" in last.stderr

    with serving(env, log) as url:  # after a restart: still locked, and the log says why
        assert httpx.get(f"{url}/api/v1/images", timeout=5).status_code == 401
        refused = httpx.get(f"{url}/api/v1/images", headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 401
    text = log.read_text()
    assert "auth is on: 0 active stored key(s), 2 revoked; no key works" in text


def test_the_readme_python_example_runs_in_the_installed_venv(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    (example,) = [
        block
        for block in readme.split("```python\n")[1:]
        if "import httpx" in block.split("```")[0]
    ]
    code = example.split("```")[0]
    with serving(clean_env(tmp_path), tmp_path / "serve.log") as url:
        script = tmp_path / "example.py"
        script.write_text(code.replace("http://127.0.0.1:8000", url), encoding="utf-8")
        r = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=120
        )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("一只可爱的猫咪 a cute cat")
