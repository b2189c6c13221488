"""Jobs benchmark: does the durable job path cost the product speed?

Starts the fixed-delay upstream (bench.gateway.upstream, 50 ms per image) and `flux-remix
serve` per store, embedded (SQLite job store) and with Redis (`REDIS_URL`, Redis Streams
store), optionally each from another source tree too (`--base-src OTHER/src`, the A/B: same
installed dependencies, that tree's code), then measures, interleaving the paths so that a busy
machine slows both alike:

- c=1: on each server, the synchronous `POST /api/v1/images` (response_format url) against
  `POST /api/v1/jobs` followed by its event stream until the `result` event, request by request;
- c=64: on each server, the synchronous path and jobs (submit → result event), each for
  `--seconds` after `--warmup` seconds of the same load; `--rounds` alternates them again.

`--worker-processes N` adds a Redis configuration whose `serve` runs no workers
(`FLUX_REMIX_WORKERS=0`) and N `flux-remix worker` processes beside it that run the jobs.

    .venv/bin/python -m bench.jobs [--requests 200] [--seconds 10] [--base-src PATH]
        [--stores embedded redis] [--worker-processes 2] [--redis redis://127.0.0.1:6379/0]

The client (bench/rawhttp.py) is raw HTTP/1.1 on kept-alive connections under uvloop, one
connection per concurrent caller (submit and event stream on it one after the other); its CPU
per job is printed beside the server's (every flux-remix process of the configuration) and
Redis's, since they all share the machine's cores. Prints Markdown tables with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
import uvloop
from bench import rawhttp
from bench.gateway import report, servers
from bench.gateway.ab import program
from bench.gateway.servers import KEY, PROMPT, Server

BODY = {"prompt": PROMPT, "model": "FLUX.1-Schnell-CF", "response_format": "url"}
ERRORS = (rawhttp.HttpError, OSError, asyncio.IncompleteReadError, ValueError)
JOB_ENV = {"FLUX_REMIX_JOBS_PER_KEY": "1024"}


@dataclass
class App:
    """One configuration under test: its `serve` and any worker processes beside it."""

    name: str
    server: Server
    workers: list[Server] = field(default_factory=list)
    redis_url: str = ""

    @property
    def host(self) -> tuple[str, int]:
        host, port = self.server.url.removeprefix("http://").split(":")
        return host, int(port)

    def cpu_seconds(self) -> float:
        return sum(s.cpu_seconds() for s in (self.server, *self.workers))

    def stop(self) -> None:
        for s in (*self.workers, self.server):
            s.stop()


class Client:
    """Pre-encoded requests for one app; a caller's one round of a path on its connection."""

    def __init__(self, app: App) -> None:
        self.app = app
        host, port = app.host
        self.host = f"{host}:{port}"
        self.sync_request = rawhttp.post(self.host, "/api/v1/images", KEY, BODY)
        self.submit_request = rawhttp.post(self.host, "/api/v1/jobs", KEY, BODY)

    async def connect(self) -> rawhttp.Connection:
        return await rawhttp.Connection.open(*self.app.host)

    async def sync_once(self, conn: rawhttp.Connection) -> float:
        t0 = time.perf_counter()
        status, _ = await conn.call(self.sync_request)
        if status != 200:
            raise rawhttp.HttpError(f"images answered {status}")
        return (time.perf_counter() - t0) * 1000

    async def job_once(self, conn: rawhttp.Connection) -> float:
        """Submit, then read the event stream until the final event: ms from submit to it."""
        t0 = time.perf_counter()
        status, body = await conn.call(self.submit_request)
        if status != 202:
            raise rawhttp.HttpError(f"submit answered {status}: {body[:200]!r}")
        job, last = rawhttp.job_id(body)
        seen = await conn.follow(rawhttp.events_request(self.host, KEY, job, last))
        return (seen - t0) * 1000

    def path(self, job: bool) -> Callable[[rawhttp.Connection], object]:
        return self.job_once if job else self.sync_once


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def label(name: str, job: bool) -> str:
    return f"{name}: " + ("job" if job else "POST /api/v1/images (sync)")


