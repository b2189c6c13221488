"""The CLI as scripts use it: exit codes for every error class, `--json`, `--server`, history."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from flux_remix import errors as e
from flux_remix.commands.exits import (
    RemoteError,
    ServerUnreachableError,
    code_for_class,
    error_classes,
    exit_code,
)
from flux_remix.emulator import FaultSpec
from tests.conftest import ACCOUNT_IDS, API_KEY, AUTH
from tests.processes import CLI, base_env
from tests.support import free_port

EXPECTED = {
    e.ConfigError: 2,
    e.InvalidParameterError: 3,
    e.UnknownModelError: 3,
    e.NotFoundError: 3,
    e.ContentFlaggedError: 3,
    e.UpstreamBadInputError: 3,
    e.UpstreamModelGoneError: 3,
    e.PaidPlanRequiredError: 3,
    e.AuthenticationError: 4,
    e.PermissionDeniedError: 4,
    e.QuotaExhaustedError: 5,
    e.CapacityError: 5,
    e.RateLimitedError: 5,
    e.NoCapacityError: 5,
    e.UpstreamServerError: 6,
    e.UpstreamTimeoutError: 6,
    e.UpstreamConnectionError: 6,
    e.MalformedResponseError: 6,
    e.AccountAuthError: 6,
    e.StorageError: 7,
    e.OverloadedError: 5,
    e.AuthThrottledError: 5,
    ServerUnreachableError: 8,
}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=90, check=False
    )


def test_every_error_class_has_its_own_exit_code():
    for cls in error_classes():
        if cls is e.FluxRemixError:
            continue
        assert code_for_class(cls) != 1, f"{cls.__name__} has no exit code"
    for cls, code in EXPECTED.items():
        assert code_for_class(cls) == code, cls.__name__


def test_errors_a_server_sends_back_exit_like_local_ones():
    for cls in error_classes():
        remote = RemoteError(cls.kind, "from the server", status=500)
        assert exit_code(remote) == code_for_class(cls), cls.kind
    assert exit_code(RemoteError("something_new", "?", status=429)) == 5
    assert exit_code(RemoteError("internal_error", "?", status=500)) == 1


@pytest.mark.parametrize(
    ("fault", "code", "etype", "hint"),
    [
        ("flagged", 3, "content_flagged", None),
        ("quota", 5, "no_capacity", "Try again later"),
        ("server_error", 6, "upstream_server_error", "Cloudflare failed"),
    ],
)
def test_in_process_failures_exit_with_their_code_and_json(
    tmp_path, emulator, fault, code, etype, hint
):
    emulator.state.add_fault(FaultSpec(kind=fault, model="@cf/lykon/dreamshaper-8-lcm"))
    env = base_env(tmp_path, emulator.base_url)
    r = run(["generate", "a cat", "-m", "DS-8-CF", "--json", "-o", str(tmp_path)], env)
    assert r.returncode == code, r.stderr
    error = json.loads(r.stdout)["error"]
    assert error["type"] == etype and error["exit_code"] == code and error["message"]
    assert error["message"] in r.stderr.replace("\n", " ") or error["message"][:40] in r.stderr
    if hint:
        assert hint in r.stderr
    assert "Traceback" not in r.stderr
    assert not list(Path(tmp_path).glob("*.png"))


def test_generate_on_a_server_writes_the_servers_images(app_server, tmp_path):
    out = tmp_path / "out"
    env = base_env(tmp_path, "http://unused.invalid")
    args = ["generate", "一只猫", "-m", "DS-8-CF", "-n", "2", "--seed", "11", "-o", str(out)]
    r = run([*args, "--server", app_server.url, "--key", API_KEY, "--json"], env)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["server"] == app_server.url
    assert result["translator"] == "llm" and result["final_prompt"] == "a cat"
    assert [f["seed"] for f in result["files"]] == [11, 12]
    with app_server.client(headers=AUTH) as c:
        for f in result["files"]:
            path = Path(f["path"])
            assert path.name == f"{f['id']}.png"
            assert c.get(f"/images/{path.name}").content == path.read_bytes()

    human = run([*args, "--server", app_server.url], {**env, "FLUX_REMIX_KEY": API_KEY})
    assert human.returncode == 0, human.stderr
    assert "final prompt" in human.stdout and "seed 11" in human.stdout
    assert "hit" in human.stdout  # same seed, same prompt: answered from storage


def test_server_mode_errors_map_to_exit_codes(app_server, tmp_path):
    env = base_env(tmp_path, "http://unused.invalid")
    wrong = run(["generate", "x", "--server", app_server.url, "--key", "nope", "--json"], env)
    assert wrong.returncode == 4
    assert json.loads(wrong.stdout)["error"]["type"] == "authentication_error"
    assert "--key" in wrong.stderr

    bad = run(["generate", "x", "--steps", "99", "--server", app_server.url, "--key", API_KEY], env)
    assert bad.returncode == 3 and "steps" in bad.stderr

    nobody = f"http://127.0.0.1:{free_port()}"
    gone = run(["generate", "x", "--server", nobody, "--json"], env)
    assert gone.returncode == 8
    assert json.loads(gone.stdout)["error"]["type"] == "server_unreachable"
    assert "flux-remix serve" in gone.stderr


def test_history_searches_and_exports_in_process_and_on_a_server(app_server, tmp_path):
    with app_server.client(headers=AUTH) as c:
        for prompt in ("a red fox", "a blue whale", "a red panda"):
            r = c.post("/api/v1/images", json={"prompt": prompt, "model": "DS-8-CF"})
            assert r.status_code == 200, r.text
    # in-process: the same data directory the server writes to (base_env and the app agree)
    env = base_env(tmp_path, "http://unused.invalid")
    local = run(["history", "red", "--json"], env)
    assert local.returncode == 0, local.stderr
    found = [i["prompt"] for i in json.loads(local.stdout)["images"]]
    assert found == ["a red panda", "a red fox"]  # newest first

    remote_file = tmp_path / "remote.jsonl"
    remote = run(
        ["history", "--server", app_server.url, "--key", API_KEY, "--export", str(remote_file)],
        env,
    )
    assert remote.returncode == 0, remote.stderr
    assert "exported 3" in remote.stderr
    rows = [json.loads(line) for line in remote_file.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["a red panda", "a blue whale", "a red fox"]
    assert all(r["url"].startswith(app_server.url + "/images/") for r in rows)

    exported = run(["history", "--export", "-"], env).stdout
    local_rows = [json.loads(line) for line in exported.splitlines()]
    assert [r["id"] for r in local_rows] == [r["id"] for r in rows]
    assert set(local_rows[0]) == set(rows[0])  # the same record shape both ways

    table = run(["history", "whale", "-l", "5"], {**env, "COLUMNS": "160"})
    assert "a blue whale" in table.stdout and "red" not in table.stdout


def test_models_lists_the_servers_catalog(app_server, tmp_path, emulator):
    env = base_env(tmp_path, "http://unused.invalid")
    r = run(["models", "--json", "--server", app_server.url, "--key", API_KEY], env)
    assert r.returncode == 0, r.stderr
    served = httpx.get(f"{app_server.url}/api/v1/models", headers=AUTH).json()["models"]
    assert [m["id"] for m in json.loads(r.stdout)] == [m["id"] for m in served]
    assert ACCOUNT_IDS[0] not in r.stdout
