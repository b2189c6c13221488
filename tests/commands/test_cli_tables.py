"""CLI tables at 80 columns: ids are never cut (they are what you type next), other columns wrap
or are left out, nothing runs past the edge; `--json` and `--version` everywhere they belong."""

from __future__ import annotations

import json
import re

import pytest

from flux_remix import __version__
from tests.commands.test_cli import clean_env, run


def narrow(tmp_path, **extra: str) -> dict[str, str]:
    return clean_env(tmp_path, COLUMNS="80", **extra)


def lines_fit(text: str, width: int = 80) -> bool:
    return all(len(line) <= width for line in text.splitlines())


def test_keys_list_shows_whole_ids_that_revoke_takes(tmp_path):
    env = narrow(tmp_path)
    for label in ("alice's laptop in the office upstairs", "ci"):
        made = run(["keys", "create", label, "--rate-limit", "30", "--yes"], env)
        assert made.returncode == 0, made.stderr
    table = run(["keys", "list"], env)
    assert table.returncode == 0, table.stderr
    assert lines_fit(table.stdout), table.stdout
    ids = re.findall(r"key_[0-9a-f]+", table.stdout)
    listed = json.loads(run(["keys", "list", "--json"], env).stdout)["keys"]
    assert sorted(ids) == sorted(k["id"] for k in listed)  # every id whole, none cut with …
    revoked = run(["keys", "revoke", ids[0]], env)
    assert revoked.returncode == 0, revoked.stderr


def test_models_shows_every_name_that_dash_m_takes(tmp_path):
    table = run(["models"], narrow(tmp_path))
    assert table.returncode == 0, table.stderr
    assert lines_fit(table.stdout), table.stdout
    described = json.loads(run(["models", "--json"], narrow(tmp_path)).stdout)
    for model in described:
        assert model["short_id"] in table.stdout
        for alias in model["aliases"]:
            assert alias in table.stdout
    assert "…" not in table.stdout


def test_models_show_their_details_when_there_is_room(tmp_path):
    table = run(["models"], clean_env(tmp_path, COLUMNS="160"))
    assert "FLUX.1 [schnell]" in table.stdout and "1024x1024 fixed" in table.stdout
    assert lines_fit(table.stdout, 160)


def test_history_keeps_ids_and_words_whole(tmp_path):
    env = narrow(tmp_path)
    prompt = "a lighthouse standing on rocky cliffs above a stormy ocean at dusk, oil painting"
    out = str(tmp_path / "out")
    made = run(["generate", prompt, "--demo", "-m", "DS-8-CF", "-n", "2", "-o", out], env)
    assert made.returncode == 0, made.stderr
    table = run(["history", "--demo"], env)
    assert table.returncode == 0, table.stderr
    assert lines_fit(table.stdout), table.stdout
    records = json.loads(run(["history", "--demo", "--json"], env).stdout)["images"]
    assert len(records) == 2
    for record in records:
        assert record["id"] in table.stdout
    cells = " ".join(re.findall(r"│([^│]*)│\s*$", table.stdout, re.MULTILINE))
    for word in prompt.replace(",", "").split():
        assert re.search(rf"\b{word}\b", cells), (word, table.stdout)


def test_accounts_fit_with_json_beside(tmp_path):
    env = narrow(tmp_path)
    table = run(["accounts", "--demo"], env)
    assert table.returncode == 0, table.stderr
    assert lines_fit(table.stdout) and "demo-1" in table.stdout
    rows = json.loads(run(["accounts", "--demo", "--json"], env).stdout)["accounts"]
    assert {r["label"] for r in rows} == {"demo-1", "demo-2"}


@pytest.mark.parametrize("args", [["--version"], ["--version", "models"]])
def test_version(tmp_path, args):
    r = run(args, clean_env(tmp_path))
    assert (r.returncode, r.stdout.strip()) == (0, f"flux-remix {__version__}")
