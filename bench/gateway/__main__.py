"""Gateway benchmark: overhead, throughput, memory, cache hits and history, in one run.

Every server runs in its own process on 127.0.0.1: the upstream (the Workers AI emulator with a
fixed delay, see upstream.py), flux-remix (`flux-remix serve`, one process, storage on: SQLite
and files in a temporary data directory, every image persisted before it is answered) and the
LiteLLM proxy (from `.venv-litellm`, made by scripts/litellm-venv). `wrk` is the load.

    .venv/bin/python -m bench.gateway [--seconds 20] [--rounds 3]
        [--sections overhead,rounds,memory,cache,history]

Prints Markdown tables; docs/performance.md holds a run and what it means.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from bench.gateway import history, load, paths, report, servers
from bench.gateway.paths import Target
from bench.gateway.servers import KEY, Server

SECTIONS = ("overhead", "rounds", "memory", "cache", "history")


def measure(path: Target, gateway: Server | None, connections: int, seconds: float) -> list[object]:
    """One wrk run as a table row: latency, rate, errors, and the gateway's CPU per request."""
    cpu = gateway.cpu_seconds() if gateway else 0.0
    result = load.run(path.request, connections=connections, seconds=seconds)
    used = (gateway.cpu_seconds() - cpu) if gateway else 0.0
    per_request = f"{used / result.requests * 1000:.2f}" if gateway and result.requests else "-"
    return [path.name, connections, result.p50, result.p95, result.p99, result.rps,
            result.errors, per_request]  # fmt: skip


RUN_HEADER = ("path", "c", "p50 ms", "p95 ms", "p99 ms", "req/s", "errors", "gateway CPU ms/req")


def overhead(args: argparse.Namespace, work: Path, upstream: Server) -> str:
    out = []
    app = servers.start_flux_remix(work, upstream, work / "overhead-data")
    proxy = servers.start_litellm(work, upstream) if args.litellm else None
    try:
        direct = [paths.direct_workers_ai(upstream), paths.direct_openai(upstream)]
        ours = [
            paths.openai_images(app, "b64_json"),
            paths.openai_images(app, "url"),
            paths.original_image(app),
        ]
        theirs = [paths.litellm(proxy)] if proxy else []
        gateway_of = {p.name: (app if p in ours else proxy) for p in ours + theirs}
        for path in direct + ours + theirs:
            paths.check(path)
        # warm up: code paths, connection pools, and the 256 image subdirectories
        for path in ours + theirs:
            load.run(path.request, connections=16, seconds=args.warmup)
        rows: list[list[object]] = []
        for c in args.concurrency:
            for path in direct + ours + theirs:
                rows.append(measure(path, gateway_of.get(path.name), c, args.seconds))
                print(f"  measured {path.name} c={c}", flush=True)
        out.append(table_runs("Latency and throughput (all paths, same upstream)", rows))
        out.append(overhead_table(rows, direct, ours, theirs, args.concurrency))
        memory_rows = [("flux-remix", app.memory_mib("VmHWM"), app.memory_mib())]
        if proxy:
            memory_rows.append(("LiteLLM proxy", proxy.memory_mib("VmHWM"), proxy.memory_mib()))
        out.append(
            report.table(
                "Gateway memory after the runs above",
                ("gateway", "peak RSS MiB", "RSS now MiB"),
                memory_rows,
            )
        )
    finally:
        app.stop()
        if proxy:
            proxy.stop()
    return "\n".join(out)


def table_runs(title: str, rows: list[list[object]]) -> str:
    return report.table(title, RUN_HEADER, rows)


def overhead_table(
    rows: list[list[object]],
    direct: list[Target],
    ours: list[Target],
    theirs: list[Target],
    concurrency: list[int],
) -> str:
    """path − direct (the direct call of the same shape), and each against LiteLLM."""
    by = {(str(r[0]), int(str(r[1]))): r for r in rows}

    def value(name: str, c: int, column: int) -> float:
        v = by[(name, c)][column]
        assert isinstance(v, float)
        return v

    baseline = {p.name: direct[0].name for p in ours} | {p.name: direct[1].name for p in theirs}
    out_rows = []
    top = max(concurrency)
    for path in ours + theirs:
        base = baseline[path.name]
        row: list[object] = [path.name]
        for c in concurrency:
            row.append(f"{value(path.name, c, 2) - value(base, c, 2):+.1f}")
        row.append(f"{value(path.name, top, 4) - value(base, top, 4):+.1f}")
        row.append(f"{value(path.name, top, 5):,.0f} / {value(base, top, 5):,.0f}")
        if theirs and path in ours:
            lite = theirs[0].name
            added = value(path.name, 1, 2) - value(base, 1, 2)
            lite_added = value(lite, 1, 2) - value(direct[1].name, 1, 2)
            row.append(f"{value(path.name, top, 5) / max(value(lite, top, 5), 0.1):.1f}x")
            row.append(f"{added / lite_added:.2f}x" if lite_added > 0 else "-")
        else:
            row += ["-", "-"]
        out_rows.append(row)
    header = ["path"] + [f"added p50 c={c} ms" for c in concurrency]
    header += [f"added p99 c={top} ms", f"req/s c={top} (direct)"]
    header += [f"req/s vs LiteLLM c={top}", "added p50 c=1 vs LiteLLM's"]
    return report.table("Overhead: path minus the direct call", header, out_rows)


