"""Control surface (HTTP and in-process), call log, model search and schema endpoints."""

from __future__ import annotations

import httpx

from .helpers import ACCOUNT, Emu, multipart

SCHNELL = "@cf/black-forest-labs/flux-1-schnell"


def test_call_log_records_field_names_not_values(emu: Emu) -> None:
    emu.run(SCHNELL, json={"prompt": "secret words", "steps": 4})
    emu.run("@cf/black-forest-labs/flux-2-klein-4b", files=multipart({"prompt": "x", "seed": "1"}))
    calls = emu.admin("GET", "calls").json()["calls"]
    assert [c["model"] for c in calls] == [SCHNELL, "@cf/black-forest-labs/flux-2-klein-4b"]
    first = calls[0]
    assert first["account_id"] == ACCOUNT and first["endpoint"] == (
        f"/client/v4/accounts/{ACCOUNT}/ai/run/{SCHNELL}"
    )
    assert first["content_kind"] == "json" and first["fields"] == ["prompt", "steps"]
    assert first["status"] == 200 and first["code"] is None and first["neurons"] == 172.8
    assert "secret words" not in str(calls)
    assert calls[1]["content_kind"] == "multipart"
    assert emu.admin("DELETE", "calls").json() == {"cleared": True}
    assert emu.admin("GET", "calls").json() == {"calls": []}


def test_reset_clears_everything(emu: Emu) -> None:
    state = emu.server.state
    state.add_fault(kind="capacity")
    state.set_used(ACCOUNT, 50)
    emu.run(SCHNELL, json={"prompt": "a"})
    assert emu.admin("POST", "reset").json() == {"reset": True}
    assert state.faults() == [] and state.calls() == [] and state.used(ACCOUNT) == 0


def test_in_process_state_api(emu: Emu) -> None:
    state = emu.server.state
    fault_id = state.add_fault({"kind": "timeout", "model": SCHNELL, "count": 1})
    assert state.faults()[0]["id"] == fault_id
    assert state.remove_fault(fault_id) is True
    state.add_fault(kind="capacity")
    assert state.clear_faults() == 1
    state.set_used(ACCOUNT, 12.5)
    assert state.used(ACCOUNT) == 12.5
    assert emu.server.app.state.emulator is state


def test_health(emu: Emu) -> None:
    assert emu.admin("GET", "health").json() == {"ok": True}


def test_models_search_by_task(emu: Emu) -> None:
    response = emu.client.get(
        f"/accounts/{ACCOUNT}/ai/models/search", params={"task": "Text-to-Image"}
    )
    body = response.json()
    assert body["success"] is True
    names = {item["name"] for item in body["result"]}
    assert len(names) == 11 and SCHNELL in names
    assert body["result_info"]["total_count"] == 11
    schnell = next(item for item in body["result"] if item["name"] == SCHNELL)
    assert schnell["task"]["name"] == "Text-to-Image"
    assert schnell["properties"][0]["property_id"] == "price"


def test_models_search_filters_and_pages(emu: Emu) -> None:
    url = f"/accounts/{ACCOUNT}/ai/models/search"
    text = emu.client.get(url, params={"task": "text generation"}).json()["result"]
    assert {item["name"] for item in text} == {
        "@cf/meta/llama-3.1-8b-instruct-fast",
        "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        "@cf/qwen/qwen3-30b-a3b-fp8",
        "@cf/zai-org/glm-4.7-flash",
        "@cf/google/gemma-4-26b-a4b-it",
    }
    page = emu.client.get(url, params={"per_page": 5, "page": 2}).json()
    assert page["result_info"] == {"count": 5, "page": 2, "per_page": 5, "total_count": 17}
    leonardo = emu.client.get(url, params={"author": "leonardo"}).json()["result"]
    assert len(leonardo) == 2
    retired = emu.client.get(url, params={"search": "qwen1.5", "include_deprecated": "true"})
    names = [item["name"] for item in retired.json()["result"]]
    assert names and all(name.startswith("@cf/qwen/qwen1.5") for name in names)
    assert emu.client.get(url, params={"search": "qwen1.5"}).json()["result"] == []


def test_model_schema(emu: Emu) -> None:
    url = f"/accounts/{ACCOUNT}/ai/models/schema"
    schnell = emu.client.get(url, params={"model": SCHNELL}).json()["result"]
    assert schnell["input"]["additionalProperties"] is False
    assert set(schnell["input"]["properties"]) == {"prompt", "steps"}
    assert schnell["output"]["properties"]["image"]["type"] == "string"
    flux2 = emu.client.get(url, params={"model": "@cf/black-forest-labs/flux-2-dev"}).json()[
        "result"
    ]
    assert flux2["input"]["required"] == ["multipart"]
    sdxl = emu.client.get(url, params={"model": "@cf/stabilityai/stable-diffusion-xl-base-1.0"})
    assert sdxl.json()["result"]["output"] == {
        "type": "string",
        "contentType": "image/png",
        "format": "binary",
    }
    missing = emu.client.get(url, params={"model": "@cf/nope/nope"})
    assert missing.status_code == 400 and missing.json()["errors"][0]["code"] == 5007


def test_discovery_needs_auth(emu: Emu) -> None:
    response = httpx.get(f"{emu.server.base_url}/accounts/{ACCOUNT}/ai/models/search")
    assert response.status_code == 400
