"""The tests' own layout (tests/README.md): one test module per name, every folder in the table."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).parent


def modules() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def test_no_test_module_name_is_used_twice():
    places: defaultdict[str, list[str]] = defaultdict(list)
    for module in modules():
        places[module.name].append(str(module.relative_to(TESTS)))
    repeated = {name: paths for name, paths in places.items() if len(paths) > 1}
    assert not repeated, f"rename one of each to say what it tests: {repeated}"


def test_every_folder_with_tests_is_in_the_readme_table():
    table = set(re.findall(r"^\| `([a-z0-9_/]+)/` \|", (TESTS / "README.md").read_text(), re.M))
    folders = {str(m.parent.relative_to(TESTS)) for m in modules() if m.parent != TESTS}
    assert folders <= table, f"add these to tests/README.md's table: {sorted(folders - table)}"


def test_only_this_module_sits_at_the_root():
    assert [m.name for m in modules() if m.parent == TESTS] == ["test_layout.py"]
