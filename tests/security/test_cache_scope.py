"""Finding 8: the image cache does not cross keys. Against a real `serve` with two keys, the
second key sending the first key's exact prompt and seed learns nothing of it: not `"cache":
"hit"`, no `cached_from`, no shared image id; it gets (and pays for) its own image, which the
first key's delete does not touch (before: a hit, with `cached_from` = the other key's image
id, which is the capability for that image's URL)."""

from __future__ import annotations

import pytest

from tests.api_helpers import image_calls
from tests.conftest import API_KEY, AUTH

OTHER_KEY = "test-other-key-MIKE-7a6b5c4d3e2f"
OTHER = {"Authorization": f"Bearer {OTHER_KEY}"}
BODY = {"prompt": "a paper boat", "model": "DS-8-CF", "width": 256, "height": 256, "seed": 7}


@pytest.fixture
def serve(start_serve):
    return start_serve(API_KEY=f"{API_KEY},{OTHER_KEY}")


def test_a_second_key_learns_nothing_of_the_first_keys_image(serve, emulator):
    with serve.client() as c:
        mine = c.post("/api/v1/images", json=BODY, headers=AUTH).json()
        theirs = c.post("/api/v1/images", json=BODY, headers=OTHER).json()
        assert mine["cache"] == "miss" and theirs["cache"] == "miss"
        assert theirs["images"][0]["id"] != mine["images"][0]["id"]
        assert mine["images"][0]["id"] not in str(theirs)
        assert len(image_calls(emulator)) == 2
        listed = c.get("/api/v1/images", headers=OTHER).json()["images"]
        assert [i["cached_from"] for i in listed] == [None]
        assert mine["images"][0]["id"] not in str(listed)
        # within one key the cache still answers
        again = c.post("/api/v1/images", json=BODY, headers=AUTH).json()
        assert again["cache"] == "hit" and again["images"][0]["id"] == mine["images"][0]["id"]
        assert len(image_calls(emulator)) == 2
        # the first key's delete leaves the second key's image whole
        assert (
            c.delete(f"/api/v1/images/{mine['images'][0]['id']}", headers=AUTH).status_code == 200
        )
        url = theirs["images"][0]["url"].removeprefix(serve.url)
        assert c.get(url).status_code == 200
