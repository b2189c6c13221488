"""Storage benchmark: what storing, the cache and history cost, over real HTTP.

The app (uvicorn, in this process) talks to the Workers AI emulator (also in this process, with
no added latency), so the numbers are flux-remix's own work: a fresh image (upstream call,
store: fsynced blob + committed row), the same request answered from the cache, serving an
image, a history page and a history text search.

    .venv/bin/python bench/storage.py [--requests 100]
        [--database-url postgresql://...] [--object-store-url http://127.0.0.1:8333
         --access-key KEY --secret-key SECRET]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable

import httpx
import uvicorn

from flux_remix.emulator import EmulatorConfig, EmulatorServer
from flux_remix.settings import load_settings
from flux_remix.web import create_app

KEY = "bench-key-0123456789"
BODY = {"model": "SD-XL-Lightning-CF", "width": 512, "height": 512}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(n: int, call: Callable[[int], None]) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def row(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"| {name:<34} | {len(ms):>5} | {statistics.median(ms):>8.1f} | {p95:>8.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database-url")
    parser.add_argument("--object-store-url")
    parser.add_argument("--access-key")
    parser.add_argument("--secret-key")
    args = parser.parse_args()
    config = EmulatorConfig.demo(daily_neurons=10_000_000)
    with EmulatorServer(config) as emulator, tempfile.TemporaryDirectory() as data:
        accounts = [{"account_id": a, "token": t} for a, t in config.accounts.items()]
        env = {
            "CF_ACCOUNT_LIST": json.dumps(accounts),
            "CF_API_BASE": emulator.base_url,
            "FLUX_REMIX_DATA_DIR": data,
            "FLUX_REMIX_DAILY_NEURONS": "10000000",
            "API_KEY": KEY,
        }
        backend = "sqlite + disk"
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
            backend = "postgresql"
        if args.object_store_url:
            env.update(
                OBJECT_STORE_URL=args.object_store_url,
                OBJECT_STORE_ACCESS_KEY=args.access_key or "",
                OBJECT_STORE_SECRET_KEY=args.secret_key or "",
                OBJECT_STORE_BUCKET="flux-remix-bench",
            )
            backend += " + s3"
        elif args.database_url:
            backend += " + disk"
        port = free_port()
        app = create_app(load_settings(env))
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        n = args.requests
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=60,
        ) as c:
            urls: list[str] = []

            def fresh(i: int) -> None:
                r = c.post("/api/v1/images", json={"prompt": f"bench {i}", "seed": i, **BODY})
                urls.append(r.json()["images"][0]["url"])

            def hit(i: int) -> None:
                r = c.post("/api/v1/images", json={"prompt": f"bench {i}", "seed": i, **BODY})
                assert r.json()["cache"] == "hit"

            def url_hit(i: int) -> None:
                body = {"prompt": f"bench {i}", "seed": i, "response_format": "url", **BODY}
                assert c.post("/api/v1/images", json=body).json()["cache"] == "hit"

            rows = [
                row("generate, new image (stored)", timed(n, fresh)),
                row("generate, cache hit (base64)", timed(n, hit)),
                row("generate, cache hit (url)", timed(n, url_hit)),
                row(
                    "GET /images/{id}",
                    timed(n, lambda i: c.get(httpx.URL(urls[i]).path).raise_for_status()),
                ),
                row(
                    "GET /api/v1/images (50 rows)",
                    timed(n, lambda i: c.get("/api/v1/images").raise_for_status()),
                ),
                row(
                    "GET /api/v1/images?q=… (search)",
                    timed(n, lambda i: c.get("/api/v1/images", params={"q": f"bench {i}"})),
                ),
            ]
        server.should_exit = True
        thread.join(timeout=10)
    print(f"\nStorage benchmark: {backend}, {BODY['width']}x{BODY['height']} images, serial\n")
    print(f"| {'operation':<34} | {'n':>5} | {'p50 ms':>8} | {'p95 ms':>8} |")
    print(f"|{'-' * 36}|{'-' * 7}|{'-' * 10}|{'-' * 10}|")
    for line in rows:
        print(line)


if __name__ == "__main__":
    main()
