"""`Admission.saturated`: what `web/shedding.py` refuses on, counting the requests let in this
turn of the event loop (`arriving`) as if they had taken their places, and the wait budget."""

from __future__ import annotations

import pytest

from flux_remix.admission import Admission


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
