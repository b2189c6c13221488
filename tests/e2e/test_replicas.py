"""The web page generating through a round-robin proxy in front of two replicas: its progress
stream and status requests land on either replica, with no sticky routing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import sign_in
from tests.ops.proxy import RoundRobinProxy, round_robin
from tests.processes import ServeProcess, replica_pair
from tests.storage.backends import SeaweedFS

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.postgres, pytest.mark.s3]


@pytest.fixture(scope="module")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs-e2e")) as server:
        yield server


@pytest.fixture
def proxy(tmp_path, emulator, seaweedfs) -> Iterator[tuple[RoundRobinProxy, list[ServeProcess]]]:
    with (
        replica_pair(tmp_path, emulator.base_url, seaweedfs, "flux-e2e") as pair,
        round_robin([r.url for r in pair]) as rr,
    ):
        yield rr, list(pair)


def test_the_page_generates_through_round_robin_replicas(page, proxy, emulator):
    rr, replicas = proxy
    sign_in(page, rr)
    for prompt in ("a red fox in snow", "a lighthouse at dusk"):
        page.fill("#prompt", prompt)
        page.click("#generate-button")
        page.wait_for_selector("#stages li[data-stage=stored].done")
        img = page.locator("#result-grid img").first
        img.wait_for()
        page.wait_for_function(
            "() => { const i = document.querySelector('#result-grid img');"
            " return !!i && i.complete && i.naturalWidth > 0; }"
        )
        assert img.get_attribute("src").startswith("/images/") or rr.url in img.get_attribute("src")
    job_paths = {b for b in rr.backends_for("/api/v1/jobs")}
    assert job_paths == {r.url for r in replicas}  # the page's job requests reached both