def one_round(
    args: argparse.Namespace, app: Server, direct: Target
) -> tuple[float, float, float, list[object], list[object]]:
    """A fresh `app` measured, then stopped: added p50 at c=1, req/s and added p99 at c=64
    (each against a direct baseline measured just before), and the two wrk rows."""
    try:
        ours = paths.openai_images(app, "b64_json")
        paths.check(ours)
        load.run(ours.request, connections=16, seconds=args.warmup)
        base1 = load.run(direct.request, connections=1, seconds=args.seconds)
        one = measure(ours, app, 1, args.seconds)
        base64_ = load.run(direct.request, connections=64, seconds=args.seconds)
        many = measure(ours, app, 64, args.seconds)
    finally:
        app.stop()
    c1 = float(str(one[2])) - base1.p50
    p99 = float(str(many[4])) - base64_.p99
    return c1, float(str(many[5])), p99, one, many


def rounds(args: argparse.Namespace, work: Path, upstream: Server) -> str:
    """The targets' figures again, each round in a freshly started flux-remix: on a shared VM
    one process can run 20-40% slower than the next for its whole life (same code, same load),
    so one process's figures alone can mislead either way."""
    rows: list[list[object]] = []
    added_c1: list[float] = []
    rps_c64: list[float] = []
    added_p99: list[float] = []
    direct = paths.direct_workers_ai(upstream)
    for n in range(1, args.rounds + 1):
        app = servers.start_flux_remix(work, upstream, work / f"round-{n}-data")
        c1, rps, p99, one, many = one_round(args, app, direct)
        added_c1.append(c1)
        rps_c64.append(rps)
        added_p99.append(p99)
        rows.append([n, f"{c1:+.1f}", one[7], f"{rps:,.0f}", many[2], f"{p99:+.1f}", many[7]])
        print(f"  measured round {n}", flush=True)
    rows.append(
        [
            "median",
            f"{statistics.median(added_c1):+.1f}",
            "-",
            f"{statistics.median(rps_c64):,.0f}",
            "-",
            f"{statistics.median(added_p99):+.1f}",
            "-",
        ]
    )
    header = (
        "round (fresh process)",
        "added p50 c=1 ms",
        "CPU ms/req c=1",
        "req/s c=64",
        "p50 c=64 ms",
        "added p99 c=64 ms",
        "CPU ms/req c=64",
    )
    title = f"/v1/images/generations b64_json in {args.rounds} fresh processes (the targets)"
    return report.table(title, header, rows)


def memory(args: argparse.Namespace, work: Path, upstream: Server) -> str:
    """Peak RSS with 64 requests in flight, and RSS along 10,000 requests (growth = leak)."""
    app = servers.start_flux_remix(work, upstream, work / "memory-data")
    try:
        path = paths.openai_images(app, "b64_json")
        paths.check(path)
        idle = app.memory_mib()
        rows: list[list[object]] = [["idle, after start-up", 1, f"{idle:.1f}", "-"]]
        done = 1
        checkpoints = sorted({1_000, 5_000, args.leak_requests})
        while checkpoints:
            done += load.run(path.request, connections=64, seconds=5).requests
            if done >= checkpoints[0]:
                while checkpoints and done >= checkpoints[0]:
                    checkpoints.pop(0)
                rows.append([f"after {done:,} requests", done, f"{app.memory_mib():.1f}", "-"])
        peak = app.memory_mib("VmHWM")
        rows.append(["peak (VmHWM), 64 in flight", done, f"{peak:.1f}", "target ≤ 200 MB"])
        return report.table(
            "flux-remix memory (b64_json, 1024x1024 JPEG, c=64)",
            ("when", "requests", "RSS MiB", "note"),
            rows,
        )
    finally:
        app.stop()


