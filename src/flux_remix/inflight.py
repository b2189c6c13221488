"""The generations running now, by API key: what A1111's `progress` and `interrupt` act on.

A route that wants its generation to be visible and interruptible runs it through
`InFlight.run(key_id, label, work)`: `work(progress)` runs as its own task, each progress stage of
`ImageService.generate` is recorded, and `interrupt(key_id)` cancels the caller's running ones.
Nothing here knows about HTTP or about A1111's shapes; a key sees only its own generations.

This holds what exists today (generations tied to the request that started them, in this
process). When generations become durable jobs, `progress`/`interrupt` re-point at the job store
through this same interface.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flux_remix.service import Progress

T = TypeVar("T")

# How far along each stage of `ImageService.generate` is, for a progress fraction.
STAGE_PROGRESS = {"queued": 0.02, "translating": 0.05, "generating": 0.1, "done": 1.0}


class Interrupted(Exception):
    """The caller interrupted this generation (A1111's `interrupt`)."""


@dataclass
class Running:
    """One generation in flight: its stage, how many of its images are stored, when it began."""

    key_id: str | None
    label: str  # e.g. "txt2img"
    started: float = field(default_factory=time.time)
    stage: str = "queued"
    images: int = 1  # how many the generation makes
    stored: int = 0
    steps: int | None = None
    interrupted: bool = False
    task: asyncio.Task[Any] | None = field(default=None, repr=False)

    @property
    def fraction(self) -> float:
        if self.stage == "stored":
            return 0.1 + 0.9 * min(1.0, self.stored / max(1, self.images))
        return STAGE_PROGRESS.get(self.stage, 0.0)

    async def progress(self, stage: str, info: dict[str, Any]) -> None:
        self.stage = stage
        if stage == "generating":
            self.images = int(info.get("n", self.images))
        elif stage == "stored":
            self.stored += 1


class InFlight:
    """The running generations of one process, by the key that started them."""

    def __init__(self) -> None:
        self._running: list[Running] = []

    def of(self, key_id: str | None) -> list[Running]:
        """The caller's running generations, oldest first."""
        return [r for r in self._running if r.key_id == key_id]

    async def run(
        self,
        key_id: str | None,
        label: str,
        work: Callable[[Progress], Awaitable[T]],
        *,
        steps: int | None = None,
    ) -> T:
        """`work(progress)` as a tracked task; `Interrupted` when `interrupt` cancelled it."""
        running = Running(key_id, label, steps=steps)

        async def tracked() -> T:
            return await work(running.progress)

        task: asyncio.Task[T] = asyncio.ensure_future(tracked())
        running.task = task
        self._running.append(running)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if running.interrupted and not (current and current.cancelling()):
                raise Interrupted from None
            raise
        finally:
            self._running.remove(running)

    def interrupt(self, key_id: str | None) -> int:
        """Cancel the caller's running generations; how many there were."""
        mine = self.of(key_id)
        for running in mine:
            running.interrupted = True
            if running.task is not None:
                running.task.cancel()
        return len(mine)
