"""`Admission`: how many generations one process runs at once, and how many may wait.

A generation takes a slot (`FLUX_REMIX_MAX_INFLIGHT`) for as long as it runs. When all are
taken, up to `FLUX_REMIX_MAX_WAITING` more wait in line, each for at most `FLUX_REMIX_MAX_WAIT`
seconds, and take slots first come, first served as they free. Anything beyond is refused at once
with `OverloadedError` (503 + `Retry-After` in the caller's API shape), so under a flood the
requests that are admitted keep their latency and the others learn within milliseconds to back
off, instead of every request waiting longer and longer until clients time out.

`web/shedding.py` also refuses a request before its body is read while the line is full.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from flux_remix.errors import OverloadedError

RETRY_AFTER = 1.0  # seconds a refused caller is told to wait


class Admission:
    def __init__(self, max_inflight: int, max_waiting: int, max_wait: float) -> None:
        self.max_inflight = max_inflight
        self.max_waiting = max_waiting
        self.max_wait = max_wait
        self.running = 0
        self.waiting = 0
        self._line: deque[asyncio.Future[None]] = deque()

    @property
    def saturated(self) -> bool:
        """Every slot is taken and the line is full: a new generation would be refused."""
        return self.running >= self.max_inflight and self.waiting >= self.max_waiting

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Run the body in a slot, after waiting in line if need be; `OverloadedError` when
        the line is full or the wait is too long."""
        if self.running < self.max_inflight and not self.waiting:
            self.running += 1
        else:
            await self._wait()  # a slot handed over by the one who freed it
        try:
            yield
        finally:
            self._release()

    async def _wait(self) -> None:
        if self.waiting >= self.max_waiting:
            raise overloaded(f"{self.running} generations running and {self.waiting} waiting")
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._line.append(turn)
        self.waiting += 1
        try:
            async with asyncio.timeout(self.max_wait):
                await turn
        except TimeoutError:
            if not (turn.done() and not turn.cancelled()):
                raise overloaded(f"no generation slot freed within {self.max_wait:g} s") from None
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._release()  # handed a slot just as this request was cancelled
            raise
        finally:
            self.waiting -= 1

    def _release(self) -> None:
        while self._line:
            turn = self._line.popleft()
            if not turn.done():  # skip those that gave up waiting
                turn.set_result(None)  # the slot passes on: `running` stays as it is
                return
        self.running -= 1


def overloaded(why: str) -> OverloadedError:
    return OverloadedError(
        f"This server is at capacity ({why}); try again shortly "
        "(FLUX_REMIX_MAX_INFLIGHT, FLUX_REMIX_MAX_WAITING)",
        retry_after=RETRY_AFTER,
    )
