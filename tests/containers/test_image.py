"""The image itself: it builds, stays a reasonable size, keeps the build's secrets out, and
`serve --demo` in it answers, generates, runs unprivileged, writes only to /data and reports
healthy through its own HEALTHCHECK."""

from __future__ import annotations

import base64
import json
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import API_KEY, AUTH
from tests.containers.conftest import BUILD_SECRETS, SENTINEL_CA, image_size
from tests.containers.docker import Container, docker

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]  # the first one builds

MAX_IMAGE_BYTES = 450e6  # about 290 MB: Debian + Python 120 MB, the virtual environment 160 MB
PNG, JPEG = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"


def test_the_image_builds_to_a_reasonable_size(image):
    size = image_size(image)
    print(f"{image}: {size / 1e6:.0f} MB")
    assert 100e6 < size < MAX_IMAGE_BYTES, f"{size / 1e6:.0f} MB"


def layer_files(saved: Path) -> Iterator[tuple[str, bytes]]:
    """(path, content) of every regular file in every layer of a `docker save` archive."""
    with tarfile.open(saved) as outer:
        for member in outer.getmembers():
            if not member.name.endswith("layer.tar"):
                continue
            layer = outer.extractfile(member)
            assert layer is not None
            with tarfile.open(fileobj=layer) as inner:
                for entry in inner:
                    handle = inner.extractfile(entry) if entry.isfile() else None
                    yield entry.name, handle.read() if handle else b""


def test_no_build_secret_reaches_history_config_or_layers(image, tmp_path):
    cert_body = "".join(SENTINEL_CA.read_text().splitlines()[1:-1])
    needles = [*BUILD_SECRETS.values(), cert_body[:64], cert_body[-64:]]
    described = docker("history", "--no-trunc", image) + docker("image", "inspect", image)
    for needle in needles:
        assert needle not in described
    config = json.loads(docker("image", "inspect", image))[0]["Config"]
    assert not [e for e in config["Env"] if e.startswith(("PIP_", "API_KEY", "CF_"))]

    saved = tmp_path / "image.tar"
    docker("save", "--output", str(saved), image, timeout=300)
    checked = 0
    for path, content in layer_files(saved):
        assert "container-pip" not in path and not path.startswith("tmp/build"), path
        for needle in needles:
            assert needle.encode() not in content, f"{needle!r} in {path}"
        checked += 1
    assert checked > 1000  # the scan saw the whole image, not an empty archive


@pytest.fixture(scope="module")
def demo(image: str) -> Iterator[Container]:
    """`serve --demo` with the image's own settings (its anonymous /data volume)."""
    with Container(image, {"API_KEY": API_KEY}, args=["serve", "--demo"]) as container:
        yield container


def test_demo_serves_healthz_and_generates_through_api_image(demo):
    with demo.client(headers=AUTH) as client:
        assert client.get("/healthz").status_code == 200
        made = client.post(
            "/api/image", json={"messages": [{"role": "user", "content": "a lighthouse at dusk"}]}
        )
        assert made.status_code == 200, made.text
        body = made.json()
        assert body["demo"] is True
        assert base64.b64decode(body["image"]).startswith((PNG, JPEG))
        assert client.get(body["url"].removeprefix(str(client.base_url))).status_code == 200
        refused = client.post("/api/image", headers={"Authorization": "Bearer nope"}, json={})
        assert refused.status_code == 401


def test_it_runs_as_uid_10001_and_writes_only_to_data(demo):
    with demo.client(headers=AUTH) as client:  # something to write
        made = client.post("/api/v1/images", json={"prompt": "a red kite", "model": "DS-8-CF"})
        assert made.status_code == 200, made.text
    status = demo.exec("cat", "/proc/1/status")
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    gids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Gid:"))
    assert set(uids) == set(gids) == {"10001"}, status
    # nothing changed in the container's own filesystem: every write went to the volume
    assert docker("diff", demo.name).strip() == ""
    written = demo.exec("find", "/data", "-type", "f").split()
    assert any(p.startswith("/data/images/") for p in written), written
    assert "/data/flux-remix.sqlite3" in written
    assert demo.exec("find", "/data", "!", "-uid", "10001").strip() == ""
    denied = subprocess.run(
        ["docker", "exec", demo.name, "touch", "/opt/flux-remix/x", "/etc/x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert denied.returncode != 0 and "Permission denied" in denied.stderr


def test_its_healthcheck_reaches_healthy(demo):
    # the image's own HEALTHCHECK (first probe after its 15 s interval), not one of ours
    ends = time.monotonic() + 60
    while (health := demo.state()["Health"])["Status"] != "healthy":
        assert health["Status"] != "unhealthy", health
        assert time.monotonic() < ends, health
        time.sleep(1)
    assert health["Log"][-1]["ExitCode"] == 0
