"""Fair order across keys and what a queued job is told about its wait: pure functions.

Queued jobs run round robin by key: the key served longest ago goes next, so one key's flood
takes turns with everyone else instead of going first. A job's position is where that order
puts it: its own key's earlier jobs, plus, from each other key, at most as many jobs as it has
turns to wait.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def fair_position(own_index: int, other_queues: Iterable[int]) -> int:
    """1-based place of the job `own_index` jobs deep in its key's queue, with the other keys'
    queue lengths: each other key runs at most one job per turn of the round."""
    turns = own_index + 1
    return turns + sum(min(length, turns) for length in other_queues)


def wait_estimate(position: int, slots: int, run_times: list[float]) -> float | None:
    """Seconds until a job at `position` starts, from recent run times and the worker slots
    serving the queue; None before any job has finished (no basis for a guess)."""
    if not run_times:
        return None
    mean = sum(run_times) / len(run_times)
    rounds = math.ceil(position / max(1, slots))
    return round(rounds * mean, 1)
