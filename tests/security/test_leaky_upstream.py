"""Finding 2: an upstream that echoes secrets. The emulator's `echo` faults quote the calling
account's id and its `Authorization: Bearer <token>` in their error text, as a misbehaving
upstream or a proxy in between can. Against a real `serve`, nothing of it reaches a response (any
API shape, a job's events), `/api/v1/accounts` (a disabled account's reason), `/metrics`, the
log or any file in the data directory (before: the message, the disable reason and
`accounts.sqlite3` carried both)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from flux_remix.emulator import FaultSpec
from flux_remix.scrub import upstream_scrubber
from flux_remix.settings import load_settings
from flux_remix.upstream.client import WorkersAIClient
from tests.conftest import ACCOUNTS, ADMIN, AUTH, SECRETS, account_list

DS8 = {"prompt": "a lighthouse", "model": "DS-8-CF", "width": 256, "height": 256}


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def data_files(serve) -> str:
    data = ""
    for path in sorted(Path(serve.env["FLUX_REMIX_DATA_DIR"]).rglob("*")):
        if path.is_file():
            data += path.read_bytes().decode("latin-1")
    return data


def test_echoed_secrets_reach_no_response_page_metric_log_or_file(serve, emulator, tmp_path):
    seen: list[str] = []
    with serve.client(headers=AUTH) as c:
        for kind, path, body in (
            ("bad_input", "/api/v1/images", DS8),
            ("server_error", "/v1/images/generations", {**DS8, "size": "256x256"}),
            ("html_error", "/api/generate-image", {"prompt": "a lighthouse", "model": "DS-8-CF"}),
            ("flagged", "/api/v1/images", DS8),
        ):
            emulator.state.fault_book.clear()
            emulator.state.fault_book.add(FaultSpec(kind=kind, echo=True))
            r = c.post(path, json=body)
            assert r.status_code >= 400, r.text[:200]
            seen.append(r.text)
        emulator.state.fault_book.clear()
        # a job's events carry the failure too
        emulator.state.fault_book.add(FaultSpec(kind="bad_input", echo=True, count=1))
        job = c.post("/api/v1/jobs", json=DS8).json()
        with c.stream("GET", f"/api/v1/jobs/{job['id']}/events") as events:
            seen.append("".join(events.iter_text()))
        # the token refused, with the secrets echoed: every account is disabled with a reason
        emulator.state.fault_book.add(FaultSpec(kind="token_refused", echo=True))
        seen.append(c.post("/api/v1/images", json=DS8).text)
        accounts = c.get("/api/v1/accounts", headers=ADMIN)
        assert accounts.status_code == 200
        reasons = [a.get("reason") or a.get("disabled_reason") for a in accounts.json()["accounts"]]
        seen.append(accounts.text)
        seen.append(c.get("/metrics").text)
        seen.append(c.get("/readyz").text)
    emulator.state.fault_book.clear()
    assert any("Cloudflare" in text for text in seen)  # the errors were answered, worded
    assert any(r for r in reasons), accounts.text  # disabled, with a reason given
    assert "[REDACTED]" in "".join(seen)  # the echoed text arrived, and was scrubbed
    serve.stop()
    everything = "\n".join(seen) + serve.output() + data_files(serve)
    assert leaks(everything) == []


def test_llm_answers_and_errors_are_scrubbed_where_they_enter():
    account_id, token = next(iter(ACCOUNTS.items()))
    settings = load_settings({"CF_ACCOUNT_LIST": account_list()})
    answer = (
        f"Sure: account {account_id}, Authorization: Bearer {token}, other 0123456789abcdef" * 2
    )

    def upstream(request: httpx.Request) -> httpx.Response:
        if b"fail" in request.content:
            error = {"code": 5006, "message": f"Bad input for {account_id} token={token}"}
            return httpx.Response(400, json={"success": False, "errors": [error]})
        return httpx.Response(200, json={"success": True, "result": {"response": answer}})

    async def run() -> tuple[str, str]:
        transport = httpx.MockTransport(upstream)
        async with httpx.AsyncClient(transport=transport) as http:
            client = WorkersAIClient(http, "http://cf.test", scrub=upstream_scrubber(settings))
            account = settings.accounts[0]
            ok = await client.run_text(account, "@cf/meta/llama", {"prompt": "hi"})
            try:
                await client.run_text(account, "@cf/meta/llama", {"prompt": "fail"})
            except Exception as exc:
                return ok.text, str(exc)
            raise AssertionError("no error")

    text, error = asyncio.run(run())
    assert "Sure: account [REDACTED]" in text
    assert leaks(text + error) == []
    assert "Bad input for [REDACTED]" in error
