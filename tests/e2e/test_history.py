"""History in a real browser: search, filter, infinite scroll, detail view, re-run, delete."""

import pytest

from tests.conftest import ADMIN, AUTH
from tests.e2e.conftest import make, shot, sign_in

pytestmark = pytest.mark.browser


def cards(page):
    return page.locator("#gallery li.card")


def test_find_an_image_by_search_look_at_it_and_delete_it(site, page, emulator):
    make(site, "a red fox in snow", seed=11)
    whale = make(site, "a blue whale under the sea", seed=22, width=768, height=512)[0]
    make(site, "a green parrot", seed=33)
    make(site, "a blue whale that another key made", headers=ADMIN)
    sign_in(page, site, path="/history")
    page.wait_for_function("() => document.querySelectorAll('#gallery li.card img').length === 3")
    assert "That is everything" in page.text_content("#history-status")
    shot(page, "history")

    page.fill("#q", "whale")
    page.wait_for_function("() => document.querySelectorAll('#gallery li.card').length === 1")
    assert "whale" in cards(page).first.text_content()
    assert "q=whale" in page.url
    img = cards(page).first.locator("img")
    assert (img.get_attribute("width"), img.get_attribute("height")) == ("768", "512")
    assert img.get_attribute("loading") == "lazy"
    shot(page, "history-search")

    cards(page).first.locator("button.thumb").click()
    dialog = page.locator("#detail")
    dialog.wait_for(state="visible")
    params = page.text_content("#detail-params")
    assert "22" in params and "768" in params and "DreamShaper" in params
    assert page.text_content("#detail-prompt") == "a blue whale under the sea"
    assert page.get_attribute("#detail-download", "href") == whale["url"]
    assert page.get_attribute("#detail-rerun", "href") == f"/?rerun={whale['id']}"
    shot(page, "history-detail", full_page=False)

    page.once("dialog", lambda d: d.accept())
    page.click("#detail-delete")
    page.wait_for_function("() => document.querySelectorAll('#gallery li.card').length === 0")
    assert not dialog.is_visible()
    assert "No image matches" in page.text_content("#history-status")
    with site.client(headers=AUTH) as c:
        assert c.get(f"/api/v1/images/{whale['id']}").status_code == 404
        assert c.get(whale["url"]).status_code == 404

    page.fill("#q", "")
    page.wait_for_function("() => document.querySelectorAll('#gallery li.card').length === 2")
    page.select_option("#model-filter", "@cf/stabilityai/stable-diffusion-xl-base-1.0")
    page.wait_for_selector("#history-status:has-text('No image matches')")
    assert cards(page).count() == 0


def test_rerun_fills_the_generate_form(site, page, emulator):
    image = make(site, "a paper boat on a pond", seed=1234, width=640, height=384, steps=6)[0]
    sign_in(page, site, path="/history")
    cards(page).first.locator("button.thumb").click()
    page.click("#detail-rerun")
    page.wait_for_url(f"**/?rerun={image['id']}")
    page.wait_for_function("() => document.querySelector('#prompt').value !== ''")
    assert page.input_value("#prompt") == "a paper boat on a pond"
    assert page.input_value("#model") == "@cf/lykon/dreamshaper-8-lcm"
    assert page.input_value("#seed") == "1234"
    assert (page.input_value("#width"), page.input_value("#height")) == ("640", "384")
    assert page.input_value("#p-steps") == "6"


def test_the_gallery_loads_more_as_you_scroll_and_works_by_keyboard(site, page, emulator):
    for i in range(4):
        make(site, f"tile number {i}", n=8, seed=100 * i)
    sign_in(page, site, path="/history")
    page.wait_for_function("() => document.querySelectorAll('#gallery li.card').length === 24")
    page.mouse.wheel(0, 20000)
    page.wait_for_function("() => document.querySelectorAll('#gallery li.card').length === 32")
    page.wait_for_selector("#history-status:has-text('That is everything')")
    ids = page.eval_on_selector_all("#gallery li.card", "els => els.map(e => e.dataset.id)")
    assert len(set(ids)) == 32

    page.keyboard.press("Home")
    page.focus("#model-filter")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "thumb"
    page.keyboard.press("Enter")
    page.locator("#detail").wait_for(state="visible")
    page.keyboard.press("Escape")
    page.locator("#detail").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.className") == "thumb"  # focus came back