async def latency(apps: list[App], requests: int) -> list[list[object]]:
    """Per app: the synchronous path and the job path, interleaved request by request."""
    clients = [Client(app) for app in apps]
    conns = [await c.connect() for c in clients]
    samples: dict[tuple[str, bool], list[float]] = {}
    for _ in range(10):  # warm up every path
        for client, conn in zip(clients, conns, strict=True):
            await client.sync_once(conn)
            await client.job_once(conn)
    for _ in range(requests):  # interleaved: each round measures every path once
        for client, conn in zip(clients, conns, strict=True):
            for job in (False, True):
                ms = await (client.job_once if job else client.sync_once)(conn)
                samples.setdefault((client.app.name, job), []).append(ms)
    for conn in conns:
        conn.close()
    rows: list[list[object]] = []
    for (name, job), values in samples.items():
        p50 = statistics.median(values)
        base = statistics.median(samples[(name, False)])
        extra = f"{p50 - base:+.1f}" if job else "-"
        rows.append(
            [label(name, job), len(values), p50, pct(values, 0.95), pct(values, 0.99), extra]
        )
    return rows


def redis_cpu(url: str) -> float:
    if not url:
        return 0.0
    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def throughput(
    app: App, job: bool, seconds: float, warmup: float, concurrency: int
) -> list[object]:
    client = Client(app)
    conns = [await client.connect() for _ in range(concurrency)]
    done: list[float] = []
    errors = 0
    measuring = False
    stop = time.monotonic() + warmup + seconds
    once = client.job_once if job else client.sync_once

    async def loop(index: int) -> None:
        nonlocal errors
        while time.monotonic() < stop:
            try:
                ms = await once(conns[index])
            except ERRORS:
                errors += measuring
                conns[index].close()
                conns[index] = await client.connect()
                continue
            if measuring:
                done.append(ms)

    tasks = [asyncio.create_task(loop(i)) for i in range(concurrency)]
    await asyncio.sleep(warmup)
    measuring = True
    cpu, redis_before = time.process_time(), redis_cpu(app.redis_url)
    serve_cpu, server_cpu = app.server.cpu_seconds(), app.cpu_seconds()
    t0 = time.monotonic()
    await asyncio.sleep(max(0.0, stop - time.monotonic()))
    elapsed = time.monotonic() - t0
    measuring = False
    counted = len(done)
    client_ms = (time.process_time() - cpu) / max(counted, 1) * 1000
    server_ms = (app.cpu_seconds() - server_cpu) / max(counted, 1) * 1000
    serve_ms = (app.server.cpu_seconds() - serve_cpu) / max(counted, 1) * 1000
    server = f"{server_ms:.2f}"
    if app.workers:  # serve's share, then the worker processes'
        server += f" ({serve_ms:.2f} + {server_ms - serve_ms:.2f})"
    redis_ms = (redis_cpu(app.redis_url) - redis_before) / max(counted, 1) * 1000
    await asyncio.gather(*tasks)
    for conn in conns:
        conn.close()
    return [
        label(app.name, job),
        concurrency,
        counted,
        errors,
        counted / elapsed,
        pct(done, 0.5),
        pct(done, 0.99),
        server,
        f"{redis_ms:.2f}" if app.redis_url else "-",
        f"{client_ms:.2f}",
        load(),
    ]


def start_apps(args: argparse.Namespace, work: Path, upstream: Server) -> list[App]:
    trees: dict[str, tuple[str, ...] | None] = {"": None}
    if args.base_src:
        trees = {"this": None, "base": program(Path(args.base_src).resolve())}
    apps: list[App] = []
    for tree, prog in trees.items():
        for store in args.stores:
            name = f"{tree} {store}".strip()
            env = dict(JOB_ENV, FLUX_REMIX_WORKERS=str(args.workers))
            redis_url = ""
            if store == "redis":
                redis_url = args.redis
                env |= {
                    "REDIS_URL": redis_url,
                    "REDIS_PREFIX": f"bench-jobs-{uuid.uuid4().hex[:8]}:",
                }
            apps.append(start(name, work, upstream, prog, env, redis_url))
        if args.worker_processes:
            name = f"{tree} redis, serve + {args.worker_processes} worker processes".strip()
            env = dict(JOB_ENV, REDIS_URL=args.redis, FLUX_REMIX_WORKERS="0")
            env["REDIS_PREFIX"] = f"bench-jobs-{uuid.uuid4().hex[:8]}:"
            app = start(name, work, upstream, prog, env, args.redis)
            worker_env = dict(env, FLUX_REMIX_WORKERS=str(args.workers))
            for n in range(args.worker_processes):
                app.workers.append(start_worker(work, upstream, prog, worker_env, app, n))
            apps.append(app)
    return apps


