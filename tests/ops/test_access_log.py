"""A real `flux-remix serve` with LOG_FORMAT=json: one JSON access line per request, and not one
secret anywhere in what it wrote, across successes, failures and upstream faults."""

from __future__ import annotations

import json

from flux_remix.emulator import FaultSpec
from tests.conftest import ACCOUNT_IDS, ACCOUNTS, ADMIN, AUTH, SECRETS, account_list
from tests.processes import ServeProcess, base_env

WRONG_TOKEN = "tok-WRONG-log-secret-qqqqqqqqqqqqqqqqqqqq"
EXTERNAL_KEY = "sk-external-log-secret-0123456789"
SESSION_SECRET = "session-log-secret-0123456789abcdef"
CALLER_GUESS = "guessed-key-log-secret-987654321"  # a wrong key a caller sent


def test_json_access_lines_and_no_secret_in_any_log_line(tmp_path, emulator):
    tokens = {**ACCOUNTS, ACCOUNT_IDS[2]: WRONG_TOKEN}  # cf-3's token is refused upstream
    env = base_env(
        tmp_path,
        emulator.base_url,
        CF_ACCOUNT_LIST=account_list(tokens=tokens),
        LOG_FORMAT="json",
        LOG_LEVEL="DEBUG",
        EXTERNAL_API_KEY=EXTERNAL_KEY,
        FLUX_REMIX_SESSION_SECRET=SESSION_SECRET,
    )
    sent: list[tuple[str, str, int]] = []  # method, path, status
    with ServeProcess(env, tmp_path / "serve.log") as server, server.client() as c:

        def call(method: str, path: str, **kwargs) -> None:
            r = c.request(method, path, **kwargs)
            sent.append((method, path.partition("?")[0], r.status_code))

        chat = {"messages": [{"role": "user", "content": "一只猫"}], "model": "DS-8-CF"}
        call("POST", "/api/image", json=chat, headers=AUTH)
        call("POST", "/api/v1/images", json={"prompt": "x", "steps": 99}, headers=AUTH)
        call("POST", "/api/v1/images", json={"prompt": "x"}, headers={"X-API-Key": CALLER_GUESS})
        call("GET", f"/api/v1/images?api_key={CALLER_GUESS}", headers={"Authorization": "Basic x"})
        emulator.state.add_fault(FaultSpec(kind="server_error", count=2))
        call("POST", "/api/v1/images", json={"prompt": "a dog", "model": "DS-8-CF"}, headers=AUTH)
        emulator.state.add_fault(FaultSpec(kind="flagged"))
        call("POST", "/v1/images/generations", json={"prompt": "a dog"}, headers=AUTH)
        emulator.state.clear_faults()
        for account in ACCOUNT_IDS:
            emulator.state.set_used(account, 10_000)
        call("POST", "/api/v1/images", json={"prompt": "a cat", "model": "DS-8-CF"}, headers=AUTH)
        call("GET", "/api/v1/accounts", headers=ADMIN)
        call("GET", "/readyz")
        call("GET", "/metrics")
        call("GET", "/no/such/page")
        server.signal()
        server.wait(timeout=30)
    text = server.output()

    for secret in [*SECRETS, WRONG_TOKEN, EXTERNAL_KEY, SESSION_SECRET, CALLER_GUESS]:
        assert secret not in text, f"leaked {secret[:10]}…"

    entries = [json.loads(line) for line in text.splitlines() if line.strip()]  # all JSON
    access = [e for e in entries if e["logger"] == "flux_remix.access"]
    seen = [(e["method"], e["path"], e["status"]) for e in access if e["path"] != "/healthz"]
    assert seen == sent
    for entry in access:
        assert len(entry["request_id"]) == 16 and entry["duration_ms"] >= 0
        assert entry["route"].startswith("/") or entry["route"] == "unmatched"

    first = access[[e["path"] for e in access].index("/api/image")]
    assert first["status"] == 200
    assert first["model"] == "@cf/lykon/dreamshaper-8-lcm"
    assert first["account"] in ("cf-1", "cf-2") and first["cache"] == "miss"
    assert first["translator"] == "llm"
    failed = next(e for e in access if e["path"] == "/v1/images/generations")
    assert failed["status"] == 400 and failed["model"] and "account" not in failed
    assert next(e for e in access if e["path"] == "/no/such/page")["route"] == "unmatched"

    disabled = [e for e in entries if "cf-3" in e["message"] and e["level"] == "error"]
    assert disabled, "the refused token should be reported, by label"
    assert any(e["message"].startswith("SIGTERM received") for e in entries)
    assert any("shutdown complete" in e["message"] for e in entries)
