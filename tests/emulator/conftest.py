"""Fixtures: one emulator server per test session, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .helpers import START, TOKEN, Emu, start_emulator


@pytest.fixture(scope="session")
def _session_emu() -> Iterator[Emu]:
    server, clock = start_emulator()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        yield Emu(server, client, clock)
    server.stop()


@pytest.fixture
def emu(_session_emu: Emu) -> Emu:
    """The session emulator, reset and with its clock back at START."""
    _session_emu.server.state.reset()
    _session_emu.clock.now = START
    return _session_emu
