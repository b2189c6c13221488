"""Load-shedding benchmark: 1,000 concurrent generations against `flux-remix serve`.

The upstream is the Workers AI emulator in its own process (`bench.gateway.upstream`) taking
`--latency` (50 ms) per image. flux-remix runs as `serve` twice: with the shedding defaults
(`FLUX_REMIX_MAX_INFLIGHT=64`, `FLUX_REMIX_MAX_WAITING=128`) and with bounds so large that
nothing is shed (what every release before did). For each, `--requests` POSTs to
`/v1/images/generations` are sent at once (aiohttp, one connection each, 60 s client timeout),
and the table says how many were admitted (200) and refused (503), their latency percentiles
from the client, and how many failed otherwise or timed out. The targets (issue 22): admitted
p99 under 1 s, refused answered within 50 ms, nothing times out.

    .venv/bin/python -m bench.shedding [--requests 1000] [--latency 0.05] [--rounds 2]

The machine's other load moves absolute numbers: compare the two rows of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from bench.gateway import servers

CONFIGS = {
    "shedding (64 running, 128 waiting)": {},
    "no shedding (bounds 100000)": {
        "FLUX_REMIX_MAX_INFLIGHT": "100000",
        "FLUX_REMIX_MAX_WAITING": "100000",
        "FLUX_REMIX_MAX_WAIT": "600",
    },
}


@dataclass
class Round:
    name: str
    admitted: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    failed: int = 0
    timed_out: int = 0
    wall: float = 0.0


def pct(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"


async def flood(url: str, requests: int, name: str) -> Round:
    result = Round(name)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=60)
    headers = {"Authorization": f"Bearer {servers.KEY}"}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i: int) -> None:
            body = {"prompt": servers.PROMPT, "size": "512x512", "seed": i}
            started = time.perf_counter()
            try:
                async with session.post(
                    f"{url}/v1/images/generations", json=body, headers=headers
                ) as r:
                    await r.read()
                    seconds = time.perf_counter() - started
                    if r.status == 200:
                        result.admitted.append(seconds)
                    elif r.status == 503 and "Retry-After" in r.headers:
                        result.refused.append(seconds)
                    else:
                        result.failed += 1
            except TimeoutError:
                result.timed_out += 1
            except aiohttp.ClientError:
                result.failed += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        result.wall = time.perf_counter() - started
    return result


def table(rounds: list[Round]) -> str:
    head = [
        "configuration",
        "admitted",
        "refused",
        "failed",
        "timed out",
        "admitted p50/p99 ms",
        "refused p50/p99/max ms",
        "wall s",
    ]
    rows = [head]
    for r in rounds:
        refused_max = f"{max(r.refused) * 1000:.0f}" if r.refused else "-"
        rows.append(
            [
                r.name,
                str(len(r.admitted)),
                str(len(r.refused)),
                str(r.failed),
                str(r.timed_out),
                f"{pct(r.admitted, 0.5)}/{pct(r.admitted, 0.99)}",
                f"{pct(r.refused, 0.5)}/{pct(r.refused, 0.99)}/{refused_max}",
                f"{r.wall:.1f}",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


async def main(requests: int, latency: float, rounds: int) -> None:
    results: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="flux-shedding-") as tmp:
        work = Path(tmp)
        upstream = servers.start_upstream(work, latency)
        try:
            for n in range(rounds):  # the configurations interleaved, each on a fresh server
                for name, extra in CONFIGS.items():
                    data = work / f"{n}-{len(results)}"
                    app = servers.start_flux_remix(work, upstream, data, **extra)
                    try:
                        await flood(app.url, 50, "warm-up")
                        results.append(await flood(app.url, requests, name))
                    finally:
                        app.stop()
        finally:
            upstream.stop()
    print(
        f"shedding: {requests} concurrent POST /v1/images/generations, upstream latency "
        f"{latency * 1000:.0f} ms, {rounds} round(s) interleaved"
    )
    print(table(results))
    admitted = [s for r in results if "no shedding" not in r.name for s in r.admitted]
    if admitted:
        print(f"shedding, all rounds: admitted median {statistics.median(admitted) * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="upstream seconds per image")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.latency, args.rounds))
