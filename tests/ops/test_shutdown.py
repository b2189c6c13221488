"""SIGTERM: stop accepting, let in-flight generations finish (bounded), flush the stores."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from flux_remix.emulator import FaultSpec
from tests.conftest import AUTH
from tests.processes import CLI, ServeProcess, base_env

DS8 = "@cf/lykon/dreamshaper-8-lcm"


def generations_in_flight(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        if family.name == "flux_remix_generations_in_flight":
            return family.samples[0].value
    raise AssertionError("no flux_remix_generations_in_flight in /metrics")


def start_generations(url: str, count: int, results: list) -> list[threading.Thread]:
    def one(i: int) -> None:
        try:
            r = httpx.post(
                f"{url}/api/v1/images",
                json={"prompt": f"slow lighthouse {i}", "model": "DS-8-CF", "seed": 100 + i},
                headers=AUTH,
                timeout=60,
            )
            body = r.json() if r.status_code == 200 else r.text
            results.append((r.status_code, body))
        except httpx.HTTPError as exc:
            results.append((None, type(exc).__name__))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    return threads


def wait_until(predicate, timeout: float, what: str) -> None:
    ends = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < ends, f"timed out waiting for {what}"
        time.sleep(0.05)


def refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=0.5)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    return False


def test_sigterm_finishes_in_flight_generations_and_keeps_them(tmp_path, emulator):
    emulator.state.add_fault(FaultSpec(kind="slow", model=DS8, delay=3.0))
    env = base_env(tmp_path, emulator.base_url, FLUX_REMIX_SHUTDOWN_TIMEOUT="30")
    results: list = []
    with ServeProcess(env, tmp_path / "serve.log") as server:
        threads = start_generations(server.url, 3, results)
        wait_until(lambda: generations_in_flight(server.url) == 3, 10, "3 generations in flight")
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        wait_until(lambda: refused(server.url), 3, "the listening socket to close")
        for t in threads:
            t.join(timeout=30)
        code = server.wait(timeout=30)
        took = time.monotonic() - signalled
    assert code in (0, -signal.SIGTERM), server.output()
    assert [status for status, _ in results] == [200, 200, 200], results
    assert took < 15
    log = server.output()
    # 3 generations, plus possibly the test's own /metrics poll still being answered
    found = re.search(r"finishing (\d+) in-flight request\(s\)", log)
    assert found and int(found.group(1)) >= 3, log
    assert "shutdown complete" in log

    # the images were stored before the answers: they are in history after the process is gone
    ids = {image["id"] for _, body in results for image in body["images"]}
    listed = subprocess.run(
        [*CLI, "history", "--json", "--limit", "10"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert {r["id"] for r in json.loads(listed.stdout)["images"]} == ids


def test_shutdown_is_bounded_when_a_generation_takes_too_long(tmp_path, emulator):
    emulator.state.add_fault(FaultSpec(kind="slow", model=DS8, delay=6.0))
    env = base_env(tmp_path, emulator.base_url, FLUX_REMIX_SHUTDOWN_TIMEOUT="1")
    results: list = []
    with ServeProcess(env, tmp_path / "serve.log") as server:
        threads = start_generations(server.url, 1, results)
        wait_until(lambda: generations_in_flight(server.url) == 1, 10, "a generation in flight")
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        code = server.wait(timeout=20)
        took = time.monotonic() - signalled
        for t in threads:
            t.join(timeout=10)
    assert code in (0, -signal.SIGTERM), server.output()
    assert took < 5, f"shutdown took {took:.1f} s with a 1 s limit (the call takes 6 s)"
    assert results == [(503, results[0][1])]  # cut short at the deadline: "try again"
    assert json.loads(results[0][1])["error"]["type"] == "shutting_down"
    assert "shutdown complete" in server.output()
    # let the emulator answer the abandoned call, so it cannot land in another test's call log
    wait_until(lambda: any(c.fault == "slow" for c in emulator.state.calls()), 15, "the emulator")
