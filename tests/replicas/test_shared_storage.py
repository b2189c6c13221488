"""Two replicas sharing PostgreSQL, an S3 bucket on SeaweedFS and Redis: one history, one set of
images, one upstream call for identical requests sent to different replicas at once."""

from __future__ import annotations

import base64
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from flux_remix.emulator import FaultSpec
from tests.api_helpers import image_calls
from tests.conftest import AUTH
from tests.servers import require_redis
from tests.storage.backends import SeaweedFS

BODY = {"prompt": "two lighthouses", "model": "SD-XL-Lightning-CF", "width": 256, "height": 256}


@pytest.fixture
def replicas(start_app, seaweed: SeaweedFS, database_url: str, bucket: str):
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": require_redis(),
        "REDIS_PREFIX": f"flux-test-{uuid.uuid4().hex[:8]}:",
        **seaweed.env(bucket),
    }
    return start_app(**env), start_app(**env)


def test_replicas_share_history_and_images(replicas, tmp_path) -> None:
    a, b = replicas
    with a.client(headers=AUTH) as ca, b.client(headers=AUTH) as cb:
        made = ca.post("/api/v1/images", json=BODY)
        assert made.status_code == 200, made.text
        image = made.json()["images"][0]
        listed = cb.get("/api/v1/images").json()["images"]
        assert [m["id"] for m in listed] == [image["id"]]
        path = image["url"].removeprefix(a.url)
        served = cb.get(path)
        assert served.status_code == 200
        assert served.content == base64.b64decode(image["b64_json"])
        assert cb.delete(f"/api/v1/images/{image['id']}").status_code == 200
        assert ca.get(path).status_code == 404
    assert not (tmp_path / "data" / "images").exists()  # nothing went to the local disk
    assert not (tmp_path / "data" / "flux-remix.sqlite3").exists()


def test_identical_requests_on_two_replicas_share_one_upstream_call(replicas, emulator) -> None:
    a, b = replicas
    emulator.state.add_fault(FaultSpec(kind="slow", delay=1.5))

    def send(server):
        with server.client(headers=AUTH) as c:
            r = c.post("/api/v1/images", json={**BODY, "seed": 31337})
        assert r.status_code == 200, r.text
        return r.json()["images"][0]

    with ThreadPoolExecutor(4) as pool:
        images = list(pool.map(send, [a, b, a, b]))
    assert len(image_calls(emulator)) == 1
    assert sorted(i["cache"] for i in images).count("miss") == 1
    assert len({i["b64_json"] for i in images}) == 1
    again = send(b)
    assert again["cache"] == "hit" and len(image_calls(emulator)) == 1
