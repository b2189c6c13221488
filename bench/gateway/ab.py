"""Interleaved A/B: `rounds`' figures for two source trees, alternating in the same minutes.

    git archive <commit> src | tar -x -C /tmp/base      # the tree to compare with
    .venv/bin/python -m bench.gateway.ab --base /tmp/base/src [--pairs 4] [--seconds 8]

On a shared VM one process can run 20-40% slower than the next for its whole life, and the
load of everything else on the machine drifts over minutes, so two trees are compared only
side by side: each pair starts a fresh flux-remix from the base tree and one from this checkout
(which goes first alternates), each measured like a `rounds` round. Prints every run and the
median of each figure per tree; both trees run with this checkout's installed dependencies.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.gateway import paths, report, servers
from bench.gateway.__main__ import one_round


def program(src: Path) -> tuple[str, ...]:
    """`flux-remix serve` with `src`'s flux_remix package first on the path."""
    launch = "from flux_remix.cli import main; main()"
    pythonpath = f"PYTHONPATH={src}:{servers.ROOT}"
    return ("env", pythonpath, str(servers.PYTHON), "-c", launch, "serve")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other tree's src/")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8, help="per measured run")
    parser.add_argument("--warmup", type=float, default=3, help="per process, before measuring")
    parser.add_argument("--latency", type=float, default=0.05, help="upstream delay, seconds")
    args = parser.parse_args()
    trees = {"base": args.base.resolve(), "this": servers.ROOT / "src"}
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="flux-bench-ab-") as tmp:
        work = Path(tmp)
        upstream = servers.start_upstream(work, args.latency)
        try:
            direct = paths.direct_workers_ai(upstream)
            for n in range(args.pairs):
                order = list(trees) if n % 2 == 0 else list(reversed(trees))
                for name in order:
                    data = work / f"{name}-{n}"
                    app = servers.start_flux_remix(work, upstream, data, program(trees[name]))
                    c1, rps, p99, one, many = one_round(args, app, direct)
                    figures[name].append((c1, rps, p99))
                    rows.append([n + 1, name, f"{c1:+.2f}", one[7], f"{rps:,.0f}",
                                 f"{p99:+.1f}", many[7]])  # fmt: skip
                    print(f"  measured pair {n + 1} {name}", flush=True)
        finally:
            upstream.stop()
    for name, runs in figures.items():
        c1, rps, p99 = (statistics.median(column) for column in zip(*runs, strict=True))
        rows.append(["median", name, f"{c1:+.2f}", "-", f"{rps:,.0f}", f"{p99:+.1f}", "-"])
    header = ("pair", "tree", "added p50 c=1 ms", "CPU ms/req c=1", "req/s c=64",
              "added p99 c=64 ms", "CPU ms/req c=64")  # fmt: skip
    print(report.table(f"A/B, b64_json, {args.seconds:g} s per run", header, rows))


if __name__ == "__main__":
    main()
