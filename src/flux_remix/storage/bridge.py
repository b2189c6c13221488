"""Blocking calls into an event loop, for the batch writer's worker thread: how the stores
whose I/O is async (PostgreSQL, S3) offer the writer's blocking methods."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopBridge:
    """Remembers the loop a store was opened on; `call` runs a coroutine there from another
    thread and waits for it."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None

    def bind(self) -> None:
        """Called from the store's `open()`, on its event loop."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None or threading.get_ident() == self._thread:
            coro.close()  # from the loop's own thread it would wait for itself for ever
            raise RuntimeError("a blocking store call needs a worker thread of an opened store")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()
