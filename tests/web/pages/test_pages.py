"""The pages over HTTP: demo banner, language, headers, static files with cache-busting URLs."""

import re

import pytest

from flux_remix.web import create_app
from flux_remix.web.i18n import EN, ZH, from_accept_language
from tests.conftest import API_KEY, SECRETS
from tests.support import ServerThread
from tests.web.helpers import sign_in


@pytest.fixture
def demo_server(make_settings):
    settings = make_settings().model_copy(update={"demo": True})
    with ServerThread(create_app(settings)) as server:
        yield server


def test_every_page_shows_the_demo_banner_in_demo_mode(demo_server):
    with demo_server.client() as c:
        signin = c.get("/signin")
        assert 'class="demo-banner"' in signin.text
    with sign_in(demo_server, API_KEY) as (client, _):
        for path in ("/", "/history"):
            page = client.get(path)
            assert page.status_code == 200
            assert 'class="demo-banner"' in page.text
            assert "not AI output" in page.text


def test_no_banner_outside_demo_mode(app_server):
    with sign_in(app_server, API_KEY) as (client, _):
        assert 'class="demo-banner"' not in client.get("/").text


def test_the_language_follows_the_browser_and_the_switch(app_server):
    with sign_in(app_server, API_KEY) as (client, _):
        zh = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
        assert '<html lang="zh-CN"' in zh.text
        assert ZH["generate_title"] in zh.text and ZH["prompt"] in zh.text
        en = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
        assert '<html lang="en"' in en.text and EN["prompt_placeholder"] in en.text
        client.cookies.set("flux_lang", "en", domain="127.0.0.1")
        chosen = client.get("/", headers={"Accept-Language": "zh-CN"})
        assert '<html lang="en"' in chosen.text


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("", "en"),
        ("zh-CN", "zh"),
        ("zh-TW,zh;q=0.9", "zh"),
        ("en-GB,en;q=0.9,zh;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,zh;q=0.5", "zh"),
        ("de,en;q=0.3,zh;q=0.7", "zh"),
        ("zh;q=0, en", "en"),
        ("ja", "en"),
        ("zh;q=bad", "en"),
    ],
)
def test_accept_language(header, lang):
    assert from_accept_language(header) == lang


def test_both_languages_have_every_message():
    assert set(EN) == set(ZH)
    for key, text in EN.items():
        assert sorted(re.findall(r"\{\w+\}", text)) == sorted(re.findall(r"\{\w+\}", ZH[key])), key


def test_the_theme_cookie_is_rendered_on_the_server(app_server):
    with sign_in(app_server, API_KEY) as (client, _):
        assert 'data-theme="auto"' in client.get("/").text
        client.cookies.set("flux_theme", "dark", domain="127.0.0.1")
        assert 'data-theme="dark"' in client.get("/").text
        client.cookies.set("flux_theme", "<script>", domain="127.0.0.1")
        assert 'data-theme="auto"' in client.get("/").text


def test_pages_send_a_strict_content_security_policy(app_server):
    with sign_in(app_server, API_KEY) as (client, _):
        page = client.get("/")
    policy = page.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert f'<script type="importmap" nonce="{nonce}">' in page.text
    assert "script-src 'self' 'nonce-" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page.text)
    assert all("nonce=" in attrs or "application/json" in attrs for attrs in inline)


def test_static_files_have_cache_busting_urls(app_server):
    with sign_in(app_server, API_KEY) as (client, _):
        page = client.get("/").text
    urls = re.findall(r"(/static/[\w/.-]+\?v=[0-9a-f]{10})", page)
    assert any(u.startswith("/static/app.css?v=") for u in urls)
    assert any(u.startswith("/static/js/generate.js?v=") for u in urls)
    assert any(u.startswith("/static/js/common.js?v=") for u in urls)  # through the import map
    with app_server.client() as c:
        for url in urls:
            r = c.get(url)
            assert r.status_code == 200, url
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
            again = c.get(url, headers={"If-None-Match": r.headers["etag"]})
            assert again.status_code == 304
        css = c.get("/static/app.css")
        assert css.headers["content-type"].startswith("text/css")
        assert css.headers["cache-control"] == "no-cache"
        js = c.get("/static/js/common.js")
        assert js.headers["content-type"].startswith("text/javascript")
        assert c.get("/static/js/../../routes/pages.py").status_code == 404
        assert c.get("/static/nothing.js").status_code == 404
        stale = c.get("/static/app.css?v=0000000000")
        assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"


def test_pages_and_assets_hold_no_secret(app_server):
    seen = []
    with app_server.client() as c:
        seen.append(c.get("/signin").text)
    with sign_in(app_server, API_KEY) as (client, _):
        for path in ("/", "/history"):
            r = client.get(path)
            seen += [r.text, str(r.headers)]
            for asset in re.findall(r"(/static/[\w/.-]+\?v=[0-9a-f]{10})", r.text):
                seen.append(client.get(asset).text)
        seen.append(str(client.cookies.jar))
    everything = "\n".join(seen)
    for secret in SECRETS:
        assert secret not in everything


def test_history_rerun_link_target_is_escaped(app_server):
    with sign_in(app_server, API_KEY) as (client, _):
        page = client.get("/", params={"rerun": '"><script>alert(1)</script>'})
    assert "<script>alert(1)</script>" not in page.text


def test_sign_in_does_not_redirect_off_site(app_server):
    with app_server.client() as c:
        for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
            form = c.get("/signin", params={"next": target})
            assert 'name="next" value="/"' in form.text
