"""Where one request's time goes at concurrency 1: wall-clock stages inside flux-remix.

    .venv/bin/python -m bench.gateway.stages [--seconds 10]

Starts the benchmark's upstream and a flux-remix (storage on, as in the other sections) whose
process first wraps a few of its own functions with a clock (`--serve`, profiling only: the
wrapped names are this package's and its servers' internals, so a rename fails loudly here),
loads it with `wrk` at c=1 and prints the p50 of each stage of a request that generates and
stores one image. The stages follow each other, so they add up to the request's time in the
server; the wrk figures of the direct call and of the gateway are printed beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import itertools
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.gateway import load, paths, report, servers

# (mark, what happened since the mark before it), in the order one request passes them
STAGES = (
    ("request", "request bytes arrive"),
    ("generate", "HTTP parse, middleware, body validation, API key"),
    ("upstream", "model limits, prompt pipeline (English: no LLM), account chosen"),
    ("answered", "upstream round trip (50 ms emulator delay + 235 KB answer)"),
    ("save", "base64 cut out and decoded, record built"),
    ("flush", "sha256, hand-off to the flush thread"),
    ("pack", "row INSERT (uncommitted)"),
    ("packed", "record copied to the aligned buffer and written (O_DIRECT)"),
    ("synced", "fdatasync of the pack"),
    ("committed", "row COMMIT (WAL fsync)"),
    ("saved", "back on the event loop"),
    ("sending", "answer built (JSON with the base64)"),
    ("sent", "answer written (235 KB)"),
)
MARKS = [name for name, _ in STAGES]
OUT_ENV = "FLUX_REMIX_STAGES_OUT"


def install_clock() -> list[tuple[str, float]]:
    """Wrap the functions at the stage boundaries; the marks they leave, in time order."""
    import uvicorn.protocols.http.httptools_impl as http

    from flux_remix import service
    from flux_remix.storage import packs, sqlite, store, writer
    from flux_remix.upstream import transport

    marks: list[tuple[str, float]] = []
    mark = marks.append
    clock = time.perf_counter

    def around(owner: Any, name: str, start: str | None, end: str | None = None) -> None:
        """Mark `start` as `owner.name` is called and `end` as it returns (or its awaitable
        completes, for a coroutine function)."""
        inner: Callable[..., Any] = getattr(owner, name)

        def plain(*args: Any, **kwargs: Any) -> Any:
            if start:
                mark((start, clock()))
            try:
                return inner(*args, **kwargs)
            finally:
                if end:
                    mark((end, clock()))

        async def awaited(*args: Any, **kwargs: Any) -> Any:
            if start:
                mark((start, clock()))
            try:
                return await inner(*args, **kwargs)
            finally:
                if end:
                    mark((end, clock()))

        setattr(owner, name, awaited if inspect.iscoroutinefunction(inner) else plain)

    around(http.HttpToolsProtocol, "data_received", "request")
    around(service.ImageService, "generate", "generate")
    around(transport.AiohttpTransport, "post", "upstream", "answered")
    around(store.ImageStore, "save", "save", "saved")
    around(writer.BatchWriter, "write", "flush")
    around(packs.Packs, "_write_run", "pack", "packed")
    around(packs.Packs, "_write_pack", None, "synced")
    staged = sqlite.SQLiteMetadataStore.staged

    @contextlib.contextmanager
    def timed_staged(self: Any, records: Any) -> Iterator[Callable[[Any], None]]:
        with staged(self, records) as commit:

            def timed_commit(keep: Any) -> None:
                try:
                    commit(keep)
                finally:
                    mark(("committed", clock()))

            yield timed_commit

    sqlite.SQLiteMetadataStore.staged = timed_staged  # type: ignore[assignment,method-assign]
    send = http.RequestResponseCycle.send

    async def timed_send(self: Any, message: Any) -> None:
        if message["type"] == "http.response.start":
            mark(("sending", clock()))
        await send(self, message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            mark(("sent", clock()))

    http.RequestResponseCycle.send = timed_send  # type: ignore[method-assign]
    return marks


def stage_table(marks: list[tuple[str, float]]) -> list[list[object]]:
    """The p50 and mean of each stage over the requests whose marks came in the exact order of
    `STAGES` (the first fifth dropped as warm-up); the last row is the whole request."""
    runs: list[list[float]] = []
    current: list[tuple[str, float]] = []
    for name, at in marks:
        if name == "request" and [n for n, _ in current] == ["request"]:
            continue  # the same request's body arriving in a second read
        current = [(name, at)] if name == "request" else [*current, (name, at)]
        if name == "sent":
            if [n for n, _ in current] == MARKS:
                runs.append([b - a for (_, a), (_, b) in itertools.pairwise(current)])
            current = []
    runs = runs[len(runs) // 5 :]
    if not runs:
        raise RuntimeError("no request passed every stage in order")
    rows: list[list[object]] = []
    for i, (_, what) in enumerate(STAGES[1:]):
        times = [run[i] * 1000 for run in runs]
        rows.append([what, f"{statistics.median(times):.3f}", f"{statistics.fmean(times):.3f}"])
    totals = [sum(run) * 1000 for run in runs]
    whole = "whole request in the server"
    rows.append([whole, f"{statistics.median(totals):.3f}", f"{statistics.fmean(totals):.3f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--latency", type=float, default=0.05, help="upstream delay, seconds")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.serve:  # inside the flux-remix process: the marks are written once it stops
        marks = install_clock()
        from flux_remix.cli import main as cli

        sys.argv = ["flux-remix", "serve", *rest]
        # uvicorn raises the SIGTERM it caught again once it has shut down; with the default
        # handler that would end the process before the `finally` below
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            cli()
        finally:
            Path(os.environ[OUT_ENV]).write_text(json.dumps(marks))
        return
    with tempfile.TemporaryDirectory(prefix="flux-remix-stages-") as tmp:
        work = Path(tmp)
        out = work / "stages.json"
        upstream = servers.start_upstream(work, args.latency)
        program = (str(servers.PYTHON), "-m", "bench.gateway.stages", "--serve")
        app = servers.start_flux_remix(
            work, upstream, work / "data", program, **{OUT_ENV: str(out)}
        )
        try:
            ours = paths.openai_images(app, "b64_json")
            direct = paths.direct_workers_ai(upstream)
            paths.check(ours)
            load.run(ours.request, connections=1, seconds=2)  # warm-up, same concurrency
            base = load.run(direct.request, connections=1, seconds=args.seconds)
            result = load.run(ours.request, connections=1, seconds=args.seconds)
        finally:
            app.stop()  # SIGTERM: the server finishes and writes its marks
            upstream.stop()
        rows = stage_table([(name, at) for name, at in json.loads(out.read_text())])
    print(
        report.table(
            f"One b64_json request at c=1, stage by stage (wrk: direct p50 {base.p50:.1f} ms, "
            f"flux-remix p50 {result.p50:.1f} ms, added {result.p50 - base.p50:+.1f} ms)",
            ("stage (since the one before)", "p50 ms", "mean ms"),
            rows,
        )
    )


if __name__ == "__main__":
    main()
