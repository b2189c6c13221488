"""Load-shedding benchmark: 1,000 concurrent generations against `flux-remix serve`.

The upstream is the Workers AI emulator in its own process (`bench.gateway.upstream`) taking
`--latency` (50 ms) per image. flux-remix runs as `serve` with the shedding defaults, optionally
from another source tree too (`--base-src OTHER/src`, the A/B), and with bounds so large that
nothing is shed (what every release before did; `--no-unbounded` leaves it out). For each,
`--requests` POSTs to `/v1/images/generations` are sent at once (aiohttp, one connection each,
60 s client timeout), and the table says how many were admitted (200) and refused (503), their
latency percentiles from the client, and how many failed otherwise or timed out; "sent→503" is a
refusal's time from its request's last byte written by the client to the answer (what is left
when the client's own lag in opening 1,000 connections is taken out), "server CPU" the serving
process's CPU during the flood divided by its requests. The targets (issue 22): admitted p99
under 1 s, refused answered within 50 ms, nothing times out.

Then, with `wrk` on the PATH, the CPU one refusal costs the server: each tree's server, its one
slot held by a generation whose upstream takes a minute and no line, gets `wrk`'s POSTs for
`--wrk-seconds` (every one refused), over kept-alive connections and with a connection each.

`--raw` floods from `raw_flood` instead (connections opened first, then the 1,000 requests
written in one pass): what the server does with 1,000 requests at once, without the aiohttp
client's own lag on the same cores. `--max-wait 1 0.5` adds this tree with those budgets.

    .venv/bin/python -m bench.shedding [--requests 1000] [--latency 0.05] [--rounds 2]
        [--base-src PATH] [--no-unbounded] [--raw] [--max-wait S ...] [--wrk-seconds 5]

The machine's other load moves absolute numbers (the load average is printed per round):
compare the rows of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import select
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import aiohttp
from bench.gateway import servers

UNBOUNDED = {
    "FLUX_REMIX_MAX_INFLIGHT": "100000",
    "FLUX_REMIX_MAX_WAITING": "100000",
    "FLUX_REMIX_MAX_WAIT": "600",
}


@dataclass
class Round:
    name: str
    admitted: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    refused_after_sent: list[float] = field(default_factory=list)
    failed: int = 0
    timed_out: int = 0
    wall: float = 0.0
    cpu_ms: float = 0.0  # the server's CPU per request during the flood
    load: str = ""  # the 1-minute load average before and after


def pct(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"


async def on_sent(
    _: aiohttp.ClientSession, context: SimpleNamespace, __: aiohttp.TraceRequestChunkSentParams
) -> None:
    context.trace_request_ctx["sent"] = time.perf_counter()


async def flood(url: str, requests: int, name: str) -> Round:
    result = Round(name)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=60)
    headers = {"Authorization": f"Bearer {servers.KEY}"}
    tracing = aiohttp.TraceConfig()
    tracing.on_request_chunk_sent.append(on_sent)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, trace_configs=[tracing]
    ) as session:

        async def one(i: int) -> None:
            body = {"prompt": servers.PROMPT, "size": "512x512", "seed": i}
            started = time.perf_counter()
            marks: dict[str, float] = {}
            try:
                async with session.post(
                    f"{url}/v1/images/generations",
                    json=body,
                    headers=headers,
                    trace_request_ctx=marks,
                ) as r:
                    await r.read()
                    now = time.perf_counter()
                    seconds = now - started
                    if r.status == 200:
                        result.admitted.append(seconds)
                    elif r.status == 503 and "Retry-After" in r.headers:
                        result.refused.append(seconds)
                        result.refused_after_sent.append(now - marks.get("sent", started))
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


async def raw_flood(url: str, requests: int, name: str) -> Round:
    """The same flood from a client that costs next to nothing per request: all connections
    are opened (and accepted by the server) first, then every request is written in one pass (a
    `send` each), then the answers are read by one `epoll` loop in a thread of its own, running
    at a higher CPU priority than the server and the upstream (it is root's bench), so that an
    answer is timed when it arrives rather than when a busy client gets round to it. A
    request's latency counts from its own write; the server meets 1,000 requests at once, not
    1,000 connections trickling in while the client opens them (what a connection costs the
    server: the refusal-cost table)."""
    host, port = url.removeprefix("http://").split(":")
    socks = []
    for _ in range(requests):
        sock = socket.create_connection((host, int(port)))
        sock.setblocking(False)
        socks.append(sock)

    def request(i: int) -> bytes:
        body = json.dumps({"prompt": servers.PROMPT, "size": "512x512", "seed": i}).encode()
        head = (
            f"POST /v1/images/generations HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {servers.KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        return head.encode() + body

    payloads = [request(i) for i in range(requests)]
    await asyncio.sleep(1.0)  # the server accepts them all before the first request is written
    return await asyncio.to_thread(_flood_and_read, socks, payloads, name)


def _flood_and_read(socks: list[socket.socket], payloads: list[bytes], name: str) -> Round:
    result = Round(name)
    with contextlib.suppress(PermissionError):  # not root: the client's lag stays in the figures
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -10)
    poll = select.epoll()
    fds = {sock.fileno(): i for i, sock in enumerate(socks)}
    received = [b""] * len(socks)
    started = time.perf_counter()
    sent = []
    for sock, payload in zip(socks, payloads, strict=True):
        sock.send(payload)  # ~300 bytes: the socket buffer takes it whole
        sent.append(time.perf_counter())
    for fd in fds:
        poll.register(fd, select.EPOLLIN)
    pending = len(socks)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for fd, _ in poll.poll(1.0):
            i = fds[fd]
            try:
                chunk = socks[i].recv(1 << 20)
            except OSError:
                chunk = b""
            now = time.perf_counter()
            received[i] += chunk
            done = _answered(received[i])
            if done is None and chunk:
                continue
            poll.unregister(fd)
            pending -= 1
            if done is None:
                result.failed += 1
            elif done == 200:
                result.admitted.append(now - sent[i])
            elif done == 503 and b"retry-after" in received[i].split(b"\r\n\r\n")[0].lower():
                result.refused.append(now - sent[i])
                result.refused_after_sent.append(now - sent[i])
            else:
                result.failed += 1
    result.timed_out = pending
    result.wall = time.perf_counter() - started
    poll.close()
    for sock in socks:
        sock.close()
    return result


def _answered(data: bytes) -> int | None:
    """The status of a whole answer in `data` (head and Content-Length body), else None."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    if len(body) < (int(length[1]) if length else 0):
        return None
    return int(head.split(b" ", 2)[1])


def table(rounds: list[Round]) -> str:
    head = [
        "configuration",
        "admitted",
        "refused",
        "failed",
        "timed out",
        "admitted p50/p99 ms",
        "refused p50/p99/max ms",
        "sent→503 p50/p99 ms",
        "server CPU ms/req",
        "wall s",
        "load 1m",
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
                f"{pct(r.refused_after_sent, 0.5)}/{pct(r.refused_after_sent, 0.99)}",
                f"{r.cpu_ms:.2f}",
                f"{r.wall:.1f}",
                r.load,
            ]
        )
    return render_rows(rows)


