"""Signing in to the web page: a signed HttpOnly cookie in place of the key, and CSRF checks."""

from flux_remix.web.session import COOKIE
from tests.conftest import ADMIN_KEY, API_KEY
from tests.web.helpers import csrf_meta, follow_job, hidden_field, sign_in


def test_pages_ask_for_a_key_first(app_server):
    with app_server.client() as c:
        for path in ("/", "/history", "/?rerun=abc"):
            r = c.get(path)
            assert r.status_code == 303
            assert r.headers["location"].startswith("/signin?next=/")
        form = c.get("/signin")
        assert form.status_code == 200
        assert 'type="password"' in form.text


def test_signing_in_keeps_a_signed_httponly_cookie_never_the_key(app_server):
    with sign_in(app_server, API_KEY) as (client, csrf):
        cookie = next(c for c in client.cookies.jar if c.name == COOKIE)
        assert API_KEY not in cookie.value
        header = client.get("/signin").headers  # signed in: redirected, no new cookie
        assert "set-cookie" not in header
        page = client.get("/")
        assert API_KEY not in page.text
        assert csrf and csrf in page.text
        history = client.get("/history")
        assert history.status_code == 200 and API_KEY not in history.text
        # the page's own API calls ride on the cookie
        assert client.get("/api/v1/images").status_code == 200
        assert client.get("/api/v1/models").status_code == 200


def test_the_session_cookie_attributes(app_server):
    with app_server.client() as c:
        token = hidden_field(c.get("/signin").text, "csrf_token")
        r = c.post("/signin", data={"key": API_KEY, "csrf_token": token, "next": "/history"})
    assert r.status_code == 303
    assert r.headers["location"] == "/history"
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and COOKIE in v)
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
    assert "secure" not in lowered  # plain http here
    assert API_KEY not in cookie


def test_the_cookie_is_secure_behind_https(start_app):
    server = start_app(PUBLIC_BASE_URL="https://img.example.com")
    with server.client() as c:
        form = c.get("/signin")
        login = form.headers["set-cookie"]
        assert "secure" in login.lower()
        nonce = login.split(";")[0]  # a browser on https sends it back; this client is on http
        token = hidden_field(form.text, "csrf_token")
        r = c.post("/signin", data={"key": API_KEY, "csrf_token": token}, headers={"Cookie": nonce})
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and COOKIE in v)
    assert "secure" in cookie.lower()


def test_a_wrong_key_is_refused_with_a_message(app_server):
    with app_server.client() as c:
        token = hidden_field(c.get("/signin").text, "csrf_token")
        r = c.post("/signin", data={"key": "not-the-key", "csrf_token": token})
        assert r.status_code == 401
        assert "not valid" in r.text
        assert COOKIE not in r.headers.get("set-cookie", "")
        assert "not-the-key" not in r.text
        assert c.get("/").status_code == 303


def test_sign_in_refuses_a_form_from_another_site(app_server):
    with app_server.client() as c:
        # no token from our own form (login CSRF)
        r = c.post("/signin", data={"key": API_KEY, "csrf_token": "forged"})
        assert r.status_code == 403
        token = hidden_field(c.get("/signin").text, "csrf_token")
        r = c.post(
            "/signin",
            data={"key": API_KEY, "csrf_token": token},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert r.status_code == 403
        assert COOKIE not in r.headers.get("set-cookie", "")


def test_cookie_requests_that_change_state_need_the_csrf_token(app_server, emulator):
    with sign_in(app_server, API_KEY) as (client, csrf):
        body = {"prompt": "a lighthouse", "model": "DS-8-CF"}
        refused = client.post("/api/v1/jobs", json=body)
        assert refused.status_code == 403
        assert refused.json()["error"]["type"] == "permission_denied"
        forged = client.post("/api/v1/jobs", json=body, headers={"X-CSRF-Token": "x" * 43})
        assert forged.status_code == 403
        cross = client.post(
            "/api/v1/jobs",
            json=body,
            headers={"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"},
        )
        assert cross.status_code == 403
        assert not emulator.state.calls()
        job = client.post("/api/v1/jobs", json=body, headers={"X-CSRF-Token": csrf})
        assert job.status_code == 202
        image_id = follow_job(client, job.json()["id"])[-1].data["images"][0]["id"]
        assert client.delete(f"/api/v1/images/{image_id}").status_code == 403
        deleted = client.delete(f"/api/v1/images/{image_id}", headers={"X-CSRF-Token": csrf})
        assert deleted.status_code == 200


def test_a_forged_or_stale_cookie_is_no_session(start_app, app_server):
    with sign_in(app_server, API_KEY) as (client, _):
        value = client.cookies[COOKIE]
        payload, _, signature = value.partition(".")
        client.cookies.set(COOKIE, payload + "." + signature[::-1], domain="127.0.0.1")
        assert client.get("/api/v1/images").status_code == 401
        assert client.get("/").status_code == 303
    # the same cookie on a server whose keys changed (same data dir, so the same secret)
    other = start_app(API_KEY="a-completely-different-key", FLUX_REMIX_SESSION_SECRET="s" * 32)
    with sign_in(other, "a-completely-different-key") as (client2, _):
        cookie = client2.cookies[COOKIE]
    rotated = start_app(API_KEY="yet-another-key-0000", FLUX_REMIX_SESSION_SECRET="s" * 32)
    with rotated.client(cookies={COOKIE: cookie}) as c:
        assert c.get("/api/v1/images").status_code == 401  # signed, but its key is gone
        assert c.get("/").status_code == 303


def test_admin_sessions_keep_the_admin_role(app_server):
    with sign_in(app_server, ADMIN_KEY) as (client, _):
        assert client.get("/api/v1/accounts").status_code == 200
    with sign_in(app_server, API_KEY) as (user, _):
        assert user.get("/api/v1/accounts").status_code == 403


def test_signing_out_ends_the_session(app_server):
    with sign_in(app_server, API_KEY) as (client, csrf):
        assert client.post("/signout", data={"csrf_token": "wrong"}).status_code == 403
        r = client.post("/signout", data={"csrf_token": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/signin"
        assert COOKIE not in client.cookies
        assert client.get("/").status_code == 303


def test_without_keys_the_pages_are_open(start_app):
    server = start_app(API_KEY="", ADMIN_API_KEY="")
    with server.client() as c:
        page = c.get("/")
        assert page.status_code == 200
        assert 'action="/signout"' not in page.text
        assert c.get("/signin").status_code == 303
        assert csrf_meta(page.text) == ""
