"""One blocking read per process for every job event stream its followers wait on.

A follower (an SSE stream, or a route waiting for a job's outcome) waits for the events of one
job after a given id. Instead of a blocking `XREAD` (and a Redis connection held) per follower,
the process's hub keeps one connection and one `XREAD BLOCK` over every followed stream, each
from the lowest id a follower of it waits after, and wakes the followers that an answer concerns
in-process. A follower that comes while the hub is blocked rings the hub's own wake stream (one
`XADD`, only one per blocked read however many arrive), so that the read starts over with its
stream in it; a follower that leaves is simply not woken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

from redis.asyncio import Redis

log = logging.getLogger("flux_remix.jobs")

Entries = list[tuple[bytes, dict[bytes, bytes]]]

HUB_BLOCK_MS = 10_000  # a read with nothing new starts over this often
WAKE_TTL = 3600  # seconds the wake stream outlives its process's last wake


def _seq(eid: bytes) -> int:
    return int(eid.split(b"-")[1])


class _Waiter:
    __slots__ = ("after", "future")

    def __init__(self, after: int, future: asyncio.Future[Entries]) -> None:
        self.after = after
        self.future = future


class EventHub:
    """`blocking` is a client whose connection the hub holds for its reads; `shared` sends the
    wake-ups; `wake_key` is this process's own wake stream. Event streams' ids are `0-<n>`."""

    def __init__(self, blocking: Redis, shared: Redis, wake_key: str) -> None:
        self._conn: Any = blocking
        self._shared: Any = shared
        self._wake_key = wake_key
        self._wake_seen = "0-0"
        self._waiters: defaultdict[str, set[_Waiter]] = defaultdict(set)
        self._changed = asyncio.Event()
        self._reading: dict[str, int] = {}  # the streams (and from which id) being read now
        self._rung = False  # a wake-up is on its way for the read under way
        self._task: asyncio.Task[None] | None = None
        self._wakes: set[asyncio.Task[None]] = set()
        self._closing = False

    async def wait(self, key: str, after: int, block: float) -> Entries:
        """The entries of stream `key` with an id above `0-<after>`, waiting up to `block`
        seconds for one (an empty list when none came)."""
        future: asyncio.Future[Entries] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(after, future)
        self._waiters[key].add(waiter)
        self._start()
        if key not in self._reading or self._reading[key] > after:
            self._changed.set()
            self._wake()
        try:
            async with asyncio.timeout(block):
                return await future
        except TimeoutError:
            return []
        finally:
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self._waiters[key]

    @property
    def followed(self) -> int:
        return len(self._waiters)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="jobs-event-hub")

    def _wake(self) -> None:
        """Make a read under way return now (its streams are not the ones now followed)."""
        if not self._reading or self._rung:
            return
        self._rung = True
        task = asyncio.create_task(self._ring())
        self._wakes.add(task)
        task.add_done_callback(self._wakes.discard)

    async def _ring(self) -> None:
        try:
            async with self._shared.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": "1"}, maxlen=10, approximate=False)
                pipe.expire(self._wake_key, WAKE_TTL)
                await pipe.execute()
        except Exception as exc:  # the read still returns within HUB_BLOCK_MS
            log.warning("waking the job event hub failed (%s)", type(exc).__name__)

    async def _run(self) -> None:
        while not self._closing:
            if not self._waiters:
                self._changed.clear()
                await self._changed.wait()
                continue
            self._changed.clear()
            self._rung = False
            self._reading = {key: min(w.after for w in ws) for key, ws in self._waiters.items()}
            streams: dict[str, str] = {key: f"0-{after}" for key, after in self._reading.items()}
            streams[self._wake_key] = self._wake_seen
            try:
                reply = await self._conn.xread(streams, block=HUB_BLOCK_MS)
            except Exception as exc:
                self._reading = {}
                self._fail(exc)
                await asyncio.sleep(0.5)
                continue
            read, self._reading = self._reading, {}
            for key, entries in reply or []:
                name = key.decode()
                if name == self._wake_key:
                    self._wake_seen = entries[-1][0].decode()
                    continue
                self._deliver(name, entries, read[name])

    def _deliver(self, key: str, entries: Entries, start: int) -> None:
        """Wake the followers of `key` that `entries` (every entry after `0-<start>`) answers
        in full; one that came meanwhile wanting events from before `start` waits for the next
        read, which starts from its id (else it would miss the events in between)."""
        for waiter in list(self._waiters.get(key, ())):
            if waiter.future.done() or waiter.after < start:
                continue
            newer = [e for e in entries if _seq(e[0]) > waiter.after]
            if newer:
                waiter.future.set_result(newer)

    def _fail(self, exc: BaseException) -> None:
        for waiting in self._waiters.values():
            for waiter in waiting:
                if not waiter.future.done():
                    waiter.future.set_exception(exc)

    async def close(self) -> None:
        """Stop reading. A read under way is woken, not cancelled: redis-py can leave a
        connection whose blocking read was cancelled waiting for its answer."""
        self._closing = True
        self._changed.set()
        task = self._task
        if task is not None and not task.done():
            if self._reading:
                await self._ring()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 2.0)
        for waiting in (task, *self._wakes):
            if waiting is not None:
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await waiting
        with contextlib.suppress(Exception):
            await self._conn.aclose()
