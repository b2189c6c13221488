"""compose.yaml's topology without Docker: two `flux-remix serve` processes, each with its own
empty data directory, sharing one Redis, one PostgreSQL schema and one SeaweedFS bucket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ACCOUNT_IDS, ADMIN, AUTH
from tests.processes import ServeProcess, made_on_one_served_by_other, replica_pair

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.s3]

DS8 = "@cf/lykon/dreamshaper-8-lcm"


@pytest.fixture
def replicas(tmp_path, emulator, seaweed) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    with replica_pair(tmp_path, emulator.base_url, seaweed, "flux-replicas") as pair:
        yield pair
        for replica in ("a", "b"):  # nothing kept locally: no file (pack or image) under images/
            kept = (tmp_path / replica / "data" / "images").rglob("*")
            assert not [p for p in kept if p.is_file()], replica


def image_calls(emulator) -> int:
    return sum(1 for c in emulator.state.calls() if c.model == DS8)


def test_two_replicas_share_history_images_cache_and_account_state(replicas, emulator):
    a, b = replicas
    with a.client(headers=AUTH) as ca, b.client(headers=AUTH) as cb:
        # made on A: listed, described and served by B
        image = made_on_one_served_by_other(ca, cb, prompt="a lighthouse", model="DS-8-CF", seed=5)
        assert cb.get(f"/api/v1/images/{image['id']}").json()["seed"] == 5

        # the same request on B is answered from the shared store: no upstream call
        calls = image_calls(emulator)
        again = cb.post(
            "/api/v1/images", json={"prompt": "a lighthouse", "model": "DS-8-CF", "seed": 5}
        )
        assert again.json()["cache"] == "hit"
        assert image_calls(emulator) == calls

        # A learns that every account's daily neurons are gone; B knows without calling upstream
        for account in ACCOUNT_IDS:
            emulator.state.set_used(account, 10_000)
        assert (
            ca.post("/api/v1/images", json={"prompt": "x", "model": "DS-8-CF"}).status_code == 429
        )
        calls = len(emulator.state.calls())
        accounts = cb.get("/api/v1/accounts", headers=ADMIN).json()["accounts"]
        assert {acc["state"] for acc in accounts} == {"exhausted"}
        refused = cb.post("/api/v1/images", json={"prompt": "y", "model": "DS-8-CF"})
        assert refused.status_code == 429 and refused.headers["retry-after"]
        assert len(emulator.state.calls()) == calls
        assert cb.get("/readyz").status_code == 503
