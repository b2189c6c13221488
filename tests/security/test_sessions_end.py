"""Finding 3: sessions end. Against a real `serve`, a saved `flux_session` cookie replayed after
`POST /signout` reads nothing (before: `/api/v1/images` and `/history` for 30 days); revoking
the session's key ends it; an idle session expires after `FLUX_REMIX_SESSION_IDLE_TIMEOUT`; and
with Redis a sign-out on one replica ends the session on every replica."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.conftest import ADMIN, API_KEY
from tests.servers import require_redis
from tests.web.helpers import hidden_field, sign_in


def replay(server, cookie: str) -> tuple[int, int]:
    """(`/api/v1/images` status, whether `/history` showed history) for a bare saved cookie."""
    with httpx.Client(base_url=server.url, timeout=30, headers={"Cookie": cookie}) as c:
        api = c.get("/api/v1/images").status_code
        page = c.get("/history", follow_redirects=False)
        return api, page.status_code


def saved_cookie(client: httpx.Client) -> str:
    return f"flux_session={client.cookies['flux_session']}"


def sign_out(client: httpx.Client) -> None:
    page = client.get("/")
    token = hidden_field(page.text, "csrf_token")
    assert client.post("/signout", data={"csrf_token": token}).status_code == 303


def test_a_cookie_replayed_after_sign_out_reads_nothing(serve):
    with sign_in(serve, API_KEY) as (client, _):
        cookie = saved_cookie(client)
        assert replay(serve, cookie) == (200, 200)
        sign_out(client)
    api, history = replay(serve, cookie)
    assert api == 401
    assert history in (302, 303, 307)  # sent to the sign-in page


def test_revoking_a_key_ends_its_sessions(serve):
    with serve.client(headers=ADMIN) as admin:
        made = admin.post("/api/v1/keys", json={"label": "browser"}).json()
    with sign_in(serve, made["key"]) as (client, _):
        cookie = saved_cookie(client)
        assert replay(serve, cookie)[0] == 200
        with serve.client(headers=ADMIN) as admin:
            assert admin.delete(f"/api/v1/keys/{made['id']}").status_code == 200
        assert replay(serve, cookie)[0] == 401


def test_an_idle_session_expires(start_serve):
    server = start_serve(FLUX_REMIX_SESSION_IDLE_TIMEOUT="2")
    with sign_in(server, API_KEY) as (c, _):
        cookie = saved_cookie(c)
        for _ in range(3):  # used every second: it stays
            time.sleep(1)
            assert replay(server, cookie)[0] == 200
        time.sleep(3)  # unused past the idle timeout: gone
        assert replay(server, cookie)[0] == 401


def test_a_sign_out_on_one_replica_ends_the_session_on_all(start_serve):
    tag = uuid.uuid4().hex[:10]
    shared = {
        "REDIS_URL": require_redis(),
        "REDIS_PREFIX": f"flux-test-{tag}:",
        "FLUX_REMIX_SESSION_SECRET": f"replica-session-secret-{tag}",
    }
    a, b = start_serve(**shared), start_serve(**shared)
    with sign_in(a, API_KEY) as (on_a, _):
        cookie = saved_cookie(on_a)
        assert replay(b, cookie)[0] == 200  # the session is known to both
        with httpx.Client(base_url=b.url, timeout=30, headers={"Cookie": cookie}) as on_b:
            sign_out(on_b)
        assert replay(a, cookie)[0] == 401
        assert replay(b, cookie)[0] == 401
