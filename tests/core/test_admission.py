"""`Admission.saturated`: what `web/shedding.py` refuses on, counting the requests let in and
not yet at a slot (`arriving`, an `Arrival` each) as if they had taken their places, and the wait
budget; `Pacer`, which starts admitted work a few per turn of the event loop."""

from __future__ import annotations

import asyncio

import pytest

from flux_remix.admission import ARRIVAL, Admission, Arrival, Pacer


@pytest.mark.parametrize(
    ("running", "waiting", "arriving", "mean_hold", "saturated"),
    [
        (0, 0, 0, 0.0, False),
        (2, 0, 0, 0.0, False),  # slots taken, the line empty
        (2, 1, 0, 0.0, True),  # slots taken, the line full (1)
        (1, 0, 1, 0.0, False),  # the one arriving takes the last slot; the line is free
        (1, 0, 2, 0.0, True),  # one takes the slot, one the line: full
        (0, 0, 3, 0.0, True),  # a batch of three fills both slots and the line
        (2, 0, 0, 6.0, True),  # the first in line would wait 6 s: over the 5 s budget
        (2, 0, 0, 4.0, False),  # 4 s: within it
    ],
)
def test_saturated(
    running: int, waiting: int, arriving: int, mean_hold: float, saturated: bool
) -> None:
    admission = Admission(max_inflight=2, max_waiting=1, max_wait=5.0)
    admission.running, admission.waiting, admission.arriving = running, waiting, arriving
    admission.mean_hold = mean_hold
    assert admission.saturated is saturated


@pytest.mark.parametrize(("place", "expected"), [(1, 2.0), (4, 2.0), (5, 4.0), (8, 4.0), (9, 6.0)])
def test_expected_wait_counts_rounds_of_slots(place: int, expected: float) -> None:
    admission = Admission(max_inflight=4, max_waiting=100, max_wait=5.0)
    admission.mean_hold = 2.0
    assert admission.expected_wait(place) == expected


def test_an_arrival_holds_its_place_until_it_reaches_a_slot() -> None:
    admission = Admission(max_inflight=1, max_waiting=0, max_wait=5.0)

    async def run() -> list[tuple[int, int]]:
        seen = []
        first, second = Arrival(admission), Arrival(admission)
        seen.append((admission.arriving, admission.running))  # both let in, neither at a slot
        token = ARRIVAL.set(first)
        async with admission.slot():
            seen.append((admission.arriving, admission.running))  # the first one now runs
            second.reached()  # the second ended without a slot (say, invalid)
            second.reached()  # counted down once only
            seen.append((admission.arriving, admission.running))
        ARRIVAL.reset(token)
        first.reached()  # the middleware's own `finally`: nothing left to count down
        seen.append((admission.arriving, admission.running))
        return seen

    assert asyncio.run(run()) == [(2, 0), (1, 1), (0, 1), (0, 0)]


def test_the_pacer_starts_a_few_per_turn_in_order_and_is_free_when_quiet() -> None:
    pacer = Pacer(per_turn=2)

    async def run() -> tuple[list[list[int]], bool]:
        started: list[int] = []
        turns: list[list[int]] = []

        async def one(i: int) -> None:
            await pacer.turn()
            started.append(i)

        tasks = [asyncio.create_task(one(i)) for i in range(7)]
        tasks[4].cancel()  # gave up waiting: skipped, takes no start
        while not all(t.done() for t in tasks):
            before = len(started)
            await asyncio.sleep(0)
            turns.append(started[before:])
        await asyncio.sleep(0)  # the pacer's own turn passes with nothing waiting
        await asyncio.sleep(0)
        quiet = pacer.turn().__await__()  # budget left and no one waiting: goes on at once
        try:
            next(quiet)
            went_on = False
        except StopIteration:
            went_on = True
        return [t for t in turns if t], went_on

    turns, went_on = asyncio.run(run())
    assert turns == [[0, 1], [2, 3], [5, 6]]
    assert went_on