def start(
    name: str,
    work: Path,
    upstream: Server,
    prog: tuple[str, ...] | None,
    env: dict[str, str],
    redis_url: str,
) -> App:
    slug = name.replace(" ", "-").replace(",", "").replace("+", "")
    (work / slug).mkdir()
    extra = {} if prog is None else {"program": prog}
    server = servers.start_flux_remix(work / slug, upstream, work / f"{slug}-data", **extra, **env)
    return App(name, server, redis_url=redis_url)


def start_worker(
    work: Path,
    upstream: Server,
    prog: tuple[str, ...] | None,
    env: dict[str, str],
    app: App,
    n: int,
) -> Server:
    """A `flux-remix worker` beside `app`'s serve (its own data directory: the images it makes
    are kept there, as a worker host's would be without shared storage)."""
    import subprocess

    command = [*(prog or (str(servers.ROOT / ".venv" / "bin" / "flux-remix"), "serve"))]
    command[-1] = "worker"
    data = work / f"worker-{n}-{uuid.uuid4().hex[:6]}"
    full = {"PYTHONPATH": str(servers.ROOT), **servers.flux_remix_env(upstream, data, **env)}
    log = work / f"{data.name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=work, env={**os.environ, **full}, stdout=out, stderr=subprocess.STDOUT
        )
    time.sleep(3)  # no HTTP to probe: it logs once its workers run
    if process.poll() is not None:
        raise RuntimeError(f"worker exited: {log.read_text()[-3000:]}")
    return Server(f"worker-{n}", app.server.url, process, log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="c=1 rounds")
    parser.add_argument("--seconds", type=float, default=10.0, help="each c=64 run")
    parser.add_argument("--warmup", type=float, default=2.0, help="before each c=64 run")
    parser.add_argument("--rounds", type=int, default=1, help="c=64 runs of each path")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=128, help="FLUX_REMIX_WORKERS")
    parser.add_argument("--stores", nargs="*", default=["embedded", "redis"])
    parser.add_argument("--worker-processes", type=int, default=0)
    parser.add_argument("--base-src", default="", help="another tree's src/ to compare with")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--skip-c1", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        work = Path(tmp)
        upstream = servers.start_upstream(work, 0.05)
        apps: list[App] = []
        try:
            apps = start_apps(args, work, upstream)
            if not args.skip_c1:
                print(f"measuring c=1 … (load {load()})", flush=True)
                rows = uvloop.run(latency(apps, args.requests))
                print(
                    report.table(
                        f"c=1: submit → final event against the synchronous path (load {load()})",
                        ("server: path", "n", "p50 ms", "p95 ms", "p99 ms", "p50 vs sync ms"),
                        rows,
                    )
                )
            print(f"measuring c={args.concurrency} …", flush=True)
            runs: list[list[object]] = []
            for _ in range(args.rounds):
                for app in apps:
                    for job in (False, True):
                        row = uvloop.run(
                            throughput(app, job, args.seconds, args.warmup, args.concurrency)
                        )
                        print("  ", row, flush=True)
                        runs.append(row)
            header = ("server: path", "c", "done", "errors", "per s", "p50 ms", "p99 ms")
            header += ("server CPU ms/each", "Redis CPU ms/each", "client CPU ms/each", "load")
            print(
                report.table(
                    f"c={args.concurrency}: completed per second (submit → final event for jobs)",
                    header,
                    runs,
                )
            )
        finally:
            for app in apps:
                app.stop()
            upstream.stop()


if __name__ == "__main__":
    main()
