"""Every upstream fault class, injected into the emulator: the caller gets the documented status
and message, the account pool reacts as specified, nothing half-written is stored, and the
server keeps serving afterwards."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from flux_remix.emulator import FaultSpec
from tests.api_helpers import image_calls
from tests.conftest import ACCOUNT_IDS, ACCOUNTS, ADMIN, AUTH, account_list
from tests.storage.helpers import stored_blobs
from tests.support import free_port

DS8 = {"prompt": "a lighthouse", "model": "DS-8-CF", "width": 256, "height": 256}
SCHNELL = {"prompt": "a lighthouse", "model": "FLUX.1-Schnell-CF"}  # answers JSON-base64


@dataclass(frozen=True)
class Case:
    fault: str  # the emulator's fault kind ("" for faults made another way)
    status: int
    type: str
    needle: str
    state: str  # every account's state afterwards
    calls: int  # image calls the emulator saw
    failures: int = 0  # failures_today of each account
    body: dict = field(default_factory=lambda: DS8)
    retry_after: bool = False


CASES = {
    "capacity": Case("capacity", 503, "no_capacity", "busy or rate limited", "cooling_down", 3, 1,
                     retry_after=True),
    "per-minute limit": Case("rate_limit", 503, "no_capacity", "busy or rate limited",
                             "cooling_down", 3, 1, retry_after=True),
    "daily quota": Case("quota", 429, "no_capacity", "daily free neurons", "exhausted", 3, 1,
                        retry_after=True),
    "flagged": Case("flagged", 400, "content_flagged", "safety filter", "healthy", 1),
    "bad input": Case("bad_input", 400, "upstream_bad_input", "rejected the input", "healthy",
                      1),
    "408": Case("timeout", 504, "upstream_timeout", "timed out", "healthy", 6, 2),
    "500": Case("server_error", 502, "upstream_server_error", "Cloudflare failed", "healthy",
                6, 2),
    "502": Case("bad_gateway", 502, "upstream_server_error", "HTTP 502", "healthy", 6, 2),
    "HTML error page": Case("html_error", 502, "upstream_server_error", "without a JSON error",
                            "healthy", 6, 2),
    "truncated body": Case("truncated", 502, "malformed_response", "truncated", "healthy", 6, 2),
    "invalid base64": Case("invalid_base64", 502, "malformed_response", "base64", "healthy", 6,
                           2, body=SCHNELL),
    "not an image": Case("not_an_image", 502, "malformed_response", "not a PNG or JPEG",
                         "healthy", 6, 2),
}  # fmt: skip


def stored(data: Path) -> tuple[int, list[str]]:
    """Rows in the image table and blobs under images/: what a failure must not leave."""
    with sqlite3.connect(data / "flux-remix.sqlite3") as db:
        rows = db.execute("SELECT count(*) FROM images").fetchone()[0]
    return rows, stored_blobs(data / "images")


def accounts(server) -> list[dict]:
    with server.client(headers=ADMIN) as c:
        return c.get("/api/v1/accounts").json()["accounts"]


def keeps_serving(server, emulator, body=DS8) -> None:
    emulator.state.clear_faults()
    with server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json=body)
        assert r.status_code == 200, r.text[:300]
        assert len(c.get("/api/v1/images").json()["images"]) == 1
        assert c.get("/healthz").status_code == 200


@pytest.mark.parametrize("name", list(CASES))
def test_fault_class(start_app, emulator, tmp_path, name):
    case = CASES[name]
    server = start_app()
    emulator.state.add_fault(FaultSpec(kind=case.fault, retry_after=5))
    with server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json=case.body)
    assert r.status_code == case.status, r.text[:300]
    error = r.json()["error"]
    assert error["type"] == case.type
    assert case.needle in error["message"]
    assert ("Retry-After" in r.headers) is case.retry_after
    for secret in (*ACCOUNT_IDS, "Traceback"):
        assert secret not in r.text

    assert len(image_calls(emulator)) == case.calls
    pool = accounts(server)
    assert {a["state"] for a in pool} == {case.state}, pool
    assert [a["failures_today"] for a in pool] == [case.failures] * 3, pool
    if case.state != "healthy":
        assert all(a["available_at"] for a in pool)
    assert stored(tmp_path / "data") == (0, [])

    if case.state != "healthy":  # known unusable: refused without asking Cloudflare again
        with server.client(headers=AUTH) as c:
            assert c.post("/api/v1/images", json=case.body).status_code == case.status
            assert c.get("/healthz").status_code == 200
        assert len(image_calls(emulator)) == case.calls
        return
    keeps_serving(server, emulator, case.body)


def test_refused_tokens_disable_the_accounts(start_app, emulator, tmp_path):
    wrong = {i: f"tok-WRONG-{n}-xxxxxxxxxxxxxxxxxxxxxxxxxxx" for n, i in enumerate(ACCOUNT_IDS)}
    server = start_app(CF_ACCOUNT_LIST=account_list(ACCOUNT_IDS, wrong))
    with server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json=DS8)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["type"] == "no_capacity"
    assert "token was refused" in r.json()["error"]["message"]
    pool = accounts(server)
    assert {a["state"] for a in pool} == {"disabled"}
    assert all("token refused" in a["reason"] for a in pool)
    assert stored(tmp_path / "data") == (0, [])
    calls = len(emulator.state.calls())
    with server.client(headers=AUTH) as c:  # disabled: not asked again
        assert c.post("/api/v1/images", json=DS8).status_code == 503
        assert c.get("/healthz").status_code == 200
    assert len(emulator.state.calls()) == calls


def test_a_refused_token_on_one_account_fails_over(start_app, emulator, tmp_path):
    tokens = dict(ACCOUNTS)
    tokens[ACCOUNT_IDS[0]] = "tok-WRONG-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    server = start_app(CF_ACCOUNT_LIST=account_list(ACCOUNT_IDS, tokens))
    with server.client(headers=AUTH) as c:
        for _ in range(3):
            assert c.post("/api/v1/images", json=DS8).status_code == 200
    states = {a["label"]: a["state"] for a in accounts(server)}
    assert states == {"cf-1": "disabled", "cf-2": "healthy", "cf-3": "healthy"}
    assert stored(tmp_path / "data")[0] == 3


def test_slow_beyond_the_deadline_is_504_and_nothing_is_stored(start_app, emulator, tmp_path):
    server = start_app(FLUX_REMIX_DEADLINE="1")
    emulator.state.add_fault(FaultSpec(kind="slow", delay=3))
    with server.client(headers=AUTH) as c:
        started = time.monotonic()
        r = c.post("/api/v1/images", json=DS8)
        took = time.monotonic() - started
    assert r.status_code == 504
    assert r.json()["error"]["type"] == "upstream_timeout"
    assert took < 2.5  # the deadline, not the upstream's delay
    time.sleep(2.5)  # the slow call finishes upstream after the caller was answered
    assert stored(tmp_path / "data") == (0, [])
    assert {a["state"] for a in accounts(server)} == {"healthy"}
    keeps_serving(server, emulator)


def test_connection_refused_is_502_and_the_accounts_stay_usable(start_app, emulator, tmp_path):
    server = start_app(CF_API_BASE=f"http://127.0.0.1:{free_port()}/client/v4")
    with server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json=DS8)
    assert r.status_code == 502
    assert r.json()["error"]["type"] == "upstream_unreachable"
    assert r.json()["error"]["message"].startswith("Cloudflare could not be reached")
    pool = accounts(server)
    assert {a["state"] for a in pool} == {"healthy"}
    assert [a["failures_today"] for a in pool] == [2, 2, 2]
    assert stored(tmp_path / "data") == (0, [])
    with server.client(headers=AUTH) as c:
        assert c.get("/healthz").status_code == 200


def test_a_batch_with_failed_images_keeps_exactly_the_good_ones(start_app, emulator, tmp_path):
    server = start_app()
    emulator.state.add_fault(FaultSpec(kind="flagged", count=2))
    with server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json={**DS8, "n": 4, "seed": 100})
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert len(body["images"]) == 2 and len(body["errors"]) == 2
    assert {e["type"] for e in body["errors"]} == {"content_flagged"}
    rows, blobs = stored(tmp_path / "data")
    assert rows == 2 and blobs == sorted(f"{i['id']}.png" for i in body["images"])
    with server.client(headers=AUTH) as c:
        listed = {i["id"] for i in c.get("/api/v1/images").json()["images"]}
    assert listed == {i["id"] for i in body["images"]}


@pytest.mark.parametrize("path", ["/v1/images/generations", "/api/image", "/v1/chat/completions"])
def test_every_api_shape_words_the_same_fault_its_own_way(app_server, emulator, path):
    emulator.state.add_fault(FaultSpec(kind="flagged"))
    body = {
        "prompt": "x",
        "model": "DS-8-CF",
        "messages": [{"role": "user", "content": "x"}],
    }
    with app_server.client(headers=AUTH) as c:
        r = c.post(path, json=body)
    assert r.status_code == 400, r.text[:300]
    error = r.json()["error"]
    message = error if isinstance(error, str) else error["message"]
    assert "safety filter" in message