def cache(args: argparse.Namespace, work: Path, upstream: Server) -> str:
    """A stored image asked for again (fixed seed): answered from storage, no upstream call.

    Lucid Origin (JPEG like schnell, 1024² here): schnell takes no seed, so it is never cached."""
    app = servers.start_flux_remix(work, upstream, work / "cache-data")
    try:
        rows: list[list[object]] = []
        for fmt in ("b64_json", "url"):
            path = paths.openai_images(app, fmt, seed=42, model="lucid-origin")
            answer = paths.check(path)  # the first is a miss or a hit; from here on, hits
            assert paths.check(path)["flux_remix"]["cache"] == "hit"
            for c in (1, 16):
                row = measure(path, app, c, args.seconds / 2)
                rows.append([f"{path.name} seed=42 (hit)", *row[1:]])
        url = answer["data"][0]["url"]
        image = Target("GET /images/{id}.jpg", load.Request(url), "raw")
        for c in (1, 16):
            rows.append(measure(image, app, c, args.seconds / 2))
        return table_runs("Cache hits: a stored image asked for again", rows)
    finally:
        app.stop()


def history_section(args: argparse.Namespace, work: Path, upstream: Server) -> str:
    out = []
    backends: list[tuple[str, str | None]] = [("SQLite", None)]
    postgres = args.database_url or history.find_postgres()
    if postgres:
        backends.append(("PostgreSQL", postgres))
    else:
        out.append("PostgreSQL not reachable on 127.0.0.1:5432: its history rows are skipped.\n")
    for name, url in backends:
        if url is None:
            out.append(_history_rows(args, work, upstream, name, None))
        else:
            with history.postgres_schema(url) as scoped:
                out.append(_history_rows(args, work, upstream, name, scoped))
    return "\n".join(out)


def _history_rows(
    args: argparse.Namespace, work: Path, upstream: Server, name: str, database_url: str | None
) -> str:
    data = work / f"history-{name.lower()}"
    extra = {"DATABASE_URL": database_url} if database_url else {}
    app = servers.start_flux_remix(work, upstream, data, **extra)
    try:
        paths.check(paths.openai_images(app, "url"))
        meta = _get(app, "/api/v1/images?limit=1")["images"][0]
        key_id = str(meta["key_id"])
        count = args.history_rows
        started = time.perf_counter()
        if database_url:
            history.seed_postgres(database_url, count, key_id)
        else:
            history.seed_sqlite(data / "flux-remix.sqlite3", count, key_id)
        seeded_s = time.perf_counter() - started
        print(f"  seeded {count:,} rows into {name} in {seeded_s:.1f} s", flush=True)
        cursor = history.middle_cursor(count, key_id)
        queries = {
            "newest 50": "/api/v1/images?limit=50",
            "50 from the middle (cursor)": f"/api/v1/images?limit=50&cursor={cursor}",
            "one model, 50": "/api/v1/images?limit=50&model=SD-XL-Lightning-CF",
            "text search, common word": "/api/v1/images?limit=50&q=lighthouse",
            "text search, rare word (1%)": "/api/v1/images?limit=50&q=zebra",
            "one image's metadata": f"/api/v1/images/{meta['id']}",
        }
        rows = []
        for what, query in queries.items():
            _get(app, query)  # a wrong query fails here, not as a column of errors
            path = Target(what, load.Request(app.url + query, key=KEY), "json")
            rows.append(measure(path, app, 1, args.seconds / 4))
        return table_runs(f"History with {count:,} stored rows: {name} (c=1)", rows)
    finally:
        app.stop()


def _get(app: Server, query: str) -> dict[str, object]:
    response = httpx.get(app.url + query, headers={"authorization": f"Bearer {KEY}"}, timeout=60)
    response.raise_for_status()
    answer: dict[str, object] = response.json()
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="per measured run")
    parser.add_argument("--warmup", type=float, default=5, help="per path, before measuring")
    parser.add_argument("--latency", type=float, default=0.05, help="upstream delay, seconds")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes, for the spread")
    parser.add_argument("--history-rows", type=int, default=100_000)
    parser.add_argument("--leak-requests", type=int, default=10_000)
    parser.add_argument("--database-url", help="PostgreSQL for history (default: local, if up)")
    parser.add_argument("--no-litellm", dest="litellm", action="store_false")
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    load.need_wrk()
    if args.litellm and not servers.litellm_available():
        print("LiteLLM is not installed (scripts/litellm-venv): its rows are skipped.")
        args.litellm = False
    runners: dict[str, Callable[[argparse.Namespace, Path, Server], str]] = {
        "overhead": overhead,
        "rounds": rounds,
        "memory": memory,
        "cache": cache,
        "history": history_section,
    }
    litellm = servers.litellm_version() if args.litellm else None
    print(report.environment(litellm), flush=True)
    print(f"upstream delay {args.latency * 1000:g} ms; {args.seconds:g} s per run\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="flux-remix-bench-") as tmp:
        work = Path(tmp)
        upstream = servers.start_upstream(work, args.latency)
        try:
            for section in sections:
                print(runners[section](args, work, upstream), flush=True)
        finally:
            upstream.stop()
    print(f"load average at the end: {report.load_average()}")


if __name__ == "__main__":
    main()
