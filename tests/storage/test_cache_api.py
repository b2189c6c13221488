"""Cache, in-flight sharing and batches over HTTP, counted at the emulator."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from flux_remix.emulator import FaultSpec
from tests.api_helpers import image_calls
from tests.conftest import API_KEY, AUTH
from tests.storage.helpers import stored_blobs
from tests.storage.test_history_api import OTHER, OTHER_KEY

LIGHTNING = {"model": "SD-XL-Lightning-CF", "width": 256, "height": 256}


def post(server, headers=AUTH, **fields):
    with server.client(headers=headers) as c:
        r = c.post("/api/v1/images", json={"prompt": "a paper boat", **LIGHTNING, **fields})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def app(start_app):
    return start_app(API_KEY=f"{API_KEY},{OTHER_KEY}")


def test_a_repeated_request_with_a_seed_is_answered_from_storage(app, emulator) -> None:
    first = post(app, seed=42)
    assert first["cache"] == "miss" and first["images"][0]["cache"] == "miss"
    assert len(image_calls(emulator)) == 1
    again = post(app, seed=42)
    assert len(image_calls(emulator)) == 1  # no upstream call
    assert again["cache"] == "hit" and again["images"][0]["cache"] == "hit"
    assert again["neurons"] == 0 and again["images"][0]["neurons"] == 0
    assert again["images"][0]["b64_json"] == first["images"][0]["b64_json"]
    assert again["images"][0]["id"] == first["images"][0]["id"]  # the same key's own image
    assert again["images"][0]["seed"] == 42


def test_anything_that_changes_the_image_misses(app, emulator) -> None:
    post(app, seed=42)
    post(app, seed=43)
    post(app, seed=42, steps=6)
    post(app, seed=42, negative_prompt="blurry")
    post(app, seed=42, width=512)
    post(app, seed=42, prompt="a paper plane")
    assert len(image_calls(emulator)) == 6


def test_without_a_seed_nothing_is_cached(app, emulator) -> None:
    a, b = post(app), post(app)
    assert a["cache"] == b["cache"] == "miss"
    assert len(image_calls(emulator)) == 2


def test_another_key_never_hits_this_keys_cache(app, emulator, tmp_path: Path) -> None:
    mine = post(app, seed=7)["images"][0]
    theirs = post(app, headers=OTHER, seed=7)["images"][0]
    assert len(image_calls(emulator)) == 2  # the cache is per key (docs/security.md)
    assert theirs["cache"] == "miss" and theirs["id"] != mine["id"]
    again = post(app, headers=OTHER, seed=7)["images"][0]
    assert again["cache"] == "hit" and again["id"] == theirs["id"]  # its own cache still works
    with app.client() as c:
        listed = c.get("/api/v1/images", headers=OTHER).json()["images"]
        assert [m["id"] for m in listed] == [theirs["id"]]
        assert listed[0]["cached_from"] is None
        # deleting one key's image leaves the other key's alone
        assert c.delete(f"/api/v1/images/{mine['id']}", headers=AUTH).status_code == 200
        assert c.get(theirs["url"].removeprefix(app.url)).status_code == 200
        assert c.get(mine["url"].removeprefix(app.url)).status_code == 404
        assert c.delete(f"/api/v1/images/{theirs['id']}", headers=OTHER).status_code == 200
    assert stored_blobs(tmp_path / "data" / "images") == []


def test_identical_requests_in_flight_share_one_upstream_call(app, emulator) -> None:
    emulator.state.add_fault(FaultSpec(kind="slow", delay=1.0))
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: post(app, seed=99), range(6)))
    assert len(image_calls(emulator)) == 1
    outcomes = sorted(a["images"][0]["cache"] for a in answers)
    assert outcomes.count("miss") == 1 and set(outcomes) <= {"miss", "joined", "hit"}
    assert len({a["images"][0]["b64_json"] for a in answers}) == 1


def test_the_cache_survives_a_restart(start_app, emulator) -> None:
    first = start_app()
    made = post(first, seed=1234)
    first.__exit__(None, None, None)
    second = start_app()  # same data directory
    again = post(second, seed=1234)
    assert again["cache"] == "hit" and len(image_calls(emulator)) == 1
    assert again["images"][0]["id"] == made["images"][0]["id"]


def test_a_batch_uses_consecutive_seeds(app, emulator) -> None:
    body = post(app, seed=1000, n=8)
    assert sorted(i["seed"] for i in body["images"]) == list(range(1000, 1008))
    assert len({i["id"] for i in body["images"]}) == 8
    assert len({i["b64_json"] for i in body["images"]}) == 8
    assert len(image_calls(emulator)) == 8 and body["errors"] == []
    again = post(app, seed=1004, n=4)  # overlaps the first batch: all from storage
    assert again["cache"] == "hit" and len(image_calls(emulator)) == 8


def test_a_partial_batch_returns_what_succeeded_and_says_what_failed(app, emulator) -> None:
    emulator.state.add_fault(FaultSpec(kind="flagged", count=1))
    body = post(app, seed=500, n=3)
    assert len(body["images"]) == 2
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["type"] == "content_flagged" and "flagged" in error["message"].lower()
    assert sorted([error["seed"]] + [i["seed"] for i in body["images"]]) == [500, 501, 502]
    with app.client() as c:
        stored = c.get("/api/v1/images", headers=AUTH).json()["images"]
    assert sorted(m["seed"] for m in stored) == sorted(i["seed"] for i in body["images"])


def test_a_batch_where_every_image_fails_is_an_error(app, emulator) -> None:
    emulator.state.add_fault(FaultSpec(kind="flagged"))
    with app.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json={"prompt": "x", **LIGHTNING, "n": 3})
    assert r.status_code == 400 and r.json()["error"]["type"] == "content_flagged"


@pytest.mark.parametrize("n", [0, 9])
def test_n_outside_1_to_8_is_refused(app, n: int) -> None:
    with app.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json={"prompt": "x", **LIGHTNING, "n": n})
    assert r.status_code == 422 and r.json()["error"]["param"] == "n"
