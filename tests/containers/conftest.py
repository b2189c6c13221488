"""Fixtures of the container tests: the image (built once per session), a fresh volume; and a
line at the end of the run with the image's size and what these tests cost in time."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest

from tests.containers.docker import Volume, build_image, docker, require_docker

SENTINEL_CA = Path(__file__).with_name("sentinel-ca.pem")
BUILD_SECRETS = {
    # in the build's environment: none of these may reach the image
    "API_KEY": "build-env-API-KEY-sentinel-7f3a9c",
    "CF_ACCOUNT_LIST": '[{"account_id": "d4d4d4d4", "token": "build-env-TOKEN-sentinel-51e2"}]',
    "FLUX_REMIX_SESSION_SECRET": "build-env-SESSION-sentinel-0b8d",
    # into the build stage's pip.conf (scripts/container-build): never into the image
    "PIP_TRUSTED_HOST": "build-pip-sentinel.invalid",
}
BUILT: dict[str, Any] = {}


@pytest.fixture(scope="session")
def build_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CA bundle pip uses on this host plus a sentinel certificate (its key thrown away)."""
    named = [os.environ.get(k) for k in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")]
    system = ssl.get_default_verify_paths().cafile  # Debian's bundle, with local CAs added
    host = next((p for p in [*named, system] if p and Path(p).is_file()), certifi.where())
    bundle = tmp_path_factory.mktemp("build-ca") / "ca.crt"
    bundle.write_bytes(Path(host).read_bytes().rstrip() + b"\n" + SENTINEL_CA.read_bytes())
    return bundle


@pytest.fixture(scope="session")
def image(build_ca: Path) -> str:
    """The flux-remix image, built by scripts/container-build (layers reused between runs) with
    the sentinel secrets in its environment and pip configuration."""
    require_docker()
    env = {**os.environ, **BUILD_SECRETS, "PIP_CERT": str(build_ca)}
    tag, seconds = build_image("flux-remix:test", env)
    BUILT.update(tag=tag, seconds=seconds, size=image_size(tag))
    return tag


def image_size(tag: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", tag))


@pytest.fixture
def volume(image: str) -> Iterator[str]:
    with Volume() as made:
        yield made.name


def pytest_terminal_summary(terminalreporter: Any) -> None:
    seconds = sum(
        report.duration
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport) and report.nodeid.startswith("tests/containers/")
    )
    if BUILT:
        terminalreporter.write_line(
            f"container image {BUILT['tag']}: {BUILT['size'] / 1e6:.0f} MB, built in "
            f"{BUILT['seconds']:.1f} s; tests/containers took {seconds:.1f} s in all"
        )
