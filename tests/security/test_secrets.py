"""A whole session against a real `flux-remix serve` (debug logs, JSON lines): every API shape,
jobs, keys, upstream failures, refused and cut-off requests, the pages signed in and out,
`/metrics`. No account token, account id or API key appears in any response body or header, page,
metric or log line. A crashing request is checked the same way with the real log set-up."""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Iterator

import httpx
import pytest

from flux_remix.emulator import FaultSpec
from flux_remix.logs import configure_logging
from tests.conftest import ACCOUNT_IDS, ACCOUNTS, ADMIN, ADMIN_KEY, API_KEY, AUTH, account_list
from tests.processes import ServeProcess, base_env
from tests.web.helpers import hidden_field

WRONG_TOKEN = "tok-WRONG-DELTA-0123456789abcdefghijklmnopq"
SESSION_SECRET = "session-secret-ECHO-0123456789abcdef"
PEPPER = "key-pepper-FOXTROT-0123456789abcdef"
SECRETS = [
    *ACCOUNT_IDS,
    *ACCOUNTS.values(),
    WRONG_TOKEN,
    API_KEY,
    ADMIN_KEY,
    SESSION_SECRET,
    PEPPER,
]


class Recorder:
    """Keeps the text of every response (body and headers) seen in the session."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.statuses: list[int] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.statuses.append(response.status_code)
        self.seen.append(f"{response.request.method} {response.request.url.path}")
        self.seen.append(str(response.headers.multi_items()))
        self.seen.append(response.text)


@pytest.fixture
def serve(tmp_path, emulator) -> Iterator[ServeProcess]:
    tokens = {**ACCOUNTS, ACCOUNT_IDS[2]: WRONG_TOKEN}  # cf-3's token is refused
    env = base_env(
        tmp_path,
        emulator.base_url,
        CF_ACCOUNT_LIST=account_list(ACCOUNT_IDS, tokens),
        LOG_LEVEL="DEBUG",
        LOG_FORMAT="json",
        FLUX_REMIX_SESSION_SECRET=SESSION_SECRET,
        FLUX_REMIX_KEY_PEPPER=PEPPER,
        FLUX_REMIX_MAX_BODY_BYTES="200000",
        FLUX_REMIX_BREAKER_FAILURES="100",  # the failures below must not rest the accounts
    )
    with ServeProcess(env, tmp_path / "serve.log") as server:
        yield server


def test_a_whole_session_leaks_no_secret(serve, emulator):
    record = Recorder()
    hooks = {"response": [record]}
    with (
        httpx.Client(base_url=serve.url, timeout=60, headers=AUTH, event_hooks=hooks) as c,
        httpx.Client(base_url=serve.url, timeout=60, event_hooks=hooks) as anonymous,
    ):
        # every API shape, in every answer format
        c.post("/api/image", json={"messages": [{"role": "user", "content": "一只猫在月光下"}]})
        c.post("/api/generate-image", json={"prompt": "a fox", "model": "DS-8-CF"})
        c.get("/api/models")
        made = c.post("/api/v1/images", json={"prompt": "a boat", "model": "DS-8-CF", "n": 2})
        assert made.status_code == 200, made.text[:300]
        image = made.json()["images"][0]
        c.post("/api/v1/images", json={"prompt": "雪山", "response_format": "url"})
        c.post("/api/v1/prompt", json={"prompt": "城市夜景 16:9", "enhance": True})
        c.get("/api/v1/models")
        c.get("/api/v1/images")
        c.get(f"/api/v1/images/{image['id']}")
        c.get(httpx.URL(image["url"]).path)
        c.post("/v1/images/generations", json={"prompt": "a kite", "model": "DS-8-CF"})
        c.post("/v1/chat/completions", json={"model": "DS-8-CF", "messages": [
            {"role": "user", "content": "a lamp"}]})  # fmt: skip
        with c.stream("POST", "/v1/chat/completions", json={
            "model": "DS-8-CF", "stream": True, "messages": [{"role": "user", "content": "a"}]
        }) as streamed:  # fmt: skip
            record(streamed)
        c.get("/v1/models")
        job = c.post("/api/v1/jobs", json={"prompt": "a tree", "model": "DS-8-CF"}).json()
        with c.stream("GET", f"/api/v1/jobs/{job['id']}/events") as events:
            record(events)
        c.get(f"/api/v1/jobs/{job['id']}")
        c.delete(f"/api/v1/images/{image['id']}")

        # keys: a stored key is shown once, in the answer that makes it, and nowhere after
        created = c.post("/api/v1/keys", json={"label": "session"}, headers=ADMIN)
        stored_key = created.json()["key"]
        record.seen.pop()  # that one answer holds the key by design
        c.get("/api/v1/keys", headers=ADMIN)
        c.post("/api/v1/images", json={"prompt": "x", "model": "DS-8-CF"},
               headers={"Authorization": f"Bearer {stored_key}"})  # fmt: skip
        c.get("/api/v1/accounts", headers=ADMIN)

        # upstream failures of every kind, and the refused token (cf-3 gets disabled)
        for kind in ("flagged", "server_error", "html_error", "malformed", "not_an_image"):
            emulator.state.add_fault(FaultSpec(kind=kind, count=6))
            c.post("/api/v1/images", json={"prompt": "x", "model": "DS-8-CF"})
            emulator.state.clear_faults()

        # refused and broken requests
        anonymous.post("/api/v1/images", json={"prompt": "x"})
        anonymous.get("/api/v1/images", headers={"Authorization": f"Bearer {API_KEY}x"})
        anonymous.get("/api/v1/images", headers={"Authorization": f"Basic {ADMIN_KEY}"})
        c.post("/api/image", content=b"{not json", headers={"content-type": "application/json"})
        c.post("/api/v1/images", json={"prompt": "x" * 300_000})
        c.post("/api/v1/images", json={"prompt": "x", "model": "DS-8-CF", "steps": 99})
        c.post("/api/v1/images", json={"prompt": "x", "model": "no-such-model"})

        # a request cut off by its client while Cloudflare is slow
        emulator.state.add_fault(FaultSpec(kind="slow", delay=2))
        with pytest.raises(httpx.TimeoutException):
            c.post("/api/v1/images", json={"prompt": "x", "model": "DS-8-CF"}, timeout=0.5)
        emulator.state.clear_faults()

        emulator.state.add_fault(FaultSpec(kind="quota"))  # every account is used up
        c.post("/v1/images/generations", json={"prompt": "x", "model": "DS-8-CF"})
        c.post("/api/generate-image", json={"prompt": "x", "model": "DS-8-CF"})

        # the pages, signed out and signed in; operations
        for path in ("/", "/history", "/signin", "/docs", "/openapi.json", "/healthz", "/readyz"):
            anonymous.get(path)
        form = anonymous.get("/signin")
        anonymous.post("/signin", data={
            "key": API_KEY, "csrf_token": hidden_field(form.text, "csrf_token"), "next": "/"
        })  # fmt: skip
        for path in ("/", "/history", "/api/v1/images"):
            anonymous.get(path)
        metrics = anonymous.get("/metrics")
        assert "flux_remix" in metrics.text
    serve.signal(signal.SIGTERM)
    assert serve.wait(30) in (0, -signal.SIGTERM)

    logs = serve.output()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert len(lines) > 40 and any(line["level"] == "debug" for line in lines)
    assert any("disabled" in line["message"] for line in lines)  # the refused token was logged
    assert "shutdown complete" in logs  # every log line up to the end is here
    everything = "\n".join(record.seen) + "\n" + logs
    assert record.statuses.count(200) >= 25
    assert {201, 303, 400, 401, 404, 413, 422, 429, 502} <= set(record.statuses)
    for secret in [*SECRETS, stored_key]:
        assert secret not in everything, f"leaked {secret[:10]}..."


def test_a_crashing_request_is_logged_without_its_secrets(start_app, emulator, capsys):
    server = start_app(LOG_LEVEL="DEBUG")
    runtime = server.server.config.app.state.runtime
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging(runtime.settings, fmt="json", level="DEBUG")

    async def crash(*args: object) -> None:
        raise RuntimeError(f"disk on fire near {ACCOUNT_IDS[0]} with {API_KEY}")

    runtime.service.store.save = crash
    try:
        with server.client(headers=AUTH) as c:
            r = c.post("/api/v1/images", json={"prompt": "x", "model": "DS-8-CF"})
        with server.client(headers=AUTH) as c:  # a new connection: uvicorn closed that one
            assert c.get("/healthz").status_code == 200  # and it keeps serving
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    assert r.status_code == 500
    assert r.json()["error"]["type"] == "internal_error"
    assert r.headers["x-request-id"] in r.json()["error"]["message"]
    logged = capsys.readouterr().err
    assert "RuntimeError" in logged and "Traceback" in logged  # the crash is logged in full...
    assert "[REDACTED]" in logged
    for secret in SECRETS:  # ...with its secrets removed
        assert secret not in logged and secret not in r.text
