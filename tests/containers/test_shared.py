"""compose.yaml's replicas as containers: two app containers (host network, their own ports and
data volumes) sharing the host's Redis, a fresh PostgreSQL schema and a SeaweedFS bucket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import AUTH
from tests.containers.docker import Container, app_env
from tests.processes import made_on_one_served_by_other, shared_backends
from tests.storage.backends import SeaweedFS

pytestmark = [
    pytest.mark.docker,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.s3,
    pytest.mark.timeout(600),  # the first container test builds the image
]


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
