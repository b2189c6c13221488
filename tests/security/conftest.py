"""Fixtures for the hardening tests: a fuzzing target that lives for a whole module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flux_remix.emulator import EmulatorServer
from flux_remix.settings import load_settings
from flux_remix.web import create_app
from tests.conftest import ADMIN_KEY, API_KEY, account_list
from tests.processes import ServeProcess
from tests.processes import base_env as base_serve_env
from tests.support import ServerThread


def base_env(emulator: EmulatorServer, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "CF_ACCOUNT_LIST": account_list(),
        "CF_API_BASE": emulator.base_url,
        "FLUX_REMIX_DATA_DIR": str(data_dir),
        "API_KEY": API_KEY,
        "ADMIN_API_KEY": ADMIN_KEY,
        "FLUX_REMIX_DEADLINE": "30",
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def module_server(
    emulator_server: EmulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """One real app for a whole module (fuzzing sends hundreds of requests to it)."""
    emulator_server.state.reset()
    data = tmp_path_factory.mktemp("fuzz") / "data"
    settings = load_settings(base_env(emulator_server, data, FLUX_REMIX_TRANSLATOR="dictionary"))
    with ServerThread(create_app(settings)) as server:
        yield server
    emulator_server.state.reset()


@pytest.fixture
def start_serve(tmp_path: Path, emulator: EmulatorServer) -> Iterator[Callable[..., ServeProcess]]:
    """Start `flux-remix serve` as a real process with extra environment; stopped after the
    test. Each call gets its own data directory and log."""
    started: list[ServeProcess] = []

    def start(**extra: str) -> ServeProcess:
        where = tmp_path / f"serve-{len(started)}"
        server = ServeProcess(base_serve_env(where, emulator.base_url, **extra), where / "log")
        where.mkdir(parents=True, exist_ok=True)
        started.append(server.__enter__())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def serve(start_serve: Callable[..., ServeProcess]) -> ServeProcess:
    """One `flux-remix serve` with the test keys and accounts, offline translation."""
    return start_serve(FLUX_REMIX_TRANSLATOR="dictionary")
