"""Language, theme and a phone-sized screen, in a real browser."""

import pytest

from tests.conftest import AUTH
from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.browser

NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_the_page_follows_the_browser_language_and_switches(site, new_page, emulator):
    page = new_page(locale="zh-CN")
    sign_in(page, site)
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.text_content("nav a[aria-current=page]") == "生成"
    assert page.text_content("label[for=prompt]") == "提示词"
    page.fill("#prompt", "一只猫")
    page.click("#generate-button")
    page.wait_for_selector("#result-grid img")
    assert "完成" in page.text_content("#status")
    assert page.text_content("#result-translator") == "由大模型翻译"
    shot(page, "generate-zh")

    page.click("#lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.text_content("label[for=prompt]") == "Prompt"
    page.goto(site.url + "/history")  # remembered across pages
    assert page.get_attribute("html", "lang") == "en"
    page.click("#lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    page.wait_for_selector("#gallery li.card")
    assert page.text_content("h1") == "历史记录"
    shot(page, "history-zh")


def test_dark_and_light_themes_switch_and_are_remembered(site, new_page, emulator):
    page = new_page(color_scheme="light")
    sign_in(page, site)
    assert page.get_attribute("html", "data-theme") == "auto"
    background = "() => getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    page.click("#theme-switch")
    assert page.get_attribute("html", "data-theme") == "dark"
    assert page.evaluate(background) != light
    assert page.get_attribute("#theme-switch", "aria-label") == "Switch to the light theme"
    page.reload()
    assert page.get_attribute("html", "data-theme") == "dark"  # rendered by the server: no flash
    page.fill("#prompt", "a night city in the rain")
    page.click("#generate-button")
    page.wait_for_selector("#result-grid img")
    shot(page, "generate-dark")
    page.goto(site.url + "/history")
    page.wait_for_selector("#gallery li.card img")
    shot(page, "history-dark")
    page.click("#theme-switch")
    assert page.get_attribute("html", "data-theme") == "light"
    assert page.evaluate(background) == light

    system_dark = new_page(color_scheme="dark")
    sign_in(system_dark, site)
    assert system_dark.evaluate(background) != light  # "auto" follows the system


def test_usable_on_a_375_px_phone(site, new_page, emulator):
    with site.client(headers=AUTH) as c:
        c.post("/api/v1/images", json={"prompt": "a small boat", "model": "DS-8-CF", "n": 3})
    page = new_page(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page.goto(site.url + "/signin")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    shot(page, "phone-signin")
    sign_in(page, site)
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    shot(page, "phone-generate")
    page.select_option("#model", "@cf/bytedance/stable-diffusion-xl-lightning")
    page.fill("#prompt", "a lighthouse on a cliff")
    page.tap("#generate-button")
    img = page.locator("#result-grid img").first
    img.wait_for()
    box = page.locator("#result-grid .frame").first.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    img.scroll_into_view_if_needed()
    shot(page, "phone-result")
    page.goto(site.url + "/history")
    page.wait_for_selector("#gallery li.card img")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    columns = page.eval_on_selector(
        "#gallery", "g => getComputedStyle(g).gridTemplateColumns.split(' ').length"
    )
    assert columns == 2
    shot(page, "phone-history")
    page.locator("#gallery button.thumb").first.tap()
    page.locator("#detail").wait_for(state="visible")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    shot(page, "phone-detail", full_page=False)
