"""`MemoryState`'s write-behind to SQLite: off the event loop, coalesced, nothing lost.

Changes land in memory at once; a writer thread puts them in the file soon after, and
`close()` writes the rest. These tests read the file with a connection of their own and poll
it with a deadline where they wait for the writer.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from flux_remix.accounts import DayUsage, Failure, Health, MemoryState
from flux_remix.accounts import memory as memory_module
from tests.accounts.conftest import TODAY

DEADLINE = 10.0  # seconds; the writer needs about FLUSH_INTERVAL


def on_disk(path: Path) -> dict[tuple[str, str], tuple[float, int, int]]:
    """The ledger as the file holds it now: (day, key) -> (neurons, successes, failures)."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT day, key, neurons, successes, failures FROM account_usage")
        return {(day, key): (n, s, f) for day, key, n, s, f in rows}
    finally:
        db.close()


def health_on_disk(path: Path) -> dict[str, tuple[str | None, int]]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT key, disabled, streak FROM account_health")
        return {key: (disabled, streak) for key, disabled, streak in rows}
    finally:
        db.close()


async def eventually(check: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    """Poll `check` until it holds or `timeout` passes (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "account-state-writer"]


class SpyConnection:
    """Stands in for the state's SQLite connection: notes the threads that use it, and fails
    every write while `broken`."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real
        self.broken = False
        self.threads: set[int] = set()
        self.writes = 0

    def _use(self) -> None:
        self.threads.add(threading.get_ident())

    def __enter__(self) -> Any:
        self._use()
        return self.real.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        self._use()
        return self.real.__exit__(*exc)

    def execute(self, *args: Any) -> Any:
        self._use()
        return self.real.execute(*args)

    def executemany(self, *args: Any) -> Any:
        self._use()
        self.writes += 1
        if self.broken:
            raise sqlite3.OperationalError("database or disk is full")
        return self.real.executemany(*args)

    def close(self) -> None:
        self._use()
        self.real.close()


def spy_on(state: MemoryState) -> SpyConnection:
    with state._lock:
        assert state._db is not None
        spy = SpyConnection(state._db)
        state._db = spy  # type: ignore[assignment]
    return spy


async def test_a_restart_after_close_keeps_health_and_usage(tmp_path: Path):
    path = tmp_path / "accounts.sqlite3"
    state = MemoryState(path)
    for _ in range(5):
        await state.record_success("k1", TODAY, 2.5)
    await state.record_failure("k1", TODAY, Failure("busy"))
    await state.set_disabled("k2", "token refused")
    await state.close()  # at once: the writer has had no time of its own
    assert on_disk(path)[(TODAY, "k1")] == (12.5, 5, 1)
    reopened = MemoryState(path)
    try:
        got = await reopened.read(["k1", "k2"], TODAY)
    finally:
        await reopened.close()
    assert got["k1"] == (Health(reason="busy", streak=1), DayUsage(12.5, 5, 1))
    assert got["k2"][0].disabled == "token refused"


async def test_changes_reach_the_file_soon_without_close(tmp_path: Path):
    path = tmp_path / "accounts.sqlite3"
    state = MemoryState(path)
    try:
        await state.record_success("k1", TODAY, 172.8)
        await state.set_disabled("k2", "bad token")
        assert await eventually(lambda: on_disk(path).get((TODAY, "k1")) == (172.8, 1, 0))
        assert await eventually(lambda: health_on_disk(path).get("k2") == ("bad token", 0))
        await state.record_success("k1", TODAY, 27.2)  # a later change is written too
        assert await eventually(lambda: on_disk(path).get((TODAY, "k1")) == (200.0, 2, 0))
    finally:
        await state.close()


async def test_flush_writes_at_once(tmp_path: Path):
    path = tmp_path / "accounts.sqlite3"
    state = MemoryState(path)
    try:
        await state.record_failure("k1", TODAY, Failure("busy"))
        await asyncio.to_thread(state.flush)
        assert on_disk(path)[(TODAY, "k1")] == (0.0, 0, 1)
        assert health_on_disk(path)["k1"] == (None, 1)
    finally:
        await state.close()


async def test_concurrent_charges_from_tasks_and_threads_persist_the_exact_total(tmp_path: Path):
    path = tmp_path / "accounts.sqlite3"
    state = MemoryState(path)
    keys = ["k0", "k1", "k2", "k3"]

    def charge_in_a_thread(i: int) -> None:
        asyncio.run(state.record_success(keys[i % 4], TODAY, 1.25))

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            threaded = [pool.submit(charge_in_a_thread, i) for i in range(200)]
            await asyncio.gather(
                *(state.record_success(keys[i % 4], TODAY, 0.5) for i in range(200))
            )
            await asyncio.gather(*(asyncio.wrap_future(f) for f in threaded))
        want = {(TODAY, k): (50 * 1.25 + 50 * 0.5, 100, 0) for k in keys}
        assert {(TODAY, k): u for k, (_, u) in (await state.read(keys, TODAY)).items()} == {
            dk: DayUsage(*v) for dk, v in want.items()
        }
        # the writer alone gets there, without flush() or close()
        assert await eventually(lambda: on_disk(path) == want)
    finally:
        await state.close()
    assert on_disk(path) == want


def test_the_file_never_goes_back_to_an_older_state(tmp_path: Path):
    """flush() from other threads races the writer; each write is newer than the last."""
    path = tmp_path / "accounts.sqlite3"
    state = MemoryState(path)
    stop = threading.Event()
    seen: list[int] = []

    def charge() -> None:
        for _ in range(300):
            asyncio.run(state.record_success("k1", TODAY, 1.0))

    def flush_often() -> None:
        while not stop.is_set():
            state.flush()

    def watch() -> None:
        while not stop.is_set():
            seen.append(on_disk(path).get((TODAY, "k1"), (0.0, 0, 0))[1])

    helpers = [threading.Thread(target=f) for f in (flush_often, flush_often, watch)]
    for t in helpers:
        t.start()
    try:
        charge()
    finally:
        stop.set()
        for t in helpers:
            t.join()
        asyncio.run(state.close())
    assert seen == sorted(seen)
    assert on_disk(path)[(TODAY, "k1")] == (300.0, 300, 0)


async def test_a_failed_write_keeps_memory_logs_once_and_is_written_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(memory_module, "RETRY_INTERVAL", 0.02)
    path = tmp_path / "accounts.sqlite3"
    state = MemoryState(path)
    spy = spy_on(state)
    spy.broken = True
    caplog.set_level(logging.INFO, logger="flux_remix.accounts")
    try:
        await state.record_success("k1", TODAY, 10.0)
        assert await eventually(lambda: spy.writes >= 3)  # the writer keeps trying
        await state.record_success("k1", TODAY, 5.0)
        assert (await state.read(["k1"], TODAY))["k1"][1] == DayUsage(15.0, 2, 0)
        with pytest.raises(sqlite3.OperationalError):
            await asyncio.to_thread(state.flush)
        assert on_disk(path) == {}
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "could not save account state" in warnings[0].getMessage()
        assert "disk is full" in warnings[0].getMessage()

        spy.broken = False  # the fault goes away: the writer catches up by itself
        assert await eventually(lambda: on_disk(path).get((TODAY, "k1")) == (15.0, 2, 0))
        assert any("saved to" in r.getMessage() for r in caplog.records)
    finally:
        await state.close()
    assert on_disk(path)[(TODAY, "k1")] == (15.0, 2, 0)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


async def test_close_still_closes_when_the_last_write_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    path = tmp_path / "accounts.sqlite3"
    state = MemoryState(path)
    spy = spy_on(state)
    spy.broken = True
    await state.record_success("k1", TODAY, 1.0)
    with caplog.at_level(logging.WARNING, logger="flux_remix.accounts"):
        await state.close()
    assert writer_threads() == []
    assert any("on close" in r.getMessage() for r in caplog.records)
    with pytest.raises(sqlite3.ProgrammingError):  # the connection was closed
        spy.real.execute("SELECT 1")
    await state.close()  # a second close is harmless


async def test_without_a_path_no_thread_starts():
    before = writer_threads()
    state = MemoryState()
    await state.record_success("k1", TODAY, 1.0)
    state.flush()
    assert writer_threads() == before
    assert state._writer is None
    await state.close()


async def test_close_stops_the_writer(tmp_path: Path):
    state = MemoryState(tmp_path / "accounts.sqlite3")
    writer = state._writer
    assert writer is not None and writer.is_alive() and writer.daemon
    await state.record_success("k1", TODAY, 1.0)
    await state.close()
    assert not writer.is_alive()
    await state.record_success("k1", TODAY, 1.0)  # memory only, after close
    assert (await state.read(["k1"], TODAY))["k1"][1] == DayUsage(2.0, 2, 0)


async def test_the_event_loop_does_no_sqlite_io(tmp_path: Path):
    path = tmp_path / "accounts.sqlite3"
    state = MemoryState(path)
    spy = spy_on(state)
    loop_thread = threading.get_ident()
    try:
        for i in range(50):
            await state.record_success(f"k{i % 3}", TODAY, 1.0)
            await state.record_failure("k1", TODAY, Failure("busy"))
            await state.set_disabled("k2", "bad token" if i % 2 else None)
            await state.read(["k0", "k1", "k2"], TODAY)
            await asyncio.sleep(0)
        assert await eventually(lambda: spy.writes > 0)
    finally:
        await state.close()
    assert spy.threads and loop_thread not in spy.threads
    assert on_disk(path)[(TODAY, "k1")] == (17.0, 17, 50)
