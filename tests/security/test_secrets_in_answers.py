"""Account ids, tokens and API keys never appear in responses, headers or logs."""

import logging

from flux_remix.emulator import FaultSpec
from tests.conftest import ACCOUNT_IDS, ADMIN, AUTH, SECRETS, account_list


def test_no_secret_in_any_response_or_log(start_app, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    tokens = {
        ACCOUNT_IDS[0]: "tok-WRONG-secret-zzzzzzzzzzzzzzzzzzzzzzzz",
        ACCOUNT_IDS[1]: "tok-BRAVO-0123456789abcdefghijklmnopqrstuv",
    }
    server = start_app(CF_ACCOUNT_LIST=account_list(ACCOUNT_IDS[:2], tokens))
    secrets = [*SECRETS, *tokens.values()]
    seen: list[str] = []
    with server.client(headers=AUTH) as c:

        def record(r):
            seen.append(r.text)
            seen.append(str(dict(r.headers)))

        record(c.post("/api/image", json={"messages": [{"role": "user", "content": "一只猫"}]}))
        record(c.post("/api/v1/images", json={"prompt": "x", "model": "DS-8-CF", "steps": 99}))
        emulator.state.add_fault(FaultSpec(kind="server_error"))
        record(c.post("/api/v1/images", json={"prompt": "x", "model": "DS-8-CF"}))
        emulator.state.clear_faults()
        emulator.state.add_fault(FaultSpec(kind="quota"))
        record(c.post("/api/v1/images", json={"prompt": "x", "model": "DS-8-CF"}))
        emulator.state.clear_faults()
        for path in ("/api/models", "/api/v1/models", "/", "/docs", "/openapi.json", "/healthz"):
            record(c.get(path))
        record(c.get("/api/v1/accounts", headers=ADMIN))
        record(c.post("/api/image", content=b"{bad", headers={"content-type": "application/json"}))
    logs = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    everything = "\n".join(seen) + logs
    for secret in secrets:
        assert secret not in everything, f"leaked {secret[:8]}..."
