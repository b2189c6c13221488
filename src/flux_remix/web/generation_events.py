"""`ImageService.generate()` run in a task, its progress handed out as a stream of events.

A streaming route reads `Stage` events (queued → translating → generating → done) and then one
`Finished` or `Failed`; `next(within)` answers None when nothing happened for `within`
seconds, so the route can send a keep-alive. When the reader goes away mid-generation the run
is detached, not cancelled: the upstream call is already paid for, and its images still reach
storage and history.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flux_remix.schemas import Generation, ImageRequest
from flux_remix.service import ImageService
from flux_remix.validation import UnusedSeed


@dataclass(frozen=True)
class Stage:
    name: str
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finished:
    generation: Generation


@dataclass(frozen=True)
class Failed:
    error: Exception


Event = Stage | Finished | Failed


class GenerationRun:
    """One generation in the background; read its events with `next()`."""

    _detached: ClassVar[set[asyncio.Task[None]]] = set()  # strong refs until they finish

    def __init__(
        self,
        service: ImageService,
        req: ImageRequest,
        *,
        key_id: str | None,
        unused_seed: UnusedSeed = "refuse",
    ) -> None:
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(service, req, key_id, unused_seed))

    async def _run(
        self,
        service: ImageService,
        req: ImageRequest,
        key_id: str | None,
        unused_seed: UnusedSeed,
    ) -> None:
        async def progress(stage: str, info: dict[str, Any]) -> None:
            await self._events.put(Stage(stage, dict(info)))

        try:
            generation = await service.generate(
                req, key_id=key_id, progress=progress, unused_seed=unused_seed
            )
        except Exception as exc:  # handed to the reader, who maps it to an answer
            await self._events.put(Failed(exc))
        else:
            await self._events.put(Finished(generation))

    async def next(self, within: float | None = None) -> Event | None:
        """The next event; None when none came within `within` seconds."""
        try:
            return await asyncio.wait_for(self._events.get(), within)
        except TimeoutError:
            return None

    def detach(self) -> None:
        """The reader is gone: let a running generation finish on its own."""
        if not self._task.done():
            self._detached.add(self._task)
            self._task.add_done_callback(self._detached.discard)
