"""Jobs benchmark: does the durable job path cost the product speed?

Starts the fixed-delay upstream (bench.gateway.upstream, 50 ms per image) and `flux-remix
serve` twice, embedded (SQLite job store) and with Redis (`REDIS_URL`, Redis Streams store),
then measures, interleaving the paths so that a busy machine slows both alike:

- c=1: on each server, the synchronous `POST /api/v1/images` (response_format url) against
  `POST /api/v1/jobs` followed by its event stream until the `result` event;
- c=64: on each server, images/s of the synchronous path and jobs/s (submit → result event).

    .venv/bin/python -m bench.jobs [--requests 200] [--seconds 15] [--redis redis://127.0.0.1:6379/0]

Prints Markdown tables; docs/performance.md holds a run. The load generator is Python (httpx)
on the same 2 cores as the server, so c=64 figures are a floor, not the server's ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from bench.gateway import report, servers
from bench.gateway.servers import KEY, PROMPT, Server

BODY = {"prompt": PROMPT, "model": "FLUX.1-Schnell-CF", "response_format": "url"}
HEADERS = {"Authorization": f"Bearer {KEY}"}


async def sync_once(client: httpx.AsyncClient, app: Server) -> float:
    t0 = time.perf_counter()
    r = await client.post(f"{app.url}/api/v1/images", json=BODY, headers=HEADERS)
    r.raise_for_status()
    return (time.perf_counter() - t0) * 1000


async def job_once(client: httpx.AsyncClient, app: Server) -> float:
    """Submit, then read the event stream until the final event: ms from submit to result."""
    t0 = time.perf_counter()
    r = await client.post(f"{app.url}/api/v1/jobs", json=BODY, headers=HEADERS)
    r.raise_for_status()
    job = r.json()
    last = job["events"][-1]["id"]
    url = f"{app.url}/api/v1/jobs/{job['id']}/events"
    async with client.stream("GET", url, headers={**HEADERS, "Last-Event-ID": str(last)}) as s:
        async for line in s.aiter_lines():
            if line.startswith("event: ") and line[7:] in ("result", "failure"):
                if line[7:] == "failure":
                    raise RuntimeError("a job failed")
                break
    return (time.perf_counter() - t0) * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def latency(apps: dict[str, Server], requests: int) -> list[list[object]]:
    """Per server: the synchronous path and the job path, interleaved request by request."""
    samples: dict[tuple[str, str], list[float]] = {}
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(10):  # warm up every path
            for app in apps.values():
                await sync_once(client, app)
                await job_once(client, app)
        for _ in range(requests):  # interleaved: each round measures every path once
            for name, app in apps.items():
                samples.setdefault((name, "sync"), []).append(await sync_once(client, app))
                samples.setdefault((name, "job"), []).append(await job_once(client, app))
    rows: list[list[object]] = []
    for (name, kind), values in samples.items():
        label = f"{name}: " + ("POST /api/v1/images (sync)" if kind == "sync" else "job")
        p50 = statistics.median(values)
        base = statistics.median(samples[(name, "sync")])
        extra = "-" if kind == "sync" else f"{p50 - base:+.1f}"
        rows.append([label, len(values), p50, pct(values, 0.95), pct(values, 0.99), extra])
    return rows


async def throughput(app: Server, job: bool, seconds: float, concurrency: int) -> list[object]:
    done = 0
    errors = 0
    stop = time.monotonic() + seconds

    async def loop(client: httpx.AsyncClient) -> None:
        nonlocal done, errors
        while time.monotonic() < stop:
            try:
                await (job_once(client, app) if job else sync_once(client, app))
                done += 1
            except (httpx.HTTPError, RuntimeError):
                errors += 1

    limits = httpx.Limits(max_connections=concurrency * 2)
    cpu = time.process_time()
    server_cpu = app.cpu_seconds()
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        t0 = time.monotonic()
        await asyncio.gather(*(loop(client) for _ in range(concurrency)))
        elapsed = time.monotonic() - t0
    per = max(done, 1)
    client_ms = (time.process_time() - cpu) / per * 1000
    server_ms = (app.cpu_seconds() - server_cpu) / per * 1000
    return [concurrency, done, errors, done / elapsed, f"{server_ms:.1f}", f"{client_ms:.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="c=1 rounds")
    parser.add_argument("--seconds", type=float, default=15.0, help="each c=64 run")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="'' to skip")
    args = parser.parse_args()
    job_env = {"FLUX_REMIX_JOBS_PER_KEY": "1024", "FLUX_REMIX_WORKERS": "128"}
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        work = Path(tmp)
        upstream = servers.start_upstream(work, 0.05)
        apps: dict[str, Server] = {}
        try:
            (work / "e").mkdir()
            apps["embedded"] = servers.start_flux_remix(
                work / "e", upstream, work / "embedded-data", **job_env
            )
            if args.redis:
                (work / "r").mkdir()
                apps["redis"] = servers.start_flux_remix(
                    work / "r",
                    upstream,
                    work / "redis-data",
                    REDIS_URL=args.redis,
                    REDIS_PREFIX=f"bench-jobs-{uuid.uuid4().hex[:8]}:",
                    **job_env,
                )
            print("measuring c=1 …", flush=True)
            rows = asyncio.run(latency(apps, args.requests))
            print(
                report.table(
                    "c=1: submit → final event against the synchronous path (50 ms upstream)",
                    ("server: path", "n", "p50 ms", "p95 ms", "p99 ms", "p50 vs sync ms"),
                    rows,
                )
            )
            print(f"measuring c={args.concurrency} …", flush=True)
            runs: list[list[object]] = []
            for name, app in apps.items():
                for job, label in ((False, "POST /api/v1/images (sync)"), (True, "job")):
                    done = asyncio.run(throughput(app, job, args.seconds, args.concurrency))
                    runs.append([f"{name}: {label}", *done])
            print(
                report.table(
                    f"c={args.concurrency}: completed per second (submit → final event for jobs)",
                    (
                        "server: path",
                        "c",
                        "done",
                        "errors",
                        "per s",
                        "server CPU ms/each",
                        "client CPU ms/each",
                    ),
                    runs,
                )
            )
        finally:
            for app in apps.values():
                app.stop()
            upstream.stop()


if __name__ == "__main__":
    main()
