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

`web/shedding.py` also refuses a request before its body is read while the line is full, and
starts the requests it lets in through `Pacer`: a few per turn of the event loop, so that the
loop reads its sockets (and refuses what it must) between every few admitted requests' work
instead of after a whole burst's.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from flux_remix.errors import OverloadedError

RETRY_AFTER = 1.0  # seconds a refused caller is told to wait
SMOOTHING = 0.1  # weight of the latest slot's holding time in the running mean
STARTS_PER_TURN = 4  # admitted requests starting their work per turn of the event loop


class Admission:
    def __init__(self, max_inflight: int, max_waiting: int, max_wait: float) -> None:
        self.max_inflight = max_inflight
        self.max_waiting = max_waiting
        self.max_wait = max_wait
        self.running = 0
        self.waiting = 0
        self.mean_hold = 0.0  # seconds a generation recently held its slot (0: none measured)
        self.arriving = 0  # requests let in (`Arrival`) that have not reached `slot` yet
        self._line: deque[asyncio.Future[None]] = deque()
        self.pacer = Pacer(STARTS_PER_TURN)  # how `web/shedding.py` starts what it lets in

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
        arrival = ARRIVAL.get()
        if arrival is not None:
            arrival.reached()  # from here on it counts as running or waiting
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


class Arrival:
    """A request `web/shedding.py` let in, counted in its admission's `arriving` from then until
    it reaches `slot` (where it counts as running or waiting) or ends without, so that the
    requests let in while it reads its body, is validated or waits its `Pacer` turn hold their
    places and the rest of a burst beyond the bounds is refused. `ARRIVAL` carries it from the
    middleware to `slot` within the request's task."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.counted = True
        admission.arriving += 1

    def reached(self) -> None:
        if self.counted:
            self.counted = False
            self.admission.arriving -= 1


ARRIVAL: ContextVar[Arrival | None] = ContextVar("flux_remix_arrival", default=None)


class Pacer:
    """At most `per_turn` callers of `turn` go on in one turn of the event loop; the others
    wait, first come first served, for the turns after. Between two turns the loop polls its
    sockets, so work started in pieces of `per_turn` never keeps it from reading (and answering
    cheap requests) for long. Free while the loop is quiet: a caller with the turn's budget left
    goes on at once."""

    def __init__(self, per_turn: int) -> None:
        self.per_turn = per_turn
        self.left = per_turn
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._armed = False

    async def turn(self) -> None:
        if self.left and not self._waiting:
            self.left -= 1
            self._arm()
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        self._arm()
        await turn

    def _arm(self) -> None:
        if not self._armed:
            self._armed = True
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self._armed = False
        self.left = self.per_turn
        while self.left and self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():  # skip the cancelled
                turn.set_result(None)
                self.left -= 1
        if self._waiting or self.left < self.per_turn:
            self._arm()


def overloaded(why: str) -> OverloadedError:
    return OverloadedError(
        f"This server is at capacity ({why}); try again shortly "
        "(FLUX_REMIX_MAX_INFLIGHT, FLUX_REMIX_MAX_WAITING, FLUX_REMIX_MAX_WAIT)",
        retry_after=RETRY_AFTER,
    )
