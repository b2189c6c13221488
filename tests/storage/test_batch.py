"""`GroupCommit`: batching, per-item outcomes, cancellation and draining; flushes run in worker
threads."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from flux_remix.storage.batch import GroupCommit


class Recorder:
    """A flush that records its batches and threads, can be held, and fails the items listed
    in `fail`."""

    def __init__(self, fail: set[int] | None = None) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.fail = fail or set()
        self.gate = threading.Event()
        self.gate.set()
        self._started = threading.Event()

    def __call__(self, items: list[int]) -> list[BaseException | None]:
        self.threads.add(threading.current_thread().name)
        self.batches.append(items)
        self._started.set()
        assert self.gate.wait(10)
        return [ValueError(f"item {i}") if i in self.fail else None for i in items]

    async def started(self) -> None:
        """Wait until a flush has started (then forget it, for the next one)."""
        assert await asyncio.to_thread(self._started.wait, 10)
        self._started.clear()

    async def flushed(self, count: int) -> None:
        """Wait until `count` batches have been handed to this flush."""
        for _ in range(1000):
            if len(self.batches) >= count:
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"{len(self.batches)} batches, not {count}")


@contextmanager
def loop_errors() -> Iterator[list[dict[str, Any]]]:
    """What the event loop reports as unhandled ("exception was never retrieved", ...)."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        yield seen
    finally:
        gc.collect()  # unretrieved exceptions are reported when their future is collected
        loop.set_exception_handler(old)


async def test_a_lone_item_is_flushed_at_once() -> None:
    flush = Recorder()
    commit: GroupCommit[int] = GroupCommit(flush)
    t0 = time.perf_counter()
    await commit.submit(1)
    assert time.perf_counter() - t0 < 0.05  # no timer: flushed on the next loop turn
    assert flush.batches == [[1]]
    await commit.submit(2)
    assert flush.batches == [[1], [2]]
    assert commit.flushes == 2


async def test_items_submitted_during_a_flush_go_together_in_the_next() -> None:
    flush = Recorder()
    flush.gate.clear()
    commit: GroupCommit[int] = GroupCommit(flush, max_batch=4)
    first = asyncio.create_task(commit.submit(0))
    await flush.started()
    rest = [asyncio.create_task(commit.submit(i)) for i in range(1, 10)]
    await asyncio.sleep(0)
    flush.gate.set()
    await asyncio.gather(first, *rest)
    assert flush.batches == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9]]


async def test_each_caller_gets_its_own_outcome() -> None:
    flush = Recorder(fail={3})
    commit: GroupCommit[int] = GroupCommit(flush)
    results = await asyncio.gather(*(commit.submit(i) for i in range(6)), return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["NoneType"] * 3 + ["ValueError"] + [
        "NoneType"
    ] * 2
    assert str(results[3]) == "item 3"


async def test_a_failing_flush_fails_its_batch_only() -> None:
    calls = 0

    def flush(items: list[int]) -> list[BaseException | None]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk on fire")
        return [None] * len(items)

    commit: GroupCommit[int] = GroupCommit(flush)
    with pytest.raises(OSError, match="disk on fire"):
        await commit.submit(1)
    await commit.submit(2)


async def test_a_flush_answering_the_wrong_number_of_outcomes_is_an_error() -> None:
    def flush(items: list[int]) -> list[BaseException | None]:
        return []

    commit: GroupCommit[int] = GroupCommit(flush)
    with pytest.raises(RuntimeError, match="0 outcomes for 1 items"):
        await commit.submit(1)


async def test_a_cancelled_caller_leaves_its_item_flushed_and_nothing_pending() -> None:
    flush = Recorder(fail={1})
    flush.gate.clear()
    commit: GroupCommit[int] = GroupCommit(flush)
    with loop_errors() as errors:
        running = asyncio.create_task(commit.submit(1))  # in the flush, which will fail it
        await flush.started()
        queued = asyncio.create_task(commit.submit(2))  # waiting for the next flush
        other = asyncio.create_task(commit.submit(3))
        await asyncio.sleep(0)
        running.cancel()
        queued.cancel()
        await asyncio.sleep(0)
        flush.gate.set()
        await other
        for task in (running, queued):
            with pytest.raises(asyncio.CancelledError):
                await task
        await commit.drain()
        del running, queued
    assert errors == []
    assert flush.batches == [[1], [2, 3]]  # the cancelled callers' items were still flushed


async def one_flushing_two_queued() -> tuple[Recorder, GroupCommit[int], list[asyncio.Task[None]]]:
    """Item 0 in a held flush, items 1 and 2 queued behind it."""
    flush = Recorder()
    flush.gate.clear()
    commit: GroupCommit[int] = GroupCommit(flush)
    tasks = [asyncio.create_task(commit.submit(0))]
    await flush.started()
    tasks += [asyncio.create_task(commit.submit(i)) for i in (1, 2)]
    await asyncio.sleep(0)
    return flush, commit, tasks


async def test_drain_waits_for_running_and_queued_flushes() -> None:
    flush, commit, tasks = await one_flushing_two_queued()
    drained = asyncio.create_task(commit.drain())
    await asyncio.sleep(0.02)
    assert not drained.done()
    flush.gate.set()
    await drained
    assert all(t.done() for t in tasks)
    assert flush.batches == [[0], [1, 2]]
    await commit.drain()  # idle: returns at once


def test_max_batch_must_be_positive() -> None:
    def flush(items: list[int]) -> list[BaseException | None]:
        return [None] * len(items)

    with pytest.raises(ValueError, match="max_batch"):
        GroupCommit(flush, max_batch=0)
    with pytest.raises(ValueError, match="concurrency"):
        GroupCommit(flush, concurrency=0)


async def test_two_flushes_run_side_by_side_and_the_rest_wait_for_a_free_one() -> None:
    flush = Recorder()
    flush.gate.clear()
    commit: GroupCommit[int] = GroupCommit(flush, concurrency=2)
    tasks = [asyncio.create_task(commit.submit(0))]
    await flush.flushed(1)
    tasks.append(asyncio.create_task(commit.submit(1)))  # a second slot: flushed at once
    await flush.flushed(2)
    assert flush.batches == [[0], [1]]
    tasks += [asyncio.create_task(commit.submit(i)) for i in (2, 3, 4)]  # both slots busy
    await asyncio.sleep(0.05)
    assert flush.batches == [[0], [1]]
    flush.gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 1)
    assert sorted(map(sorted, flush.batches)) == [[0], [1], [2, 3, 4]]
    assert commit.flushes == 3
    await commit.drain()
    assert commit.running == 0


async def test_a_cancelled_flusher_leaves_no_caller_waiting() -> None:
    flush, commit, tasks = await one_flushing_two_queued()
    (runner,) = commit._running  # what the event loop cancels when it shuts down
    runner.cancel()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 1)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert commit.running == 0
    flush.gate.set()
    await commit.submit(3)  # usable again
    assert flush.batches == [[0], [3]]


async def test_a_flush_runs_in_a_worker_thread_and_a_raising_one_fails_its_batch() -> None:
    flush = Recorder()
    commit: GroupCommit[int] = GroupCommit(flush)
    await commit.submit(1)
    assert flush.threads and threading.current_thread().name not in flush.threads

    def broken(items: list[int]) -> list[BaseException | None]:
        raise OSError("the disk went away")

    failing: GroupCommit[int] = GroupCommit(broken)
    results = await asyncio.gather(failing.submit(1), failing.submit(2), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
