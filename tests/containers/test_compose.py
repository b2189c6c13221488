"""compose.yaml with .env.example, as Debian's `docker-compose config` reads them: accepted once
the blanks are filled, refused with what to set while they are blank, and every third-party
image pinned to a version."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.containers.docker import REPO
from tests.servers import unavailable

pytestmark = pytest.mark.docker

PINNED = re.compile(r"^[\w./-]+:\d+\.\d+[\w.-]*$")  # name:MAJOR.MINOR…, never latest or a major


def compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        unavailable("docker-compose is not installed (apt-get install docker-compose)")
    return subprocess.run(
        [binary, "--file", str(REPO / "compose.yaml"), "--env-file", str(env_file), "config"],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},  # nothing from this shell interpolated
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def filled_example(tmp_path: Path) -> Path:
    """.env.example with every blank value filled with a fresh random one."""
    lines = (REPO / ".env.example").read_text().splitlines()
    filled = [line + secrets.token_urlsafe(24) if line.endswith("=") else line for line in lines]
    env = tmp_path / ".env"
    env.write_text("\n".join(filled) + "\n")
    return env


def seconds(duration: str) -> float:
    found = re.fullmatch(r"(\d+)s", duration)
    assert found, duration
    return float(found.group(1))


def test_compose_accepts_the_example_env_once_filled_in(tmp_path):
    done = compose_config(filled_example(tmp_path))
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    services = config["services"]
    assert set(services) == {"app1", "app2", "proxy", "redis", "postgres", "seaweedfs"}

    for name, service in services.items():
        if name in ("app1", "app2"):
            assert service["image"] == "flux-remix:local"
            env = service["environment"]
            assert env["FLUX_REMIX_DATA_DIR"] == "/data"
            grace = seconds(service["stop_grace_period"])
            assert grace > float(env["FLUX_REMIX_SHUTDOWN_TIMEOUT"]) + 5, service
        else:
            assert PINNED.match(service["image"]), f"{name}: {service['image']} is not pinned"

    mounts = [v.split(":")[0] for v in services["proxy"]["volumes"]]
    assert all(Path(m).is_file() for m in mounts), mounts


def test_compose_names_what_to_set_while_the_example_is_blank(tmp_path):
    done = compose_config(REPO / ".env.example")
    assert done.returncode != 0
    assert "set API_KEY in .env" in done.stderr
