"""compose.yaml's replicas as containers: two app containers (host network, their own ports and
data volumes) sharing the host's Redis, a fresh PostgreSQL schema and a SeaweedFS bucket."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from flux_remix.emulator import FaultSpec
from tests.conftest import AUTH
from tests.containers.docker import Container, app_env
from tests.processes import made_on_one_served_by_other, shared_backends
from tests.storage.backends import SeaweedFS
from tests.web.helpers import follow_job

pytestmark = [
    pytest.mark.docker,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.s3,
    pytest.mark.timeout(600),  # the first container test builds the image
]

DS8 = "@cf/lykon/dreamshaper-8-lcm"


@pytest.fixture
def replicas(image, emulator, tmp_path) -> Iterator[tuple[Container, Container]]:
    with (
        SeaweedFS(tmp_path / "seaweedfs") as seaweedfs,
        shared_backends(seaweedfs, "flux-containers") as shared,
    ):
        env = app_env(emulator.base_url, **shared)
        with Container(image, env) as a, Container(image, env) as b:
            yield a, b


def test_an_image_made_through_one_container_is_served_by_the_other(replicas):
    a, b = replicas
    with a.client(headers=AUTH) as ca, b.client(headers=AUTH) as cb:
        made_on_one_served_by_other(ca, cb, prompt="a harbour crane", model="DS-8-CF")
    for container in (a, b):  # the bytes live in the bucket, not in a container's volume
        kept = container.exec("find", "/data", "-type", "f").split()
        assert not [p for p in kept if p.startswith("/data/images/")], kept


def test_a_job_started_through_one_container_is_followed_through_the_other(replicas, emulator):
    """The durable job queue (Redis Streams) across containers: a slow job is submitted to A,
    its whole event stream is read from B (resumed mid-way), and B serves its image."""
    a, b = replicas
    emulator.state.add_fault(FaultSpec(kind="slow", model=DS8, delay=1.5, count=1))
    with a.client(headers=AUTH) as ca, b.client(headers=AUTH) as cb:
        submitted = ca.post(
            "/api/v1/jobs", json={"prompt": "a harbour at dusk", "model": "DS-8-CF"}
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        events = follow_job(cb, job_id)
        assert events[-1].event == "result", events
        assert [e.id for e in events] == list(range(1, len(events) + 1))
        resumed = follow_job(cb, job_id, after=events[1].id)  # Last-Event-ID on the other one
        assert [e.id for e in resumed] == [e.id for e in events[2:]]
        assert resumed[-1].data == events[-1].data
        status = cb.get(f"/api/v1/jobs/{job_id}").json()
        assert status["status"] == "succeeded" and status["result"] == events[-1].data
        path = httpx.URL(events[-1].data["images"][0]["url"]).path
        assert cb.get(path).content == ca.get(path).content != b""
