"""Finding 1: a body is worth nothing before its sender is known. A 30 MB body of millions of
tiny JSON values, sent to a real `serve` without a key, is answered 401 before it is read (no
memory, no time); with a valid key it is refused by its shape after the first few kilobytes,
never parsed; `/healthz` stays fast meanwhile. Before: 2.2 s and +800 MB per request."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.conftest import API_KEY
from tests.security.wire import post_raw, rss_mb

NESTED = b'{"a":[' + b"[]," * 10_000_000 + b"[]]}"  # 30 MB, 10 million lists
ROUTES = ["/api/v1/images", "/v1/images/generations", "/api/image", "/api/v1/jobs"]


def healthz_seconds(url: str, until: threading.Event) -> list[float]:
    times: list[float] = []
    with httpx.Client(timeout=10) as c:
        while not until.is_set():
            started = time.perf_counter()
            assert c.get(f"{url}/healthz").status_code == 200
            times.append(time.perf_counter() - started)
            time.sleep(0.01)
    return times


def flood(serve, headers: dict[str, str]) -> tuple[list, list[float], float]:
    """Three nested bodies at once on three routes, `/healthz` timed meanwhile."""
    assert serve.proc is not None
    before = rss_mb(serve.proc.pid)
    answers: list = []
    done = threading.Event()
    health: list[float] = []
    prober = threading.Thread(target=lambda: health.extend(healthz_seconds(serve.url, done)))
    prober.start()

    def one(path: str) -> None:
        answers.append(
            post_raw(serve.port, path, NESTED, {"Content-Type": "application/json", **headers})
        )

    senders = [threading.Thread(target=one, args=(path,)) for path in ROUTES[:3]]
    for t in senders:
        t.start()
    for t in senders:
        t.join(timeout=60)
    time.sleep(0.2)
    done.set()
    prober.join(timeout=30)
    return answers, health, rss_mb(serve.proc.pid) - before


def test_a_huge_body_without_a_key_is_refused_before_it_is_read(serve, emulator):
    answers, health, growth = flood(serve, {})
    print(f"no key: {[round(a.seconds * 1000, 1) for a in answers]} ms, RSS +{growth:.1f} MB")
    assert [a.status for a in answers] == [401, 401, 401]
    assert all("www-authenticate: bearer" in a.head.lower() for a in answers)
    assert max(a.seconds for a in answers) < 0.5  # measured ~5 ms; 2.2 s before
    assert growth < 50
    assert health and max(health) < 1.0
    assert emulator.state.calls() == []


def test_a_huge_body_with_a_key_is_refused_by_its_shape_not_parsed(serve, emulator):
    answers, health, growth = flood(serve, {"Authorization": f"Bearer {API_KEY}"})
    print(f"key: {[round(a.seconds * 1000, 1) for a in answers]} ms, RSS +{growth:.1f} MB")
    assert [a.status for a in answers] == [413, 413, 413]
    assert max(a.seconds for a in answers) < 1.0
    assert growth < 150
    assert health and max(health) < 1.0
    assert emulator.state.calls() == []


@pytest.mark.parametrize("path", ROUTES)
def test_every_body_route_answers_401_without_reading(serve, path):
    answer = post_raw(serve.port, path, b"x" * 5_000_000, {"Content-Type": "application/json"})
    assert answer.status == 401, answer.head


@pytest.mark.parametrize("path", ["/signin", "/signout"])
def test_the_open_forms_take_no_big_body(serve, path):
    answer = post_raw(
        serve.port,
        path,
        b"key=" + b"x" * 5_000_000,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status == 413, answer.head
    assert answer.seconds < 0.5
