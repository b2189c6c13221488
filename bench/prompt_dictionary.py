"""Offline translator benchmark: load time, memory, per-prompt latency and keyword coverage.

Runs the jieba + CC-CEDICT translator over tests/data/prompts_zh.jsonl (the same data and
scoring as the quality test) and prints one table per figure:

    .venv/bin/python bench/prompt_dictionary.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.prompts.keywords import load_cases, missing

from flux_remix.prompts.detect import has_cjk
from flux_remix.prompts.dictionary import DictionaryTranslator


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="passes over the data set")
    args = parser.parse_args()
    cases = load_cases()

    before = rss_mib()
    started = time.perf_counter()
    translator = DictionaryTranslator()
    translator.load_sync()
    load_s = time.perf_counter() - started
    after = rss_mib()

    outputs = [translator.translate_sync(c.prompt) for c in cases]
    timings: list[float] = []
    for _ in range(args.rounds):
        for case in cases:
            t0 = time.perf_counter()
            translator.translate_sync(case.prompt)
            timings.append((time.perf_counter() - t0) * 1000)

    total = sum(len(c.keywords) for c in cases)
    missed = sum(len(missing(c, out)) for c, out in zip(cases, outputs, strict=True))
    with_cjk = sum(1 for out in outputs if has_cjk(out))
    timings.sort()

    print("| figure | value |")
    print("|---|---|")
    print(f"| prompts | {len(cases)} |")
    print(
        f"| expected keywords covered | {(total - missed) / total:.1%} ({total - missed}/{total}) |"
    )
    print(f"| outputs with CJK left | {with_cjk} |")
    print(f"| first load (jieba + CC-CEDICT) | {load_s:.2f} s |")
    print(f"| peak RSS growth from loading | {after - before:.0f} MiB |")
    print(f"| translate, median | {statistics.median(timings):.2f} ms |")
    print(f"| translate, p99 | {timings[int(len(timings) * 0.99) - 1]:.2f} ms |")


if __name__ == "__main__":
    main()
