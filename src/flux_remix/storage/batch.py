"""Group commit: concurrent callers' items written together, each caller told its own outcome.

When a flush slot is free, an item is flushed at once (on the next turn of the event loop; there
is no timer); items submitted while every slot is busy wait and go together in the next flush
(up to `max_batch`). Up to `concurrency` flushes run side by side, each in a task of its own, so
a slow fsync does not hold up the next batch and cancelling a caller never interrupts a flush:
the cancelled caller's item is still flushed, and its outcome is dropped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

Flush = Callable[[list[T]], Awaitable[list[BaseException | None]]]


class GroupCommit(Generic[T]):
    """`flush(items)` answers one outcome per item, in order: None, or that item's exception.

    An exception raised by `flush` itself fails every item of that batch with it.
    """

    def __init__(self, flush: Flush[T], *, max_batch: int = 64, concurrency: int = 1) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._flush = flush
        self._max_batch = max_batch
        self._concurrency = concurrency
        self._queue: deque[tuple[T, asyncio.Future[None]]] = deque()
        self._runners: set[asyncio.Task[None]] = set()
        self.flushes = 0  # batches flushed so far (for tests and metrics)

    async def submit(self, item: T) -> None:
        """Return once `item` is flushed; raise its exception if it failed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((item, done))
        if len(self._runners) < self._concurrency:
            runner = loop.create_task(self._run(), name="flux-remix-group-commit")
            self._runners.add(runner)
            runner.add_done_callback(self._runners.discard)
        await done  # cancelling this cancels only `done`; the item stays queued or in flight

    async def drain(self) -> None:
        """Wait until every item submitted so far (and any submitted meanwhile) is flushed."""
        while self._runners:
            await asyncio.shield(asyncio.gather(*self._runners, return_exceptions=True))

    async def _run(self) -> None:
        try:
            while self._queue:
                count = min(len(self._queue), self._max_batch)
                batch = [self._queue.popleft() for _ in range(count)]
                self.flushes += 1
                outcomes: list[BaseException | None]
                try:
                    outcomes = list(await self._flush([item for item, _ in batch]))
                    if len(outcomes) != len(batch):
                        raise RuntimeError(
                            f"flush answered {len(outcomes)} outcomes for {len(batch)} items"
                        )
                except Exception as exc:
                    outcomes = [exc] * len(batch)
                except BaseException:  # cancelled: the event loop is shutting down
                    for _, done in batch:
                        done.cancel()
                    raise
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    if done.done():  # its caller was cancelled: nobody to tell
                        continue
                    if outcome is None:
                        done.set_result(None)
                    else:
                        done.set_exception(outcome)
        finally:
            # at once, not in a done callback: a submit() in between must see the free slot
            self._runners.discard(asyncio.current_task())
            if not self._runners:  # after a cancellation: no caller is left waiting for ever
                while self._queue:
                    self._queue.popleft()[1].cancel()
