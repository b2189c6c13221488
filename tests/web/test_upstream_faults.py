"""Each upstream error class yields the right status, message and pool reaction."""

import pytest

from flux_remix.emulator import FaultSpec
from tests.api_helpers import image_calls
from tests.conftest import ACCOUNT_IDS, ADMIN, AUTH, account_list

DS8 = "@cf/lykon/dreamshaper-8-lcm"


def generate(server, **fields):
    with server.client(headers=AUTH) as c:
        return c.post("/api/v1/images", json={"prompt": "a cat", "model": "DS-8-CF", **fields})


@pytest.mark.parametrize(
    ("kind", "status", "etype", "needle"),
    [
        ("flagged", 400, "content_flagged", "flagged"),
        ("paid_only", 403, "paid_plan_required", "Workers Paid"),
        ("server_error", 502, "upstream_server_error", "Cloudflare failed"),
        ("bad_gateway", 502, "upstream_server_error", "HTTP 502"),
        ("html_error", 502, "upstream_server_error", "without a JSON error"),
        ("malformed", 502, "malformed_response", "not valid JSON"),
        ("invalid_base64", 502, "malformed_response", "base64"),
        ("not_an_image", 502, "malformed_response", "not a PNG or JPEG"),
        ("truncated", 502, "malformed_response", "truncated"),
        ("timeout", 504, "upstream_timeout", "timed out"),
    ],
)
def test_fault_classes_map_to_clear_errors(start_app, emulator, kind, status, etype, needle):
    server = start_app()
    model = "@cf/black-forest-labs/flux-1-schnell" if kind == "invalid_base64" else DS8
    emulator.state.add_fault(FaultSpec(kind=kind, model=model))
    r = generate(server, model=model)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["type"] == etype
    assert needle in error["message"]
    assert "Traceback" not in r.text


def test_flagged_is_not_retried(app_server, emulator):
    emulator.state.add_fault(FaultSpec(kind="flagged"))
    assert generate(app_server).status_code == 400
    assert len(image_calls(emulator)) == 1


def test_server_error_retries_once_then_fails_over(app_server, emulator):
    emulator.state.add_fault(FaultSpec(kind="server_error", count=2))
    r = generate(app_server)
    assert r.status_code == 200, r.text
    calls = image_calls(emulator)
    assert [c.status for c in calls] == [500, 500, 200]
    assert calls[0].account_id == calls[1].account_id != calls[2].account_id


def test_exhausted_account_is_skipped_and_others_serve(app_server, emulator):
    emulator.state.set_used(ACCOUNT_IDS[0], 10_000)
    for _ in range(4):
        assert generate(app_server).status_code == 200
    hits = [c.account_id for c in image_calls(emulator)]
    assert hits.count(ACCOUNT_IDS[0]) <= 1  # asked at most once, then known exhausted
    with app_server.client(headers=ADMIN) as c:
        states = {a["label"]: a["state"] for a in c.get("/api/v1/accounts").json()["accounts"]}
    if hits.count(ACCOUNT_IDS[0]):
        assert states["cf-1"] == "exhausted"


def test_all_accounts_exhausted_is_429_with_retry_after(app_server, emulator):
    for account_id in ACCOUNT_IDS:
        emulator.state.set_used(account_id, 10_000)
    r = generate(app_server)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "daily free neurons" in r.json()["error"]["message"]
    assert "UTC" in r.json()["error"]["message"]
    assert len(image_calls(emulator)) == 3
    assert generate(app_server).status_code == 429
    assert len(image_calls(emulator)) == 3  # known exhausted: no more upstream calls


@pytest.mark.parametrize("kind", ["capacity", "rate_limit"])
def test_all_accounts_busy_is_503_with_retry_after(app_server, emulator, kind):
    emulator.state.add_fault(FaultSpec(kind=kind, retry_after=20))
    r = generate(app_server)
    assert r.status_code == 503, r.text
    assert 15 <= int(r.headers["Retry-After"]) <= 21
    assert r.json()["error"]["type"] == "no_capacity"


def test_capacity_on_one_account_fails_over(app_server, emulator):
    emulator.state.add_fault(FaultSpec(kind="capacity", account_id=ACCOUNT_IDS[0]))
    emulator.state.add_fault(FaultSpec(kind="capacity", account_id=ACCOUNT_IDS[1]))
    assert generate(app_server).status_code == 200


def test_wrong_token_disables_the_account_and_fails_over(start_app, emulator):
    tokens = {
        ACCOUNT_IDS[0]: "tok-WRONG-xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ACCOUNT_IDS[1]: "tok-BRAVO-0123456789abcdefghijklmnopqrstuv",
    }
    server = start_app(CF_ACCOUNT_LIST=account_list(ACCOUNT_IDS[:2], tokens))
    for _ in range(3):
        assert generate(server).status_code == 200
    with server.client(headers=ADMIN) as c:
        accounts = {a["label"]: a for a in c.get("/api/v1/accounts").json()["accounts"]}
    assert accounts["cf-1"]["state"] == "disabled"
    assert "token refused" in accounts["cf-1"]["reason"]


def test_slow_upstream_beyond_the_deadline_is_504(start_app, emulator):
    server = start_app(FLUX_REMIX_DEADLINE="1")
    emulator.state.add_fault(FaultSpec(kind="slow", delay=3))
    r = generate(server)
    assert r.status_code == 504
    assert r.json()["error"]["type"] == "upstream_timeout"


def test_connection_refused_is_502(start_app, emulator):
    from tests.support import free_port

    server = start_app(CF_API_BASE=f"http://127.0.0.1:{free_port()}/client/v4")
    r = generate(server)
    assert r.status_code == 502
    assert r.json()["error"]["type"] == "upstream_unreachable"
    assert r.json()["error"]["message"].startswith("Cloudflare could not be reached")


def test_server_keeps_serving_after_faults(app_server, emulator):
    emulator.state.add_fault(FaultSpec(kind="malformed", count=6))
    assert generate(app_server).status_code == 502
    assert generate(app_server).status_code == 200
