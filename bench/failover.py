"""Failover benchmark: the account pool against the original's strategy, on one fault schedule.

Three accounts in the Workers AI emulator (in this process, over real HTTP):
  acct-A  healthy until its daily quota runs out mid-run (then 429 / 4006)
  acct-B  answers 30% of calls with 429 / 3040 "Capacity temporarily exceeded"
  acct-C  healthy
500 FLUX.2 klein-4b requests (fixed seed, so the emulator's drawing stays cached) at
concurrency 16, once per strategy, the schedule replayed
identically (the emulator's fault RNG is reseeded):
  pool      flux-remix's AccountPool: most neurons left first, cooldowns, failover
  pool+redis  the same with its state in Redis (when 127.0.0.1:6379 answers)
  original  the TypeScript original: a random account per request, no retry
Both call Cloudflare through the same WorkersAIClient, so only the account strategy differs.
The daily allocation is raised to 100,000 neurons (emulator and pool alike) so that 500 images
fit in the healthy accounts: the question is failover, not quota arithmetic.

    .venv/bin/python bench/failover.py [--requests 500] [--concurrency 16] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from flux_remix import errors as e
from flux_remix.accounts import AccountPool, AccountState, MemoryState, RedisState
from flux_remix.catalog import build_catalog
from flux_remix.emulator import EmulatorConfig, EmulatorServer, FaultSpec
from flux_remix.schemas import ImageRequest
from flux_remix.settings import Account
from flux_remix.upstream import UpstreamImage, WorkersAIClient
from flux_remix.validation import validate_request

MODEL = "@cf/black-forest-labs/flux-2-klein-4b"  # priced, JSON output, takes a seed (cached)
PROMPT = "a lighthouse at dusk"
DAILY = 100_000.0
IDS = {"A": "a" * 32, "B": "b" * 32, "C": "c" * 32}
TOKENS = {i: f"bench-token-{name}" for name, i in IDS.items()}
A_IMAGES_LEFT = 40  # acct-A runs out after this many images: mid-run
CAPACITY_ERRORS = 0.30

Call = Callable[[Account], Awaitable[UpstreamImage]]
Strategy = Callable[[Call], Awaitable[UpstreamImage]]


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    sends: list[tuple[float, str]] = field(default_factory=list)  # (when, account label)
    quota_seen: dict[str, float] = field(default_factory=dict)  # first 4006 per account
    upstream_calls: int = 0
    neurons: float = 0.0

    @property
    def after_known_exhausted(self) -> int:
        """Calls sent to an account after a 4006 from it had already been received."""
        return sum(
            1 for t, label in self.sends if label in self.quota_seen and t > self.quota_seen[label]
        )


def schedule(emu: EmulatorServer, price: float) -> None:
    """Reset the emulator and arm the fault schedule (identical for every strategy)."""
    emu.state.reset()
    emu.state.set_used(IDS["A"], DAILY - A_IMAGES_LEFT * price + 0.01)
    emu.state.add_fault(
        FaultSpec(kind="capacity", account_id=IDS["B"], probability=CAPACITY_ERRORS)
    )


async def measure(
    name: str,
    strategy: Strategy,
    client: WorkersAIClient,
    emu: EmulatorServer,
    *,
    requests: int,
    concurrency: int,
    price: float,
) -> Result:
    catalog = build_catalog({}, 4)
    spec = catalog.resolve(MODEL)
    params = validate_request(spec, ImageRequest(prompt=PROMPT, model=spec.id, seed=42))
    schedule(emu, price)
    before = sum(emu.state.ledger.all_used().values())
    result = Result(name)
    gate = asyncio.Semaphore(concurrency)

    async def call(account: Account) -> UpstreamImage:
        result.sends.append((time.perf_counter(), account.label))
        try:
            return await client.run_image(account, params, PROMPT)
        except e.QuotaExhaustedError:
            result.quota_seen.setdefault(account.label, time.perf_counter())
            raise

    async def one() -> None:
        async with gate:
            started = time.perf_counter()
            try:
                await strategy(call)
                result.ok += 1
            except e.FluxRemixError:
                pass
            result.latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(one() for _ in range(requests)))
    result.upstream_calls = sum(1 for c in emu.state.calls() if "/ai/run/" in c.endpoint)
    result.neurons = sum(emu.state.ledger.all_used().values()) - before
    return result


def pool_strategy(accounts: list[Account], state: AccountState, estimate: float) -> Strategy:
    pool = AccountPool(accounts, state=state, daily_neurons=DAILY)

    async def run(call: Call) -> UpstreamImage:
        image, _ = await pool.run(call, deadline=60, cost=estimate, neurons=lambda r: r.neurons)
        return image

    return run


def original_strategy(accounts: list[Account]) -> Strategy:
    rng = random.Random(7)  # the same draws every run

    async def run(call: Call) -> UpstreamImage:
        return await call(rng.choice(accounts))

    return run


async def redis_state() -> tuple[AccountState, Callable[[], Awaitable[None]]] | None:
    from flux_remix.redis_client import redis_from_url

    client = redis_from_url("redis://127.0.0.1:6379/0")
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        return None
    prefix = f"flux-remix-bench:{random.getrandbits(48):x}:"

    async def cleanup() -> None:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()

    return RedisState(client, prefix), cleanup


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def table(results: list[Result], requests: int) -> str:
    head = (
        "strategy",
        "success",
        "p50 ms",
        "p99 ms",
        "calls/success",
        "neurons/success",
        "sent to known-exhausted",
    )
    rows = [head]
    for r in results:
        rows.append(
            (
                r.name,
                f"{r.ok}/{requests} = {100 * r.ok / requests:.1f}%",
                f"{1000 * statistics.median(r.latencies):.0f}",
                f"{1000 * percentile(r.latencies, 99):.0f}",
                f"{r.upstream_calls / r.ok:.2f}" if r.ok else "-",
                f"{r.neurons / r.ok:.1f}" if r.ok else "-",
                str(r.after_known_exhausted),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


async def main(requests: int, concurrency: int, latency: float) -> None:
    config = EmulatorConfig(
        accounts=TOKENS, daily_neurons=DAILY, latency=latency, seed=7, call_log_size=20 * requests
    )
    accounts = [
        Account(label=f"acct-{name}", account_id=SecretStr(i), token=SecretStr(TOKENS[i]))
        for name, i in IDS.items()
    ]
    spec = build_catalog({}, 4).resolve(MODEL)
    params = validate_request(spec, ImageRequest(prompt=PROMPT, model=spec.id, seed=42))
    estimate = spec.estimate_neurons(params.price_inputs())
    results: list[Result] = []
    with EmulatorServer(config) as emu:
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
        async with httpx.AsyncClient(limits=limits) as http:
            client = WorkersAIClient(http, emu.base_url, timeout=30)
            await client.run_image(accounts[2], params, PROMPT)  # the emulator draws it once
            price = emu.state.used(IDS["C"])  # what the emulator bills per image
            kwargs = {"requests": requests, "concurrency": concurrency, "price": price}
            memory = MemoryState()
            pool = pool_strategy(accounts, memory, estimate)
            results.append(await measure("pool", pool, client, emu, **kwargs))
            shared = await redis_state()
            if shared is not None:
                state, cleanup = shared
                try:
                    pool = pool_strategy(accounts, state, estimate)
                    results.append(await measure("pool+redis", pool, client, emu, **kwargs))
                finally:
                    await cleanup()
            original = original_strategy(accounts)
            results.append(await measure("original", original, client, emu, **kwargs))
    print(
        f"failover: {requests} {spec.name} requests, concurrency {concurrency}, emulator "
        f"latency {latency * 1000:.0f} ms; acct-A exhausted after {A_IMAGES_LEFT} images, "
        f"acct-B {CAPACITY_ERRORS:.0%} capacity errors, acct-C healthy; {price:g} neurons/image"
    )
    print(table(results, requests))
    if shared is None:
        print("(pool+redis skipped: no Redis on 127.0.0.1:6379)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05, help="emulator seconds per image")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency, args.latency))
