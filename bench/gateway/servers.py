"""The processes under test: the upstream, flux-remix and the LiteLLM proxy, each on its own port.

Each is started with `subprocess`, waited for, and stopped (SIGTERM, then SIGKILL) by its own
pid. Memory is read from `/proc/<pid>/status`: `VmRSS` now and `VmHWM`, the peak.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from flux_remix.emulator import EmulatorConfig

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
LITELLM = ROOT / ".venv-litellm" / "bin" / "litellm"
KEY = "bench-key-0123456789abcdef"
LITELLM_KEY = "sk-bench-litellm-master"
PROMPT = "a lighthouse at dusk, oil painting"
ACCOUNTS = EmulatorConfig.demo().accounts  # the upstream's two demo accounts: id -> token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def memory_mib(self, field: str = "VmRSS") -> float:
        """`VmRSS` (now) or `VmHWM` (peak) of the process and its children, in MiB."""
        total = 0
        for pid in (self.pid, *children(self.pid)):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
        return total / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the process (all its threads) and children."""
        total = 0.0
        for pid in (self.pid, *children(self.pid)):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    found = [int(p) for p in text.split()]
    return found + [g for c in found for g in children(c)]


def _wait(server: Server, probe: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited: {server.log.read_text()[-3000:]}")
        try:
            if httpx.get(server.url + probe, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{server.name} did not start within {timeout:g} s")


def _start(
    name: str, command: list[str], workdir: Path, env: dict[str, str], probe: str, port: int
) -> Server:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=workdir, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    _wait(server, probe)
    return server


def start_upstream(workdir: Path, latency: float) -> Server:
    port = free_port()
    command = [str(PYTHON), "-m", "bench.gateway.upstream", "--port", str(port)]
    command += ["--latency", str(latency), "--prompt", PROMPT]
    env = {"PYTHONPATH": str(ROOT)}
    return _start("upstream", command, workdir, env, "/__emulator__/calls", port)


def flux_remix_env(upstream: Server, data_dir: Path, **extra: str) -> dict[str, str]:
    accounts = [{"account_id": a, "token": t} for a, t in ACCOUNTS.items()]
    return {
        "API_KEY": KEY,
        "CF_ACCOUNT_LIST": json.dumps(accounts),
        "CF_API_BASE": upstream.url + "/client/v4",
        "FLUX_REMIX_DATA_DIR": str(data_dir),
        "FLUX_REMIX_DAILY_NEURONS": "1e15",
        "FLUX_REMIX_SESSION_SECRET": "bench-session-secret-0123456789",
        **extra,
    }


def start_flux_remix(
    workdir: Path,
    upstream: Server,
    data_dir: Path,
    program: Sequence[str] = (str(ROOT / ".venv" / "bin" / "flux-remix"), "serve"),
    **extra: str,
) -> Server:
    """`flux-remix serve` (or `program`, which takes the same options) on a free port."""
    port = free_port()
    command = [*program, "--port", str(port)]
    env = {"PYTHONPATH": str(ROOT), **flux_remix_env(upstream, data_dir, **extra)}
    return _start("flux-remix", command, workdir, env, "/healthz", port)


LITELLM_CONFIG = """\
model_list:
  - model_name: flux-bench
    litellm_params:
      model: openai/flux-bench
      api_base: {upstream}/v1
      api_key: sk-upstream-unused
      drop_params: true
    model_info:
      mode: image_generation
general_settings:
  master_key: {master}
"""


def litellm_available() -> bool:
    return LITELLM.exists()


def start_litellm(workdir: Path, upstream: Server) -> Server:
    port = free_port()
    config = workdir / "litellm.yaml"
    config.write_text(LITELLM_CONFIG.format(upstream=upstream.url, master=LITELLM_KEY))
    command = [str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
    return _start("litellm", command, workdir, env, "/health/liveliness", port)


def litellm_version() -> str:
    done = subprocess.run(
        [
            str(LITELLM.parent / "python"),
            "-c",
            "import importlib.metadata as m;print(m.version('litellm'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"
