"""Group commit: concurrent callers' items written together, each caller told its own outcome.

When a flush slot is free, an item is flushed at once (there is no timer); items submitted while
every slot is busy wait and go together in the next flush (up to `max_batch`). Up to
`concurrency` flushes run side by side, so a slow fsync does not hold up the next batch.

A flush is a blocking function, run in a worker thread (no task at all); its completion settles
the callers from a done callback, so under load a save costs as few turns of the event loop as
possible, and cancelling a caller never interrupts a flush: the cancelled caller's item is still
flushed, and its outcome is dropped.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Generic, TypeVar

T = TypeVar("T")

Outcomes = list[BaseException | None]
Flush = Callable[[list[T]], Outcomes]
_Waiting = deque[tuple[T, "asyncio.Future[None]"]]


class GroupCommit(Generic[T]):
    """`flush(items)` answers one outcome per item, in order: None, or that item's exception.

    An exception raised by the flush itself fails every item of that batch with it. `flush` is
    called in `executor`'s threads (the default executor when None).
    """

    def __init__(
        self,
        flush: Flush[T],
        *,
        executor: Executor | None = None,
        max_batch: int = 64,
        concurrency: int = 1,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._flush = flush
        self._executor = executor
        self._max_batch = max_batch
        self._concurrency = concurrency
        self._queue: _Waiting[T] = deque()
        self._running: set[asyncio.Future[Outcomes]] = set()
        self._idle: asyncio.Event | None = None  # set while nothing is queued or running
        self.flushes = 0  # batches flushed so far (for tests and metrics)

    @property
    def running(self) -> int:
        """Flushes in progress now."""
        return len(self._running)

    async def submit(self, item: T) -> None:
        """Return once `item` is flushed; raise its exception if it failed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((item, done))
        self._start(loop)
        await done  # cancelling this cancels only `done`; the item stays queued or in flight

    async def drain(self) -> None:
        """Wait until every item submitted so far (and any submitted meanwhile) is flushed."""
        while self._queue or self._running:
            if self._idle is None:
                self._idle = asyncio.Event()
            await self._idle.wait()

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._queue and len(self._running) < self._concurrency:
            count = min(len(self._queue), self._max_batch)
            batch = [self._queue.popleft() for _ in range(count)]
            items = [item for item, _ in batch]
            self.flushes += 1
            started = loop.run_in_executor(self._executor, self._flush, items)
            self._running.add(started)
            started.add_done_callback(functools.partial(self._settle, loop, batch))

    def _settle(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[tuple[T, asyncio.Future[None]]],
        finished: asyncio.Future[Outcomes],
    ) -> None:
        self._running.discard(finished)
        if finished.cancelled():  # the event loop is shutting down: nobody waits for ever
            for _, done in [*batch, *self._queue]:
                done.cancel()
            self._queue.clear()
        else:
            outcomes = _outcomes(finished, len(batch))
            for (_, done), outcome in zip(batch, outcomes, strict=True):
                if done.done():  # its caller was cancelled: nobody to tell
                    continue
                if outcome is None:
                    done.set_result(None)
                else:
                    done.set_exception(outcome)
            self._start(loop)
        if not self._queue and not self._running and self._idle is not None:
            self._idle.set()
            self._idle = None


def _outcomes(finished: asyncio.Future[Outcomes], count: int) -> Outcomes:
    error = finished.exception()
    if error is not None:
        return [error] * count
    outcomes = list(finished.result())
    if len(outcomes) != count:
        return [RuntimeError(f"flush answered {len(outcomes)} outcomes for {count} items")] * count
    return outcomes
