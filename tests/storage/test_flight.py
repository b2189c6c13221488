"""In-flight de-duplication: in one process, and across replicas through the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from flux_remix.errors import CapacityError
from flux_remix.generation.flight import Flights
from tests.servers import require_redis
from tests.support import free_port


class Work:
    """A lead function that counts its calls and finishes when the test says so."""

    def __init__(self, result: str = "image") -> None:
        self.calls = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.result = result
        self.error: Exception | None = None

    async def __call__(self) -> str:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return self.result


async def nothing() -> str | None:
    return None


async def test_identical_calls_in_one_process_share_one_lead() -> None:
    flights: Flights[str] = Flights()
    work = Work()
    tasks = [asyncio.create_task(flights.run("k", work, nothing, deadline=10)) for _ in range(5)]
    await work.started.wait()
    assert flights.in_flight() == 1
    work.release.set()
    results = await asyncio.gather(*tasks)
    assert work.calls == 1
    assert sorted(results) == [("image", False)] + [("image", True)] * 4
    assert flights.in_flight() == 0


async def test_a_failed_lead_fails_its_joiners_and_is_not_remembered() -> None:
    flights: Flights[str] = Flights()
    work = Work()
    work.error = CapacityError("busy")
    tasks = [asyncio.create_task(flights.run("k", work, nothing, deadline=10)) for _ in range(3)]
    await work.started.wait()
    work.release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, CapacityError) for o in outcomes)
    again = Work("second")
    again.release.set()
    assert await flights.run("k", again, nothing, deadline=10) == ("second", False)


async def test_a_joiner_takes_over_when_the_leader_is_cancelled() -> None:
    flights: Flights[str] = Flights()
    first = Work()
    leader = asyncio.create_task(flights.run("k", first, nothing, deadline=10))
    await first.started.wait()
    second = Work("from the joiner")
    second.release.set()
    joiner = asyncio.create_task(flights.run("k", second, nothing, deadline=10))
    await asyncio.sleep(0)  # let the joiner start waiting on the leader
    leader.cancel()
    assert await joiner == ("from the joiner", False)
    assert second.calls == 1
    with pytest.raises(asyncio.CancelledError):
        await leader


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(require_redis())
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"flux-test-{uuid.uuid4().hex[:8]}:"


async def test_replicas_share_one_lead_through_redis(redis: Redis, prefix: str) -> None:
    replica_a: Flights[str] = Flights(redis, prefix)
    replica_b: Flights[str] = Flights(redis, prefix)
    stored: dict[str, str] = {}  # the shared metadata store both replicas read

    async def lookup() -> str | None:
        return stored.get("k")

    work_a = Work("made on A")
    work_b = Work("made on B")
    work_b.release.set()
    on_a = asyncio.create_task(replica_a.run("k", work_a, lookup, deadline=10))
    await work_a.started.wait()
    assert await redis.exists(f"{prefix}inflight:k")
    on_b = asyncio.create_task(replica_b.run("k", work_b, lookup, deadline=10))
    await asyncio.sleep(0.2)  # B is polling; its own lead must not run while A's lock is held
    assert work_b.calls == 0
    stored["k"] = "made on A"
    work_a.release.set()
    assert await on_a == ("made on A", False)
    assert await on_b == ("made on A", True)
    assert work_b.calls == 0
    assert not await redis.exists(f"{prefix}inflight:k")  # released


async def test_a_replica_takes_over_when_the_lock_lapses(redis: Redis, prefix: str) -> None:
    await redis.set(f"{prefix}inflight:k", "a replica that died", px=300)
    work = Work("made here")
    work.release.set()
    flights: Flights[str] = Flights(redis, prefix)
    assert await flights.run("k", work, nothing, deadline=10) == ("made here", False)
    assert work.calls == 1


async def test_redis_down_costs_only_the_sharing() -> None:
    down = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        work = Work("alone")
        work.release.set()
        flights: Flights[str] = Flights(down, "x:")
        assert await flights.run("k", work, nothing, deadline=10) == ("alone", False)
    finally:
        await down.aclose()
