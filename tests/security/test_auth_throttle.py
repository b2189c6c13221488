"""Finding 4: guessing is throttled. Against a real `serve`, wrong API keys and wrong sign-ins
from one address get 429 with `Retry-After` after a small burst (before: 300 of each in under
half a second, never a 429), the same key prefix from another address too, while another
client's right key still works; a configured key shorter than 16 characters stops start-up."""

from __future__ import annotations

import contextlib
import re
import subprocess
import uuid

import httpx
import pytest

from flux_remix.errors import AuthThrottledError
from flux_remix.keys.quota import MemoryCounters, RedisCounters
from flux_remix.keys.throttle import AuthThrottle
from tests.conftest import API_KEY
from tests.processes import CLI, base_env
from tests.servers import require_redis

BURST = 5


@pytest.fixture
def serve(start_serve):
    return start_serve(FLUX_REMIX_AUTH_FAILURES_PER_MINUTE=str(BURST))


def client_from(serve, address: str, **kwargs) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x works on loopback)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=serve.url, transport=transport, timeout=30, **kwargs)


def test_wrong_keys_from_one_address_are_throttled_others_are_not(serve):
    statuses = []
    with client_from(serve, "127.0.0.2") as attacker:
        for i in range(3 * BURST):
            r = attacker.get("/api/v1/images", headers={"Authorization": f"Bearer guessKEY{i:04}"})
            statuses.append(r.status_code)
        assert statuses[:BURST] == [401] * BURST
        assert set(statuses[BURST + 1 :]) == {429}, statuses
        last = attacker.get("/api/v1/images", headers={"Authorization": "Bearer guess-again"})
        assert last.status_code == 429
        assert 1 <= int(last.headers["Retry-After"]) <= 60
        assert last.json()["error"]["type"] == "auth_throttled"
        # while the address rests even the right key is not looked at: guessing gains nothing
        right = attacker.get("/api/v1/images", headers={"Authorization": f"Bearer {API_KEY}"})
        assert right.status_code == 429
        # every API shape words it its own way, before any body is read
        r = attacker.post("/api/image", json={"messages": []}, headers={"X-API-Key": "nope"})
        assert r.status_code == 429 and isinstance(r.json()["error"], str)
    with client_from(serve, "127.0.0.3") as other:
        r = other.get("/api/v1/images", headers={"Authorization": f"Bearer {API_KEY}"})
        assert r.status_code == 200
        # the prefix the attacker tried rests too, from any address
        r = other.get("/api/v1/images", headers={"Authorization": "Bearer guessKEY-from-elsewhere"})
        assert r.status_code == 429


def signin_attempt(c: httpx.Client, key: str) -> int:
    form = c.get("/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text[:300]
    r = c.post("/signin", data={"key": key, "csrf_token": token.group(1)})
    return r.status_code


def test_wrong_sign_ins_are_throttled(serve):
    with client_from(serve, "127.0.0.4") as browser:
        statuses = [signin_attempt(browser, f"wrong-{i}-{uuid.uuid4().hex}") for i in range(12)]
        assert statuses[:BURST] == [401] * BURST
        assert statuses[-1] == 429, statuses
    with client_from(serve, "127.0.0.5") as other:
        assert signin_attempt(other, API_KEY) == 303  # signed in


@pytest.mark.parametrize("var", ["API_KEY", "ADMIN_API_KEY"])
def test_a_short_key_stops_start_up_naming_the_variable(tmp_path, emulator, var):
    env = base_env(tmp_path, emulator.base_url, **{var: "a"})
    done = subprocess.run([*CLI, "serve", "--port", "1"], env=env, capture_output=True, timeout=60)
    assert done.returncode != 0
    err = " ".join(done.stderr.decode().split())  # the CLI wraps its message
    assert f"{var}: key #1 is shorter than 16 characters" in err
    assert "FLUX_REMIX_ALLOW_SHORT_KEYS" in err


def test_the_override_lets_a_short_key_through(start_serve):
    server = start_serve(API_KEY="a", FLUX_REMIX_ALLOW_SHORT_KEYS="true")
    with server.client() as c:
        assert c.get("/api/v1/images", headers={"Authorization": "Bearer a"}).status_code == 200


# --- the throttle itself, on a clock of its own --------------------------------------------

CASES = [  # (failures at these seconds, then an attempt at `at`) -> resting?
    ([0, 0], 0, False),  # a burst of 3 failures: a third attempt is still checked
    ([0, 0, 0], 0, True),  # the burst is used up: the next attempt is not even checked
    ([0, 0, 0], 19, True),  # one cell frees every 20 s (3 per minute)
    ([0, 0, 0], 21, False),
    ([0, 20, 40, 60, 80], 80, False),  # one failure per interval never rests
]


async def throttle_case(counters, failures, at, resting):
    now = [0.0]
    throttle = AuthThrottle(counters, 3, clock=lambda: now[0])
    address = f"10.0.0.{uuid.uuid4().int % 250}"
    key = f"{uuid.uuid4().hex[:8]}-rest"
    for t in failures:
        now[0] = 1000.0 + t
        with contextlib.suppress(AuthThrottledError):
            await throttle.failed(address, key)
    now[0] = 1000.0 + at
    try:
        await throttle.check(address, key)
    except AuthThrottledError as exc:
        assert resting and exc.retry_after > 0
        return
    assert not resting


@pytest.mark.parametrize(("failures", "at", "resting"), CASES)
async def test_the_throttle_table_in_memory(failures, at, resting):
    await throttle_case(MemoryCounters(), failures, at, resting)


@pytest.mark.parametrize(("failures", "at", "resting"), CASES)
async def test_the_throttle_table_in_redis(failures, at, resting):
    from redis.asyncio import Redis

    redis = Redis.from_url(require_redis())
    try:
        await throttle_case(
            RedisCounters(redis, f"flux-test-{uuid.uuid4().hex}:"), failures, at, resting
        )
    finally:
        await redis.aclose()
