"""Style presets through the native API: the words join the prompt sent, the id is stored."""

import pytest

from flux_remix.styles import BY_ID, STYLES, check_style, with_style
from tests.conftest import AUTH


def test_a_style_adds_its_words_to_the_prompt_sent_and_is_stored(app_server, emulator):
    body = {"prompt": "夕阳下的灯塔", "model": "DS-8-CF", "style": "watercolor", "n": 2}
    with app_server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json={**body, "response_format": "url"})
        assert r.status_code == 200, r.text
        out = r.json()
        stored = [c.get(f"/api/v1/images/{i['id']}").json() for i in out["images"]]
    words = BY_ID["watercolor"].words
    assert out["final_prompt"].endswith(f", {words}")
    assert "灯塔" not in out["final_prompt"]  # translated first, the style's words after
    assert out["translated_prompt"] == out["final_prompt"].removesuffix(f", {words}")
    assert out["params"]["style"] == "watercolor"
    for record in stored:
        assert record["params"]["style"] == "watercolor"
        assert record["final_prompt"] == out["final_prompt"]
        assert record["prompt"] == "夕阳下的灯塔"


def test_without_a_style_nothing_is_added_or_stored(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        r = c.post("/api/v1/images", json={"prompt": "a red fox", "model": "DS-8-CF"})
    assert r.status_code == 200, r.text
    assert r.json()["final_prompt"] == "a red fox"
    assert "style" not in r.json()["params"]


@pytest.mark.parametrize("path", ["/api/v1/images", "/api/v1/jobs"])
def test_an_unknown_style_is_refused_before_any_work(app_server, emulator, path):
    with app_server.client(headers=AUTH) as c:
        r = c.post(path, json={"prompt": "a red fox", "style": "vaporwave"})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["param"] == "style"
    assert "vaporwave" in error["message"] and "line-art" in error["message"]
    assert emulator.state.calls() == []


def test_with_style_joins_after_trailing_punctuation():
    assert with_style("a cat.", "photo") == f"a cat, {BY_ID['photo'].words}"
    assert with_style("一只猫，", "anime") == f"一只猫, {BY_ID['anime'].words}"
    assert with_style("a cat", None) == "a cat"
    assert check_style(None) is None and check_style("cinematic") == "cinematic"
    with pytest.raises(ValueError, match="one of: photo"):
        check_style("Photo")


def test_the_presets_are_the_issue_list_with_both_names():
    assert [s.id for s in STYLES] == [
        "photo",
        "anime",
        "watercolor",
        "oil-painting",
        "cinematic",
        "line-art",
    ]
    for style in STYLES:
        assert style.name("en") and style.name("zh") and style.name("zh") != style.name("en")
        assert style.words.isascii()  # sent after translation: English only
