"""`Admission`: how many generations one process runs at once, and how many may wait.

A generation takes a slot (`FLUX_REMIX_MAX_INFLIGHT`) for as long as it runs. When all are
taken, up to `FLUX_REMIX_MAX_WAITING` more wait in line and take slots first come, first served
as they free. A request joins the line only while its expected wait is within
`FLUX_REMIX_MAX_WAIT`: the rounds of slots ahead of it (its place in the line over the slots,
rounded up) times the recent mean time a generation holds a slot. So the line is as long as the
budget allows, shorter when generations slow down, rather than a fixed count whose wait grows with
the upstream's latency; a request that could not get a slot in time is refused at once instead of
after waiting for nothing. The same budget is the most any request waits. Anything beyond is
refused at once with `OverloadedError` (503 + `Retry-After` in the caller's API shape), so under a
flood the requests that are admitted keep their latency and the others learn within milliseconds
to back off, instead of every request waiting longer and longer until clients time out.

`web/shedding.py` also refuses a request before its body is read while the line is full.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from flux_remix.errors import OverloadedError

RETRY_AFTER = 1.0  # seconds a refused caller is told to wait
SMOOTHING = 0.1  # weight of the latest slot's holding time in the running mean


class Admission:
    def __init__(self, max_inflight: int, max_waiting: int, max_wait: float) -> None:
        self.max_inflight = max_inflight
        self.max_waiting = max_waiting
        self.max_wait = max_wait
        self.running = 0
        self.waiting = 0
        self.mean_hold = 0.0  # seconds a generation recently held its slot (0: none measured)
        self.arriving = 0  # requests let in by `web/shedding.py` that have not reached `slot`
        self._line: deque[asyncio.Future[None]] = deque()

    def expected_wait(self, place: int) -> float:
        """Seconds the request at `place` in the line (1: first) may wait for a slot at most,
        if generations keep taking `mean_hold`: every slot may have just been taken, so the
        first `max_inflight` in line wait one holding time, the next as many two, and so on."""
        return math.ceil(place / self.max_inflight) * self.mean_hold

    @property
    def saturated(self) -> bool:
        """Every slot is taken and the line is full, counting the requests `arriving` as if
        they had taken their places: a new generation would be refused."""
        taken = self.running + self.arriving
        ahead = self.waiting + max(0, taken - self.max_inflight)
        return taken >= self.max_inflight and not self._room(ahead)

    def _room(self, ahead: int) -> bool:
        """Whether a request with `ahead` others in line before it may join the line."""
        return ahead < self.max_waiting and self.expected_wait(ahead + 1) <= self.max_wait

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Run the body in a slot, after waiting in line if need be; `OverloadedError` when
        the line is full or the wait is too long."""
        if self.running < self.max_inflight and not self.waiting:
            self.running += 1
        else:
            await self._wait()  # a slot handed over by the one who freed it
        taken = time.monotonic()
        try:
            yield
        finally:
            held = time.monotonic() - taken
            self.mean_hold = (
                held if not self.mean_hold else self.mean_hold + SMOOTHING * (held - self.mean_hold)
            )
            self._release()

    async def _wait(self) -> None:
        if not self._room(self.waiting):
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
        "(FLUX_REMIX_MAX_INFLIGHT, FLUX_REMIX_MAX_WAITING, FLUX_REMIX_MAX_WAIT)",
        retry_after=RETRY_AFTER,
    )
