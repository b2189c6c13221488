"""The embedded store's write path alone (SQLite + pack files), and reads while it writes:
interleaved A/B of two source trees, each run in a fresh process.

    git archive <commit> src | tar -x -C /tmp/base      # the tree to compare with
    .venv/bin/python -m bench.storage_writes --base /tmp/base/src [--pairs 4] [--seconds 5]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]   # PostgreSQL + packs

Each run opens the store as the server does (`open_storage`, a fresh data directory) and
measures, through `ImageStore`'s public methods only:
- **lone saves**: one 175 KB image at a time, 20 ms apart (c=1's idleness between requests);
- **64 savers**: 64 tasks saving back to back (c=64's group commits): saves/s and latency;
- **reads meanwhile**: one task asking for a stored image by cache key and for a history page
  while the 64 savers run: how long a read waits behind the batches' fsyncs.
Without `--base` it measures this checkout once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IMAGE_BYTES = 175_000  # a 1024x1024 JPEG from FLUX.1 schnell, about


def record(data: bytes, cache_key: str | None = None) -> Any:
    from flux_remix.storage import ImageRecord, blob_key_for

    image_id = uuid.uuid4().hex
    return ImageRecord(
        id=image_id, generation_id=uuid.uuid4().hex, created_us=time.time_ns() // 1000,
        key_id="key_bench", model="@cf/black-forest-labs/flux-1-schnell",
        model_name="FLUX.1 [schnell]", prompt="a fox", translated_prompt="a fox",
        enhanced_prompt=None, final_prompt="a fox", translator="none",
        params={"width": 1024, "height": 1024, "seed": 1, "steps": 4}, seed=1, width=1024,
        height=1024, format="jpeg", bytes=len(data), sha256="", account="cf-1", neurons=9.6,
        timings={"translate_ms": 0.0, "generate_ms": 50.0}, blob_key=blob_key_for(image_id, "jpeg"),
        cache_key=cache_key,
    )  # fmt: skip


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


async def measure(seconds: float, database_url: str | None) -> dict[str, float]:
    from flux_remix.settings import load_settings
    from flux_remix.storage import HistoryQuery, open_storage

    data = os.urandom(IMAGE_BYTES)
    with tempfile.TemporaryDirectory(prefix="flux-bench-store-") as tmp:
        env = {"FLUX_REMIX_DATA_DIR": tmp, "CF_ACCOUNT_LIST": "[]"}
        if database_url:
            env["DATABASE_URL"] = database_url
        settings = load_settings(env)
        async with open_storage(settings) as store:
            await store.save(record(data, "v1:bench"), data)
            lone: list[float] = []
            ends = time.monotonic() + seconds
            while time.monotonic() < ends:
                await asyncio.sleep(0.02)
                t0 = time.perf_counter()
                await store.save(record(data), data)
                lone.append((time.perf_counter() - t0) * 1000)

            saves: list[float] = []
            reads: list[float] = []
            stop = time.monotonic() + seconds

            async def saver() -> None:
                while time.monotonic() < stop:
                    t0 = time.perf_counter()
                    await store.save(record(data), data)
                    saves.append((time.perf_counter() - t0) * 1000)

            async def reader() -> None:
                while time.monotonic() < stop:
                    t0 = time.perf_counter()
                    found = await store.cached("v1:bench")
                    await store.history(HistoryQuery(limit=20))
                    reads.append((time.perf_counter() - t0) * 1000)
                    assert found is not None
                    await asyncio.sleep(0.005)

            started = time.monotonic()
            await asyncio.gather(reader(), *(saver() for _ in range(64)))
            elapsed = time.monotonic() - started
    return {
        "lone p50": statistics.median(lone),
        "lone p90": percentile(lone, 0.9),
        "saves/s": len(saves) / elapsed,
        "save p50": statistics.median(saves),
        "save p99": percentile(saves, 0.99),
        "read p50": statistics.median(reads),
        "read p99": percentile(reads, 0.99),
    }


def run_tree(src: Path, seconds: float, database_url: str | None) -> dict[str, float]:
    """One fresh process measuring the tree whose package is under `src` (on a PostgreSQL
    schema of its own when `database_url` is given)."""
    env = {**os.environ, "PYTHONPATH": f"{src}:{ROOT}"}
    command = [sys.executable, "-m", "bench.storage_writes", "--measure", str(seconds)]
    with fresh_schema(database_url) as url:
        if url:
            command += ["--database-url", url]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


@contextlib.contextmanager
def fresh_schema(database_url: str | None) -> Iterator[str | None]:
    """`database_url` with its search_path on a new schema, dropped afterwards."""
    if not database_url:
        yield None
        return
    import psycopg

    schema = f"flux_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        separator = "&" if "?" in database_url else "?"
        yield f"{database_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="the other tree's src/ (A/B)")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5, help="per phase")
    parser.add_argument("--database-url", help="PostgreSQL instead of SQLite (a schema per run)")
    parser.add_argument("--measure", type=float, help=argparse.SUPPRESS)  # one run, as JSON
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(asyncio.run(measure(args.measure, args.database_url))))
        return
    trees = {"this": ROOT / "src"}
    if args.base:
        trees = {"base": args.base.resolve(), **trees}
    pairs = args.pairs if args.base else 1
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for n in range(pairs):
        for name in list(trees) if n % 2 == 0 else list(reversed(trees)):
            runs[name].append(run_tree(trees[name], args.seconds, args.database_url))
            print(f"  measured pair {n + 1} {name}", flush=True)
    names = list(next(iter(runs.values()))[0])
    meta = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n### Storage write path, {meta} + packs, {args.seconds:g} s per phase (ms, or /s)\n")
    print("| run | tree | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for name, figures in runs.items():
        for i, one in enumerate(figures):
            print(f"| {i + 1} | {name} | " + " | ".join(f"{one[k]:.2f}" for k in names) + " |")
    for name, figures in runs.items():
        medians = [statistics.median(one[k] for one in figures) for k in names]
        print(f"| median | {name} | " + " | ".join(f"{m:.2f}" for m in medians) + " |")


if __name__ == "__main__":
    main()
