"""The flux-remix image for tests: built once per session with scripts/container-build, run as
containers on the host network, bound to 127.0.0.1 on free ports.

Docker missing (no `docker` binary, no daemon) follows `tests.servers`: the tests are skipped
with the reason, and fail under CI=true, where `.ci/run` installs docker.io and starts dockerd.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ACCOUNT_IDS, ADMIN_KEY, API_KEY, account_list
from tests.servers import unavailable
from tests.support import free_port

REPO = Path(__file__).resolve().parents[2]
LABEL = "flux-remix-test"  # on every container and volume the tests make, for clean-up


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    """Run `docker ARGS`; its stdout (a failure raises with stderr)."""
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} … failed: {done.stderr.strip()}")
    return done.stdout


def require_docker() -> None:
    """Skip (fail under CI=true) when there is no docker CLI or no daemon answering it."""
    if shutil.which("docker") is None:
        unavailable("docker is not installed (apt-get install docker.io)")
    try:
        docker("version", "--format", "{{.Server.Version}}", timeout=20)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        unavailable(f"the docker daemon does not answer (start dockerd): {exc}")


def build_image(tag: str, env: Mapping[str, str]) -> tuple[str, float]:
    """scripts/container-build TAG (the docs' command); the tag and the seconds it took."""
    started = time.monotonic()
    done = subprocess.run(
        [str(REPO / "scripts" / "container-build"), tag],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/container-build failed:\n{done.stderr[-4000:]}")
    return done.stdout.strip().splitlines()[-1], time.monotonic() - started


def app_env(emulator_url: str, **extra: str) -> dict[str, str]:
    """A container's environment: the test accounts against the host's emulator, keys on."""
    env = {
        "CF_ACCOUNT_LIST": account_list(ACCOUNT_IDS),
        "CF_API_BASE": emulator_url,
        "API_KEY": API_KEY,
        "ADMIN_API_KEY": ADMIN_KEY,
        "FLUX_REMIX_DEADLINE": "30",
    }
    env.update(extra)
    return env


class Volume:
    """A named docker volume, removed on exit."""

    def __init__(self) -> None:
        self.name = f"flux-test-{uuid.uuid4().hex[:10]}"

    def __enter__(self) -> Volume:
        docker("volume", "create", "--label", LABEL, self.name)
        return self

    def __exit__(self, *exc: object) -> None:
        docker("volume", "rm", "--force", self.name, check=False)


class Container:
    """`docker run -d --network host IMAGE ARGS`, listening on 127.0.0.1:<free port>.

    Use as a context manager: started, then removed (with `docker rm --force`) on exit.
    """

    def __init__(
        self,
        image: str,
        env: Mapping[str, str],
        *,
        volume: str | None = None,
        args: Sequence[str] = ("serve",),
        extra: Sequence[str] = (),
    ) -> None:
        self.image = image
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = f"flux-test-{uuid.uuid4().hex[:10]}"
        self.env = {**env, "FLUX_REMIX_HOST": "127.0.0.1", "FLUX_REMIX_PORT": str(self.port)}
        self.volume = volume
        self.args = list(args)
        self.extra = list(extra)

    def __enter__(self) -> Container:
        command = ["run", "--detach", "--name", self.name, "--label", LABEL, "--network", "host"]
        if self.volume:
            command += ["--volume", f"{self.volume}:/data"]
        for key, value in self.env.items():
            command += ["--env", f"{key}={value}"]
        docker(*command, *self.extra, self.image, *self.args)
        self.wait_answering()
        return self

    def __exit__(self, *exc: object) -> None:
        docker("rm", "--force", "--volumes", self.name, check=False)

    def wait_answering(self, timeout: float = 60) -> None:
        ends = time.monotonic() + timeout
        while time.monotonic() < ends:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if not self.state()["Running"]:
                raise RuntimeError(f"container {self.name} exited:\n{self.logs()}")
            time.sleep(0.2)
        raise RuntimeError(f"container {self.name} did not answer in {timeout:g} s:\n{self.logs()}")

    def inspect(self) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(docker("inspect", self.name))
        return found[0]

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.inspect()["State"]
        return state

    def logs(self) -> str:
        done = subprocess.run(
            ["docker", "logs", self.name], capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout + done.stderr

    def exec(self, *args: str) -> str:
        return docker("exec", self.name, *args)

    def stop(self, grace: float) -> float:
        """`docker stop` (SIGTERM, SIGKILL after `grace` seconds); the seconds it took."""
        started = time.monotonic()
        docker("stop", "--time", str(int(grace)), self.name, timeout=grace + 30)
        return time.monotonic() - started

    def kill(self) -> None:
        docker("kill", "--signal", "KILL", self.name)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)
