"""Generation jobs over HTTP: start, follow the progress stream, resume it, see failures."""

import threading
import time

import httpx
import pytest

from flux_remix.emulator import FaultSpec
from tests.conftest import ACCOUNT_IDS, ADMIN, AUTH
from tests.web.helpers import follow_job, read_events

STAGES = ["queued", "translating", "generating", "stored", "done"]


def start(client: httpx.Client, **fields) -> dict:
    r = client.post("/api/v1/jobs", json={"prompt": "a red fox in snow", **fields})
    assert r.status_code == 202, r.text
    return r.json()


def test_a_job_streams_every_stage_then_the_result_with_image_urls(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        job = start(c, prompt="一只猫", model="SD-XL-Lightning-CF", n=2, seed=7)
        assert job["status"] in ("queued", "running", "succeeded")
        assert job["events"][0]["data"]["stage"] == "queued"
        assert job["events_url"] == f"/api/v1/jobs/{job['id']}/events"
        events = follow_job(c, job["id"])
        assert [e.id for e in events] == list(range(1, len(events) + 1))
        stages = [e.data["stage"] for e in events if e.event == "stage"]
        assert stages == ["queued", "translating", "generating", "stored", "stored", "done"]
        result = events[-1]
        assert result.event == "result"
        assert result.data["prompt"] == "一只猫"
        assert result.data["final_prompt"] != "一只猫"  # translated
        assert result.data["translator"] == "llm"
        assert [i["seed"] for i in result.data["images"]] == [7, 8]
        for image in result.data["images"]:
            assert image["url"].startswith(app_server.url + "/images/")
            fetched = c.get(image["url"])
            assert fetched.status_code == 200
            assert fetched.headers["content-type"] == image["mime_type"]
            assert (image["width"], image["height"]) == (1024, 1024)
        snapshot = c.get(f"/api/v1/jobs/{job['id']}").json()
        assert snapshot["status"] == "succeeded"
        assert snapshot["result"] == result.data
        assert len(snapshot["events"]) == len(events)


def test_a_dropped_stream_resumes_after_last_event_id_without_repeats(app_server, emulator):
    emulator.state.add_fault(FaultSpec(kind="slow", delay=1.5))
    with app_server.client(headers=AUTH) as c:
        job = start(c, model="DS-8-CF")
        seen = []
        with c.stream("GET", f"/api/v1/jobs/{job['id']}/events") as response:
            for event in read_events(response):
                seen.append(event)
                if event.data.get("stage") == "generating":
                    break  # the connection drops mid-generation
        assert seen[-1].event == "stage"
        rest = follow_job(c, job["id"], after=seen[-1].id)
        assert rest[0].id == seen[-1].id + 1
        assert rest[-1].event == "result"
        assert [e.id for e in seen + rest] == list(range(1, len(seen) + len(rest) + 1))
        # `?after=` does the same for clients that cannot set headers
        r = c.get(f"/api/v1/jobs/{job['id']}/events", params={"after": rest[-2].id})
        assert [line for line in r.text.splitlines() if line.startswith("event:")] == [
            "event: result"
        ]
        # nothing left after the last event: 204, which makes EventSource stop reconnecting
        done = c.get(
            f"/api/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": str(rest[-1].id)}
        )
        assert done.status_code == 204


def test_the_job_outlives_its_stream(app_server, emulator):
    emulator.state.add_fault(FaultSpec(kind="slow", delay=1.0))
    with app_server.client(headers=AUTH) as c:
        job = start(c, model="DS-8-CF")
        deadline = time.monotonic() + 20
        while (snap := c.get(f"/api/v1/jobs/{job['id']}").json())["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert snap["status"] == "succeeded"
        stored = c.get(f"/api/v1/images/{snap['result']['images'][0]['id']}")
        assert stored.status_code == 200


@pytest.mark.parametrize(
    ("fields", "status", "param"),
    [
        ({"model": "DS-8-CF", "steps": 99}, 422, "steps"),
        ({"model": "FLUX.1-Schnell-CF", "width": 512}, 422, "width"),
        ({"model": "no-such-model"}, 404, None),
    ],
)
def test_a_request_the_model_cannot_take_is_refused_before_any_job(
    app_server, emulator, fields, status, param
):
    with app_server.client(headers=AUTH) as c:
        r = c.post("/api/v1/jobs", json={"prompt": "x", **fields})
    assert r.status_code == status, r.text
    assert r.json()["error"]["param"] == param
    assert not emulator.state.calls()


def test_a_flagged_prompt_ends_the_job_with_a_failure_event(app_server, emulator):
    emulator.state.add_fault(FaultSpec(kind="flagged"))
    with app_server.client(headers=AUTH) as c:
        events = follow_job(c, start(c, model="DS-8-CF")["id"])
    failure = events[-1]
    assert failure.event == "failure"
    assert failure.data["type"] == "content_flagged"
    assert failure.data["status"] == 400
    assert "safety filter" in failure.data["message"]


def test_exhausted_accounts_end_the_job_with_when_it_resets(app_server, emulator):
    for account_id in ACCOUNT_IDS:
        emulator.state.set_used(account_id, 10_000)
    with app_server.client(headers=AUTH) as c:
        failure = follow_job(c, start(c, model="FLUX.1-Schnell-CF")["id"])[-1]
    assert failure.event == "failure"
    assert failure.data["status"] == 429
    assert failure.data["retry_after"] > 0
    assert "UTC" in failure.data["message"]


def test_jobs_need_a_key_and_are_private_to_it(app_server, emulator):
    with app_server.client() as anonymous:
        assert anonymous.post("/api/v1/jobs", json={"prompt": "x"}).status_code == 401
    with app_server.client(headers=AUTH) as c:
        job = start(c, model="DS-8-CF")
        follow_job(c, job["id"])
    with app_server.client(headers=ADMIN) as other:
        assert other.get(f"/api/v1/jobs/{job['id']}").status_code == 404
        assert other.get(f"/api/v1/jobs/{job['id']}/events").status_code == 404
    with app_server.client() as anonymous:
        assert anonymous.get(f"/api/v1/jobs/{job['id']}").status_code == 401


def test_many_readers_of_one_job_see_the_same_events(app_server, emulator):
    emulator.state.add_fault(FaultSpec(kind="slow", delay=0.5))
    with app_server.client(headers=AUTH) as c:
        job = start(c, model="DS-8-CF")
        results: list[list] = []

        def read() -> None:
            with app_server.client(headers=AUTH) as reader:
                results.append([(e.id, e.event) for e in follow_job(reader, job["id"])])

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert len(results) == 4
    assert all(r == results[0] for r in results)
    assert results[0][-1][1] == "result"
