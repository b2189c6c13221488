"""Closed-loop load with `wrk` (Debian's `wrk` package): latency percentiles and requests/s.

wrk runs in its own process, so the load generator's work is not counted in the gateway's,
though all processes share the machine's cores. A Lua script sets the request and prints one
JSON line with the figures.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCRIPT = """
wrk.method = {method}
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
"""


@dataclass(frozen=True)
class Result:
    """One wrk run: milliseconds and requests per second; `errors` counts non-2xx/3xx too."""

    requests: int
    seconds: float
    errors: int
    p50: float
    p95: float
    p99: float
    max: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Request:
    url: str
    body: str | None = None  # JSON text; None makes a GET
    key: str | None = None

    @property
    def method(self) -> str:
        return "GET" if self.body is None else "POST"


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for ASCII


def need_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    return path


def run(
    request: Request,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    timeout_s: int = 30,
) -> Result:
    """Load `request` on `connections` keep-alive connections for `seconds`."""
    auth = f"Bearer {request.key}"
    headers = f'wrk.headers["Authorization"] = {_lua_string(auth)}' if request.key else ""
    script = _SCRIPT.format(
        method=_lua_string(request.method),
        body=_lua_string(request.body) if request.body is not None else "nil",
        headers=headers,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        path = Path(f.name)
    try:
        command = [need_wrk(), "-t", str(min(threads, connections)), "-c", str(connections)]
        command += [
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            f"{timeout_s}s",
            "-s",
            str(path),
        ]
        done = subprocess.run([*command, request.url], capture_output=True, text=True, check=False)
    finally:
        path.unlink()
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Result(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        errors=int(errors),
        p50=data["p50"] / 1000,
        p95=data["p95"] / 1000,
        p99=data["p99"] / 1000,
        max=data["max"] / 1000,
    )
