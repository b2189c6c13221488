"""History and serving over HTTP, against the real app: store before respond, list, search,
page, read, serve with ETag and cache headers, delete, and per-key visibility."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ADMIN, API_KEY, AUTH
from tests.storage.helpers import stored_blobs

OTHER_KEY = "test-other-key-MIKE-5e6f7a8b9c0d"
OTHER = {"Authorization": f"Bearer {OTHER_KEY}"}
SMALL = {"model": "DS-8-CF", "width": 256, "height": 256}


@pytest.fixture
def app(start_app):
    return start_app(API_KEY=f"{API_KEY},{OTHER_KEY}")


def generate(client, prompt: str, headers=AUTH, **fields) -> dict:
    r = client.post("/api/v1/images", json={"prompt": prompt, **SMALL, **fields}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_every_image_is_stored_with_its_metadata_before_the_answer(app, tmp_path: Path) -> None:
    with app.client() as c:
        body = generate(c, "一只可爱的猫咪", seed=5, n=2, negative_prompt="blurry", steps=6)
        for image in body["images"]:
            meta = c.get(f"/api/v1/images/{image['id']}", headers=AUTH)
            assert meta.status_code == 200, meta.text
            m = meta.json()
            data = base64.b64decode(image["b64_json"])
            assert m["url"] == image["url"] == f"{app.url}/images/{image['id']}.png"
            assert m["prompt"] == "一只可爱的猫咪"
            assert m["final_prompt"] == body["final_prompt"]
            assert m["model"] == "@cf/lykon/dreamshaper-8-lcm"
            assert m["seed"] == image["seed"] and m["params"]["seed"] == image["seed"]
            assert m["params"]["negative_prompt"] == "blurry" and m["params"]["steps"] == 6
            assert (m["width"], m["height"], m["mime_type"]) == (256, 256, "image/png")
            assert m["bytes"] == len(data) and m["sha256"] == hashlib.sha256(data).hexdigest()
            assert m["account"].startswith("cf-") and m["neurons"] == image["neurons"]
            assert m["generation_id"] == body["id"] and m["key_id"].startswith("key_")
            assert set(m["timings"]) == {"translate_ms", "generate_ms"}
            assert API_KEY not in meta.text
        assert sorted(i["seed"] for i in body["images"]) == [5, 6]
    blobs = stored_blobs(tmp_path / "data" / "images")
    assert blobs == sorted(f"{i['id']}.png" for i in body["images"])
    assert (tmp_path / "data" / "flux-remix.sqlite3").is_file()


def test_images_are_served_with_type_etag_and_cache_headers(app) -> None:
    with app.client() as c:
        png = generate(c, "a lighthouse")["images"][0]
        jpg = generate(c, "a lighthouse", model="FLUX.1-Schnell-CF", width=None, height=None)
        jpg = jpg["images"][0]
        assert jpg["url"].endswith(".jpg")
        for image, mime in ((png, "image/png"), (jpg, "image/jpeg")):
            path = image["url"].removeprefix(app.url)
            r = c.get(path)  # no key: an image URL is a capability (chat clients, <img>)
            assert r.status_code == 200
            assert r.headers["content-type"] == mime
            assert r.content == base64.b64decode(image["b64_json"])
            etag = r.headers["etag"]
            assert etag == f'"{hashlib.sha256(r.content).hexdigest()}"'
            assert "immutable" in r.headers["cache-control"]
            assert "max-age=31536000" in r.headers["cache-control"]
            again = c.get(path, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b""
            head = c.head(path)
            assert head.status_code == 200 and head.headers["content-length"] == str(len(r.content))
        wrong_ext = png["url"].removeprefix(app.url).replace(".png", ".jpg")
        assert c.get(wrong_ext).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/images/../flux-remix.sqlite3",
        "/images/..%2fflux-remix.sqlite3",
        "/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/images/....//....//etc/passwd",
        "/images/0123456789abcdef0123456789abcdef.gif",
        "/images/0123456789abcdef0123456789abcdef.png",
        "/images/0123456789ABCDEF0123456789ABCDEF.png",
        "/images/.0123456789abcdef0123456789abcdef.png.1234abcd.tmp",
        "/images/flux-remix.sqlite3",
    ],
)
def test_no_path_escapes_the_image_store(app, path: str) -> None:
    with app.client() as c:
        r = c.get(path)
    assert r.status_code == 404
    assert b"SQLite" not in r.content


def test_history_lists_searches_filters_and_pages(app) -> None:
    with app.client() as c:
        made = [generate(c, f"harbour scene number {i}")["images"][0]["id"] for i in range(5)]
        cat = generate(c, "一只猫在屋顶上")["images"][0]["id"]
        other_model = generate(c, "harbour", model="SD-XL-Lightning-CF")["images"][0]["id"]

        def ids(**params) -> list[str]:
            r = c.get("/api/v1/images", params=params, headers=AUTH)
            assert r.status_code == 200, r.text
            return [m["id"] for m in r.json()["images"]]

        newest_first = [other_model, cat, *reversed(made)]
        assert ids() == newest_first
        assert ids(q="HARBOUR SCENE") == list(reversed(made))
        assert ids(q="屋顶") == [cat]
        assert ids(model="SD-XL-Lightning-CF") == [other_model]
        assert ids(model="@cf/lykon/dreamshaper-8-lcm") == [cat, *reversed(made)]
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        assert ids(since=tomorrow) == []
        assert ids(since=yesterday, until=tomorrow) == newest_first

        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = c.get("/api/v1/images", params=params, headers=AUTH).json()
            seen += [m["id"] for m in page["images"]]
            cursor, pages = page["next_cursor"], pages + 1
            if cursor is None:
                break
        assert seen == newest_first and pages == 3

        bad = c.get("/api/v1/images", params={"cursor": "not a cursor!"}, headers=AUTH)
        assert bad.status_code == 422 and bad.json()["error"]["param"] == "cursor"
        assert c.get("/api/v1/images", params={"limit": 0}, headers=AUTH).status_code == 422
        assert c.get("/api/v1/images").status_code == 401


def test_each_key_sees_its_own_images_and_an_admin_sees_all(app) -> None:
    with app.client() as c:
        mine = generate(c, "mine")["images"][0]["id"]
        theirs = generate(c, "theirs", headers=OTHER)["images"][0]["id"]

        def listed(headers, **params) -> list[str]:
            r = c.get("/api/v1/images", params=params, headers=headers)
            assert r.status_code == 200, r.text
            return [m["id"] for m in r.json()["images"]]

        assert listed(AUTH) == [mine]
        assert listed(OTHER) == [theirs]
        assert listed(ADMIN) == [theirs, mine]
        their_key = c.get(f"/api/v1/images/{theirs}", headers=ADMIN).json()["key_id"]
        assert listed(ADMIN, key=their_key) == [theirs]
        assert c.get("/api/v1/images", params={"key": their_key}, headers=AUTH).status_code == 403
        # another key's image is not found, exactly like a missing one
        assert c.get(f"/api/v1/images/{theirs}", headers=AUTH).status_code == 404
        assert c.delete(f"/api/v1/images/{theirs}", headers=AUTH).status_code == 404
        assert c.get(f"/api/v1/images/{theirs}", headers=OTHER).status_code == 200


def test_with_auth_off_everything_is_visible(start_app) -> None:
    app = start_app(API_KEY="", ADMIN_API_KEY="")
    with app.client() as c:
        made = generate(c, "open house", headers={})["images"][0]["id"]
        listed = c.get("/api/v1/images").json()["images"]
        assert [m["id"] for m in listed] == [made] and listed[0]["key_id"] is None


def test_delete_removes_the_row_and_the_blob(app, tmp_path: Path) -> None:
    images = tmp_path / "data" / "images"
    with app.client() as c:
        image = generate(c, "to be deleted")["images"][0]
        path = image["url"].removeprefix(app.url)
        assert stored_blobs(images) == [f"{image['id']}.png"]
        r = c.delete(f"/api/v1/images/{image['id']}", headers=AUTH)
        assert r.status_code == 200 and r.json() == {"id": image["id"], "deleted": True}
        assert stored_blobs(images) == []
        assert c.get(path).status_code == 404
        assert c.get(f"/api/v1/images/{image['id']}", headers=AUTH).status_code == 404
        assert c.delete(f"/api/v1/images/{image['id']}", headers=AUTH).status_code == 404
        assert c.get("/api/v1/images", headers=AUTH).json()["images"] == []


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/api/image", {"messages": [{"role": "user", "content": "a red fox"}]}),
        ("/api/generate-image", {"prompt": "a red fox"}),
        ("/api/v1/images", {"prompt": "a red fox"}),
    ],
)
def test_every_api_shape_can_answer_a_url(app, route: str, body: dict) -> None:
    with app.client(headers=AUTH) as c:
        r = c.post(route, json={**body, "model": "DS-8-CF", "response_format": "url"})
        assert r.status_code == 200, r.text
        answer = r.json()
        url = answer["image"] if route != "/api/v1/images" else answer["images"][0]["url"]
        if route == "/api/v1/images":
            assert answer["images"][0]["b64_json"] is None
        assert url.startswith(f"{app.url}/images/") and url.endswith(".png")
        served = c.get(url.removeprefix(app.url))
        assert served.status_code == 200 and served.content.startswith(b"\x89PNG")
        default = c.post(route, json={**body, "model": "DS-8-CF"}).json()
        b64 = default["image"] if route != "/api/v1/images" else default["images"][0]["b64_json"]
        assert base64.b64decode(b64).startswith(b"\x89PNG")


def test_public_base_url_shapes_every_url(start_app) -> None:
    app = start_app(PUBLIC_BASE_URL="https://img.example.com")
    with app.client(headers=AUTH) as c:
        image = generate(c, "a kite")["images"][0]
        assert image["url"] == f"https://img.example.com/images/{image['id']}.png"
        listed = c.get("/api/v1/images").json()["images"][0]
        assert listed["url"] == image["url"]
