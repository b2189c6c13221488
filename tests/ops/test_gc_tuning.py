"""The server process tunes CPython's garbage collector once start-up is done."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import uvicorn
from fastapi import FastAPI

from flux_remix.web import server


def test_tune_gc_freezes_what_start_up_built_and_raises_the_young_threshold() -> None:
    # in a child process: freezing the test process's objects would outlive this test
    code = (
        "import gc, json; from flux_remix.web.server import tune_gc; "
        "before = gc.get_threshold(); tune_gc(); "
        "print(json.dumps([before, gc.get_threshold(), gc.get_freeze_count()]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    before, after, frozen = json.loads(done.stdout)
    assert after == [server.GC_YOUNG_THRESHOLD, before[1], before[2]]
    assert frozen > 10_000  # the imported modules, FastAPI, pydantic, ... are left alone


async def test_the_server_tunes_the_collector_after_the_lifespan_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order: list[str] = []

    async def started(self: uvicorn.Server, sockets: object = None) -> None:
        order.append("lifespan start-up")

    monkeypatch.setattr(uvicorn.Server, "startup", started)
    monkeypatch.setattr(server, "tune_gc", lambda: order.append("tune_gc"))
    graceful = server.GracefulServer(uvicorn.Config(FastAPI()), FastAPI(), timeout=1)
    await graceful.startup()
    assert order == ["lifespan start-up", "tune_gc"]