def configs(base_src: str | None, unbounded: bool, waits: list[str]) -> dict[str, dict[str, str]]:
    """Each configuration's name and the environment its `serve` gets."""
    found: dict[str, dict[str, str]] = {"shedding, this tree": {}}
    for wait in waits:
        found[f"shedding, this tree, MAX_WAIT={wait}"] = {"FLUX_REMIX_MAX_WAIT": wait}
    if base_src:  # the same defaults, the code from another tree (its src/ first on the path)
        found[f"shedding, {base_src}"] = {"PYTHONPATH": f"{base_src}{os.pathsep}{servers.ROOT}"}
    if unbounded:
        found["no shedding (bounds 100000)"] = UNBOUNDED
    return found


def load() -> float:
    return os.getloadavg()[0]


async def rounds_of(
    work: Path,
    upstream: servers.Server,
    chosen: dict[str, dict[str, str]],
    requests: int,
    n: int,
    raw: bool,
) -> list[Round]:
    results: list[Round] = []
    for i in range(n):  # the configurations interleaved, each on a fresh server
        for name, extra in chosen.items():
            app = servers.start_flux_remix(work, upstream, work / f"{i}-{len(results)}", **extra)
            try:
                await flood(app.url, 50, "warm-up")
                before, cpu = load(), app.cpu_seconds()
                result = await (raw_flood if raw else flood)(app.url, requests, name)
                result.cpu_ms = (app.cpu_seconds() - cpu) * 1000 / requests
                result.load = f"{before:.1f}→{load():.1f}"
                results.append(result)
            finally:
                app.stop()
    return results


