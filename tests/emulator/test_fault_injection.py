"""Fault injection: every kind, count, per-account/model scoping, probability, Retry-After."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass

import httpx
import pytest

from flux_remix.emulator import FaultSpec

from .helpers import ACCOUNT, OTHER_ACCOUNT, Emu, image_of

SCHNELL = "@cf/black-forest-labs/flux-1-schnell"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
LLAMA = "@cf/meta/llama-3.1-8b-instruct-fast"


def schnell(emu: Emu) -> httpx.Response:
    return emu.run(SCHNELL, json={"prompt": "a cat"})


@dataclass(frozen=True)
class ErrorCase:
    kind: str
    status: int
    code: int
    text: str


ERROR_CASES = [
    ErrorCase("capacity", 429, 3040, "Capacity temporarily exceeded, please try again."),
    ErrorCase("rate_limit", 429, 3021, "rate limiting: inference request per min rate reached"),
    ErrorCase("flagged", 400, 3030, "Your output has been flagged."),
    ErrorCase("timeout", 408, 3007, "Request timeout"),
    ErrorCase("server_error", 500, 3043, "Internal server error"),
    ErrorCase("paid_only", 403, 5035, "requires the Workers Paid plan"),
    ErrorCase("quota", 429, 4006, "daily free allocation of 10,000 neurons"),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c.kind for c in ERROR_CASES])
def test_error_faults(emu: Emu, case: ErrorCase) -> None:
    emu.server.state.add_fault(kind=case.kind)
    response = schnell(emu)
    assert response.status_code == case.status
    body = response.json()
    assert body["success"] is False and body["result"] == {}
    [error] = body["errors"]
    assert error["code"] == case.code
    assert error["message"].startswith("AiError: AiError: ")
    assert case.text in error["message"]
    assert "retry-after" not in response.headers
    assert emu.server.state.used(ACCOUNT) == 0


@pytest.mark.parametrize(("kind", "status"), [("bad_gateway", 502), ("html_error", 500)])
def test_html_faults(emu: Emu, kind: str, status: int) -> None:
    emu.server.state.add_fault(kind=kind)
    response = schnell(emu)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text and "cloudflare" in response.text


def test_malformed_json(emu: Emu) -> None:
    emu.server.state.add_fault(kind="malformed")
    response = schnell(emu)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_invalid_base64(emu: Emu) -> None:
    emu.server.state.add_fault(kind="invalid_base64")
    response = schnell(emu)
    assert response.status_code == 200 and response.json()["success"] is True
    with pytest.raises(ValueError):
        base64.b64decode(response.json()["result"]["image"], validate=True)


def test_not_an_image_for_binary_and_json_models(emu: Emu) -> None:
    emu.server.state.add_fault(kind="not_an_image")
    binary = emu.run(SDXL, json={"prompt": "a"})
    assert binary.status_code == 200 and binary.headers["content-type"] == "image/png"
    assert not binary.content.startswith((b"\x89PNG", b"\xff\xd8\xff"))
    as_json = schnell(emu)
    data = base64.b64decode(as_json.json()["result"]["image"])
    with pytest.raises(OSError):
        image_of(data)


def test_success_false_with_http_200(emu: Emu) -> None:
    emu.server.state.add_fault(kind="success_false")
    response = schnell(emu)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is False and body["errors"][0]["code"] == 3043


def test_truncated_body_keeps_status_and_is_free(emu: Emu) -> None:
    emu.server.state.add_fault(kind="truncated", count=1)
    cut = schnell(emu)
    assert cut.status_code == 200 and cut.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        cut.json()
    full = schnell(emu)
    assert len(cut.content) == pytest.approx(len(full.content) / 2, rel=0.1)  # random seeds
    assert emu.server.state.used(ACCOUNT) == pytest.approx(172.8)  # only the full one billed


def test_truncated_binary(emu: Emu) -> None:
    body = {"prompt": "a", "width": 256, "height": 256, "seed": 1}
    emu.server.state.add_fault(kind="truncated", count=1)
    response = emu.run(SDXL, json=body)
    assert len(response.content) == len(emu.run(SDXL, json=body).content) // 2
    assert response.content.startswith(b"\x89PNG")  # sniffing alone would accept it
    with pytest.raises(OSError):
        image_of(response.content)


def test_slow_succeeds_after_delay_and_bills(emu: Emu) -> None:
    emu.server.state.add_fault(kind="slow", delay=0.3)
    started = time.perf_counter()
    response = schnell(emu)
    assert time.perf_counter() - started >= 0.3
    assert response.status_code == 200
    assert emu.server.state.used(ACCOUNT) == pytest.approx(172.8)


def test_slow_fault_triggers_client_timeouts(emu: Emu) -> None:
    emu.server.state.add_fault(kind="slow", delay=0.5, count=1)
    with pytest.raises(httpx.ReadTimeout):
        emu.client.post(f"/accounts/{ACCOUNT}/ai/run/{SCHNELL}", json={"prompt": "a"}, timeout=0.1)


def test_count_limits_firings(emu: Emu) -> None:
    emu.server.state.add_fault(kind="capacity", count=2)
    assert [schnell(emu).status_code for _ in range(3)] == [429, 429, 200]
    assert emu.server.state.faults() == []


def test_fault_scoped_to_model(emu: Emu) -> None:
    emu.server.state.add_fault(kind="capacity", model=SDXL)
    assert schnell(emu).status_code == 200
    assert emu.run(SDXL, json={"prompt": "a", "width": 256, "height": 256}).status_code == 429


def test_fault_scoped_to_account(emu: Emu) -> None:
    emu.server.state.add_fault(kind="rate_limit", account_id=OTHER_ACCOUNT)
    assert schnell(emu).status_code == 200
    other = httpx.post(
        f"{emu.server.base_url}/accounts/{OTHER_ACCOUNT}/ai/run/{SCHNELL}",
        json={"prompt": "a"},
        headers={"Authorization": "Bearer demo-token-2"},
    )
    assert other.status_code == 429


def test_faults_apply_to_text_models(emu: Emu) -> None:
    emu.server.state.add_fault(kind="timeout", model=LLAMA)
    assert emu.run(LLAMA, json={"prompt": "hi"}).status_code == 408


def test_probability_schedule_is_reproducible(emu: Emu) -> None:
    def schedule() -> list[int]:
        emu.server.state.reset()
        emu.server.state.add_fault(kind="capacity", probability=0.5)
        return [
            emu.run(LLAMA, json={"prompt": "hi", "max_tokens": 2}).status_code for _ in range(16)
        ]

    first, second = schedule(), schedule()
    assert first == second
    assert 429 in first and 200 in first


def test_retry_after_header(emu: Emu) -> None:
    emu.server.state.add_fault(kind="capacity", retry_after=7)
    assert schnell(emu).headers["retry-after"] == "7"
    emu.server.state.clear_faults()
    emu.server.state.add_fault(kind="flagged", retry_after=7)  # not a 429: no header
    assert "retry-after" not in schnell(emu).headers


def test_first_matching_fault_wins(emu: Emu) -> None:
    emu.server.state.add_fault(kind="flagged", model=SDXL)
    emu.server.state.add_fault(kind="timeout")
    assert schnell(emu).status_code == 408


def test_faults_come_after_auth_and_model_checks(emu: Emu) -> None:
    emu.server.state.add_fault(kind="capacity")
    assert emu.run("@cf/acme/unknown", json={"prompt": "a"}).status_code == 400
    no_auth = httpx.post(f"{emu.server.base_url}/accounts/{ACCOUNT}/ai/run/{SCHNELL}", json={})
    assert no_auth.status_code == 400
    assert emu.server.state.faults()[0]["kind"] == "capacity"  # not consumed


def test_fault_is_logged(emu: Emu) -> None:
    emu.server.state.add_fault(kind="capacity")
    schnell(emu)
    [call] = emu.server.state.calls()
    assert (call.fault, call.status, call.code, call.neurons) == ("capacity", 429, 3040, 0.0)


def test_admin_fault_endpoints(emu: Emu) -> None:
    created = emu.admin("POST", "faults", json={"kind": "capacity", "count": 1, "retry_after": 2})
    assert created.status_code == 201
    fault_id = created.json()["id"]
    [listed] = emu.admin("GET", "faults").json()["faults"]
    assert listed["id"] == fault_id and listed["remaining"] == 1 and listed["kind"] == "capacity"
    assert emu.admin("DELETE", f"faults/{fault_id}").json() == {"removed": True}
    assert emu.admin("DELETE", f"faults/{fault_id}").status_code == 404

    emu.admin("POST", "faults", json={"kind": "timeout"})
    assert emu.admin("DELETE", "faults").json() == {"cleared": 1}
    assert schnell(emu).status_code == 200

    assert emu.admin("POST", "faults", json={"kind": "earthquake"}).status_code == 422
    assert emu.admin("POST", "faults", json={"kind": "slow", "probability": 2}).status_code == 422


def test_fault_spec_model() -> None:
    spec = FaultSpec(kind="capacity", count=3)
    assert spec.probability == 1.0 and spec.account_id is None and spec.delay == 0.0
    with pytest.raises(ValueError):
        FaultSpec(kind="capacity", count=0)


def test_unweighted_answers_lose_weights_and_brackets_but_are_billed(emu: Emu) -> None:
    emu.server.state.add_fault(kind="unweighted", model=LLAMA, count=1)
    body = {"messages": [{"role": "user", "content": "Translate: (杰作:1.2), [模糊], 一只猫"}]}
    broken = emu.run(LLAMA, json=body).json()["result"]["response"]
    kept = emu.run(LLAMA, json=body).json()["result"]["response"]
    assert kept == "(masterpiece:1.2), [blurry], a cat"
    assert broken == "masterpiece, blurry, a cat"
    assert emu.server.state.used(ACCOUNT) > 0
