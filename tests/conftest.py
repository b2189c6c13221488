"""Shared fixtures: one Workers AI emulator per test session, and real app servers per test."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flux_remix.emulator import EmulatorConfig, EmulatorServer
from flux_remix.settings import Settings, load_settings
from flux_remix.web import create_app
from tests.support import ServerThread

# Three accounts with distinctive ids and tokens, so tests can grep for leaks.
ACCOUNTS = {
    "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1": "tok-ALPHA-0123456789abcdefghijklmnopqrstuv",
    "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2": "tok-BRAVO-0123456789abcdefghijklmnopqrstuv",
    "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3": "tok-CHARLIE-0123456789abcdefghijklmnopqrst",
}
ACCOUNT_IDS = list(ACCOUNTS)
API_KEY = "test-api-key-KILO-9f8e7d6c5b4a"
ADMIN_KEY = "test-admin-key-LIMA-1a2b3c4d5e6f"
SECRETS = [*ACCOUNTS, *ACCOUNTS.values(), API_KEY, ADMIN_KEY]


def account_list(ids: list[str] | None = None, tokens: dict[str, str] | None = None) -> str:
    tokens = tokens or ACCOUNTS
    return json.dumps([{"account_id": i, "token": tokens[i]} for i in (ids or ACCOUNT_IDS)])


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(accounts=dict(ACCOUNTS))) as server:
        yield server


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> Iterator[EmulatorServer]:
    """The session's emulator with clean state (no faults, empty ledger and call log)."""
    emulator_server.state.reset()
    yield emulator_server
    emulator_server.state.reset()


@pytest.fixture
def make_settings(emulator: EmulatorServer, tmp_path: Path) -> Callable[..., Settings]:
    def make(**env: str) -> Settings:
        base = {
            "CF_ACCOUNT_LIST": account_list(),
            "CF_API_BASE": emulator.base_url,
            "FLUX_REMIX_DATA_DIR": str(tmp_path / "data"),
            "API_KEY": API_KEY,
            "ADMIN_API_KEY": ADMIN_KEY,
            "FLUX_REMIX_DEADLINE": "30",
        }
        base.update(env)
        return load_settings(base)

    return make


@pytest.fixture
def start_app(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., ServerThread]]:
    """Start the real app (uvicorn on a free port) with extra env; stopped after the test."""
    servers: list[ServerThread] = []

    def start(**env: str) -> ServerThread:
        server = ServerThread(create_app(make_settings(**env)))
        servers.append(server.__enter__())
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def app_server(start_app: Callable[..., ServerThread]) -> ServerThread:
    return start_app()


AUTH = {"Authorization": f"Bearer {API_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