WRK_SCRIPT = """wrk.method = "POST"
wrk.body = '{"prompt": "a lighthouse", "size": "512x512"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def refusal_cost(
    work: Path, chosen: dict[str, dict[str, str]], seconds: int, rounds: int
) -> list[list[str]]:
    """Per tree and connection mode: refusals/s under wrk and the server's CPU per refusal."""
    script = work / "refuse.lua"
    script.write_text(WRK_SCRIPT % servers.KEY)
    slow = servers.start_upstream(work, 600.0)  # one generation holds the only slot throughout
    rows = [["configuration", "connections", "refused", "other", "refusals/s", "CPU µs/refusal"]]
    try:
        for i in range(rounds):
            for name, extra in chosen.items():
                if extra is UNBOUNDED:
                    continue
                env = {**extra, "FLUX_REMIX_MAX_INFLIGHT": "1", "FLUX_REMIX_MAX_WAITING": "0"}
                app = servers.start_flux_remix(work, slow, work / f"wrk-{i}-{len(rows)}", **env)
                holder = subprocess.Popen(
                    ["curl", "-s", "-o", "/dev/null", "-m", "600", "-H",
                     f"Authorization: Bearer {servers.KEY}", "-H",
                     "Content-Type: application/json", "-d", '{"prompt": "a lighthouse"}',
                     f"{app.url}/v1/images/generations"]
                )  # fmt: skip
                try:
                    time.sleep(1.0)
                    for mode, extra_args in (
                        ("kept alive", []),
                        ("one each", ["-H", "Connection: close"]),
                    ):
                        cpu = app.cpu_seconds()
                        out = subprocess.run(
                            ["wrk", "-t1", "-c32", f"-d{seconds}s", "-s", str(script),
                             *extra_args, app.url + "/v1/images/generations"],
                            capture_output=True, text=True, check=True,
                        ).stdout  # fmt: skip
                        used = app.cpu_seconds() - cpu
                        total = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
                        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
                        refused = int(bad[1]) if bad else 0
                        rows.append(
                            [name, mode, str(refused), str(total - refused),
                             f"{refused / seconds:.0f}", f"{used * 1e6 / max(1, refused):.0f}"]
                        )  # fmt: skip
                finally:
                    holder.kill()
                    holder.wait()
                    app.stop()
    finally:
        slow.stop()
    return rows


def render_rows(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    chosen = configs(args.base_src, not args.no_unbounded, args.max_wait)
    with tempfile.TemporaryDirectory(prefix="flux-shedding-") as tmp:
        work = Path(tmp)
        upstream = servers.start_upstream(work, args.latency)
        try:
            results = await rounds_of(work, upstream, chosen, args.requests, args.rounds, args.raw)
        finally:
            upstream.stop()
        print(
            f"shedding: {args.requests} concurrent POST /v1/images/generations, upstream latency "
            f"{args.latency * 1000:.0f} ms, {args.rounds} round(s) interleaved, "
            f"{os.cpu_count()} CPUs, client: {'raw sockets' if args.raw else 'aiohttp'}"
        )
        print(table(results))
        for name in chosen:
            admitted = [s for r in results if r.name == name for s in r.admitted]
            if admitted:
                median = statistics.median(admitted) * 1000
                print(f"{name}, all rounds: admitted median {median:.0f} ms")
        if args.wrk_seconds and shutil.which("wrk"):
            print(f"\nrefusal cost: wrk -c32 for {args.wrk_seconds} s, every POST refused")
            print(render_rows(refusal_cost(work, chosen, args.wrk_seconds, args.rounds)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="upstream seconds per image")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--base-src", help="another tree's src/ to run as well (A/B)")
    parser.add_argument("--no-unbounded", action="store_true", help="leave out 'no shedding'")
    parser.add_argument("--max-wait", nargs="*", default=[], help="this tree with these waits")
    parser.add_argument("--raw", action="store_true", help="the raw-socket client (see raw_flood)")
    parser.add_argument("--wrk-seconds", type=int, default=5, help="0: no refusal-cost section")
    asyncio.run(main(parser.parse_args()))
