"""`flux-remix serve` as a real subprocess on a free port, its stderr captured to a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ADMIN_KEY, API_KEY, account_list
from tests.servers import require_redis
from tests.storage.backends import SeaweedFS, postgres_schema
from tests.support import free_port

CLI = [sys.executable, "-m", "flux_remix.cli"]


def base_env(tmp_path: Path, emulator_url: str, **extra: str) -> dict[str, str]:
    """A clean environment: the test accounts against the emulator, keys on, a private data dir."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    env.update(
        CF_ACCOUNT_LIST=account_list(),
        CF_API_BASE=emulator_url,
        API_KEY=API_KEY,
        ADMIN_API_KEY=ADMIN_KEY,
        FLUX_REMIX_DATA_DIR=str(tmp_path / "data"),
        FLUX_REMIX_DEADLINE="30",
    )
    env.update(extra)
    return env


class ServeProcess:
    """`flux-remix serve`; use as a context manager (SIGTERM and wait on exit)."""

    def __init__(self, env: dict[str, str], log: Path, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServeProcess:
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [*CLI, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve did not start within 30 s:\n{self.output()}")
            time.sleep(0.1)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)  # type: ignore[arg-type]


@contextmanager
def shared_backends(seaweedfs: SeaweedFS, bucket: str, **extra: str) -> Iterator[dict[str, str]]:
    """Settings for replicas sharing Redis (a fresh key prefix), a fresh PostgreSQL schema and a
    fresh SeaweedFS bucket, and the secrets every replica must have in common (`extra`: more
    environment for every replica)."""
    redis_url = require_redis()
    tag = uuid.uuid4().hex[:10]
    with postgres_schema() as database_url:
        yield {
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": f"flux-test-{tag}:",
            "DATABASE_URL": database_url,
            "FLUX_REMIX_SESSION_SECRET": f"replica-session-secret-{tag}-0123456789",
            "FLUX_REMIX_KEY_PEPPER": f"replica-key-pepper-{tag}",
            **seaweedfs.env(f"{bucket}-{tag}"),
            **extra,
        }


@contextmanager
def replica_pair(
    tmp_path: Path, emulator_url: str, seaweedfs: SeaweedFS, bucket: str, **extra: str
) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    """Two `serve` processes sharing Redis, a fresh PostgreSQL schema and a SeaweedFS bucket
    (`extra`: more environment for both)."""
    with shared_backends(seaweedfs, bucket, **extra) as shared:
        a_env = base_env(tmp_path / "a", emulator_url, **shared)
        b_env = base_env(tmp_path / "b", emulator_url, **shared)
        with (
            ServeProcess(a_env, tmp_path / "a.log") as a,
            ServeProcess(b_env, tmp_path / "b.log") as b,
        ):
            yield a, b


def ready_within(client: httpx.Client, seconds: float) -> Any:
    """`/readyz` polled as a proxy polls it, until it says ready (within `seconds`): a replica's
    first test write to a fresh bucket can take the object store over the 2 s the check allows
    (SeaweedFS growing a volume on a loaded machine), which a proxy sees as not ready yet."""
    deadline = time.monotonic() + seconds
    while True:
        ready = client.get("/readyz").json()
        if ready["status"] == "ready" or time.monotonic() > deadline:
            assert ready["status"] == "ready", ready
            return ready
        time.sleep(0.5)


def made_on_one_served_by_other(ca: httpx.Client, cb: httpx.Client, **request: object) -> Any:
    """Two replicas ready on their shared stores, and an image made through `ca` that `cb` lists
    and serves byte for byte; the image's public record."""
    for client in (ca, cb):
        ready = ready_within(client, 30)
        assert {"database", "blobs", "redis"} <= set(ready["checks"])
    made = ca.post("/api/v1/images", json={**request, "response_format": "url"})
    assert made.status_code == 200, made.text
    image = made.json()["images"][0]
    path = httpx.URL(image["url"]).path
    assert cb.get(path).content == ca.get(path).content != b""
    assert [i["id"] for i in cb.get("/api/v1/images").json()["images"]] == [image["id"]]
    return image
