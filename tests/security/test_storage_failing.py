"""Finding 6, second half: a data directory that fails writes. The real `serve` process is given
a file-size limit of one byte (`RLIMIT_FSIZE`, as a full disk would: every write that grows a
file fails), so images cannot be stored: `/readyz` says not ready (before: "ready" while every
generation failed), and once one generation has failed, the next ones are refused with 503
before any upstream call is paid for. When writes work again, so does everything."""

from __future__ import annotations

import resource

from tests.api_helpers import image_calls
from tests.conftest import AUTH

DS8 = {"prompt": "a lighthouse", "model": "DS-8-CF", "width": 256, "height": 256}


def limit_writes(pid: int, size: int) -> None:
    _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (size, hard))


def test_failing_writes_make_it_unready_and_stop_paying_upstream(serve, emulator):
    assert serve.proc is not None
    with serve.client(headers=AUTH) as c:
        assert c.post("/api/v1/images", json={**DS8, "seed": 1}).status_code == 200
        assert c.get("/readyz").status_code == 200

        limit_writes(serve.proc.pid, 1)
        try:
            ready = c.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["writes"] == {"ok": False, "detail": "failing"}

            first = c.post("/api/v1/images", json={**DS8, "seed": 2})
            assert first.status_code == 503, first.text[:300]
            paid = len(image_calls(emulator))
            for seed in range(3, 6):
                r = c.post("/api/v1/images", json={**DS8, "seed": seed})
                assert r.status_code == 503
                assert "nothing was sent to Cloudflare" in r.json()["error"]["message"]
            assert len(image_calls(emulator)) == paid  # known to fail: no upstream call
        finally:
            limit_writes(serve.proc.pid, resource.RLIM_INFINITY)

        assert c.get("/readyz").status_code == 200
        assert c.post("/api/v1/images", json={**DS8, "seed": 7}).status_code == 200
