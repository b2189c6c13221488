"""A container's life on a named volume: `docker stop` drains in-flight generations within the
compose file's stop_grace_period; `docker rm` and a new container keep history and images;
`docker kill` loses no image that was answered. The app reaches the session's emulator on the
host over the host network (127.0.0.1), where the tests script slow upstream calls."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from flux_remix.emulator import FaultSpec
from tests.conftest import AUTH
from tests.containers.docker import REPO, Container, app_env
from tests.ops.test_shutdown import generations_in_flight, start_generations, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]  # the first one builds

DS8 = "@cf/lykon/dreamshaper-8-lcm"


def stop_grace_period() -> float:
    """compose.yaml's stop_grace_period for the app replicas, in seconds."""
    found = re.search(r"stop_grace_period:\s*(\d+)s", (REPO / "compose.yaml").read_text())
    assert found, "compose.yaml sets no stop_grace_period"
    return float(found.group(1))


def answered_images(results: list) -> dict[str, bytes]:
    """id -> bytes of every image in the answers with status 200."""
    return {
        image["id"]: base64.b64decode(image["b64_json"])
        for status, body in results
        if status == 200
        for image in body["images"]
    }


def assert_kept(app: Container, images: dict[str, bytes]) -> None:
    """Every image is listed in history and served byte for byte; every listed one is served."""
    with app.client(headers=AUTH) as client:
        listed = client.get("/api/v1/images", params={"limit": 100}).json()["images"]
        assert set(images) <= {item["id"] for item in listed}, (sorted(images), listed)
        for item in listed:
            served = client.get(httpx.URL(item["url"]).path)
            assert served.status_code == 200, item
            if item["id"] in images:
                assert served.content == images[item["id"]], item["id"]


def test_docker_stop_drains_three_slow_generations_and_the_volume_keeps_them(
    image, volume, emulator
):
    emulator.state.add_fault(FaultSpec(kind="slow", model=DS8, delay=3.0))
    grace = stop_grace_period()
    env = app_env(emulator.base_url)
    results: list = []
    with Container(image, env, volume=volume) as app:
        threads = start_generations(app.url, 3, results)
        wait_until(lambda: generations_in_flight(app.url) == 3, 15, "3 generations in flight")
        took = app.stop(grace)
        for thread in threads:
            thread.join(timeout=30)
        state, logs = app.state(), app.logs()
    assert [status for status, _ in results] == [200, 200, 200], results
    assert state["ExitCode"] == 0 and not state["OOMKilled"], (state, logs)
    assert took < grace, f"docker stop took {took:.1f} s (stop_grace_period {grace:g} s)"
    assert "shutdown complete" in logs
    images = answered_images(results)
    assert len(images) == 3

    # the first container is gone (docker rm); a new one on the same volume has them all
    with Container(image, env, volume=volume) as again:
        assert_kept(again, images)


def test_docker_kill_loses_no_answered_image(image, volume, emulator):
    # in order of arrival upstream: two quick answers, two in the middle, two still waiting
    for delay in (0.0, 0.0, 0.5, 1.0, 8.0, 8.0):
        emulator.state.add_fault(FaultSpec(kind="slow", model=DS8, delay=delay, count=1))
    env = app_env(emulator.base_url)
    results: list = []
    with Container(image, env, volume=volume) as app:
        threads = start_generations(app.url, 6, results)
        wait_until(lambda: sum(s == 200 for s, _ in results) >= 2, 30, "two answers")
        app.kill()
        for thread in threads:
            thread.join(timeout=30)
    images = answered_images(results)
    assert 2 <= len(images) < 6, results  # killed with generations in flight

    with Container(image, env, volume=volume) as again:
        assert_kept(again, images)
    # let the emulator answer the abandoned calls, so they cannot land in another test's log
    wait_until(lambda: sum(c.fault == "slow" for c in emulator.state.calls()) == 6, 20, "calls")
