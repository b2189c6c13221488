"""The generate page people enjoy: the empty state, the measured time, a fitted result, the
image viewer, a batch as one ZIP, style presets, a phone-sized screen, models in zh/en."""

import io
import time
import zipfile

import httpx
import pytest

from flux_remix.styles import BY_ID
from flux_remix.web import create_app
from flux_remix.web.i18n import EXAMPLES
from flux_remix.web.model_words import ZH
from tests.conftest import ADMIN, AUTH
from tests.e2e.conftest import make, shot, sign_in
from tests.support import ServerThread

pytestmark = pytest.mark.browser

DONE = "() => document.getElementById('status').dataset.elapsedMs !== undefined"
LOADED = (
    "() => [...document.querySelectorAll('#result-grid img')]"
    ".every(i => i.complete && i.naturalWidth)"
)
DECODED = (
    "() => Promise.all([...document.querySelectorAll('main img[src]')]"
    ".map(i => i.decode().catch(() => null)))"
)
CLOSED = "() => !document.getElementById('lightbox').open"
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"
PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
# visible boxes that come closer than 6 px to the left or right edge of the screen
TOUCHING_EDGES = """() => [...document.querySelectorAll(
    'a, button, input, select, textarea, label, img, h1, h2, h3, p, legend, kbd, .chip')]
  .filter(n => n.offsetParent !== null && !n.closest('dialog:not([open]), .visually-hidden'))
  .map(n => [n, n.getBoundingClientRect()])
  .filter(([, r]) => r.width > 0 && (r.left < 6 || r.right > innerWidth - 6))
  .map(([n]) => n.id || n.className || n.tagName)"""


def generate(page, n=1):
    if n != 1:
        page.select_option("#n", str(n))
    page.click("#generate-button")
    page.wait_for_function(DONE)
    page.wait_for_function(LOADED)
    page.evaluate(DECODED)


def settled(page):
    """Wait for a smooth scroll to end (two frames at the same place)."""
    page.wait_for_function(
        "() => new Promise(ok => { const y = scrollY;"
        " requestAnimationFrame(() => requestAnimationFrame(() => ok(scrollY === y))); })"
    )


@pytest.fixture
def demo_site(make_settings, emulator):
    settings = make_settings().model_copy(update={"demo": True})
    with ServerThread(create_app(settings)) as server:
        yield server


def test_a_new_key_sees_example_prompts_then_its_recent_images(site, new_page, emulator):
    make(site, "another key's secret garden", headers=ADMIN)  # never shown to this key
    emulator.state.clear_calls()
    for locale, lang in (("en-US", "en"), ("zh-CN", "zh")):
        page = new_page(locale=locale)
        sign_in(page, site)
        page.wait_for_selector("#examples:not([hidden])")
        shown = page.locator("button.example").all_text_contents()
        assert shown == [prompt for prompt, _ in EXAMPLES[lang]]
        assert page.is_hidden("#recent") and page.is_hidden("#stages")
        shot(page, f"empty-new-{lang}")

    page.click("button.example >> nth=1")  # fills the prompt and its style, costs nothing
    prompt, style = EXAMPLES["zh"][1]
    assert page.input_value("#prompt") == prompt
    assert page.is_checked(f"#style-{style}")
    assert BY_ID[style].words in page.text_content("#style-hint")
    assert emulator.state.calls() == []

    mine = [make(site, f"a small boat number {i}")[0] for i in range(3)]
    page = new_page()
    sign_in(page, site)
    page.wait_for_selector("#recent:not([hidden])")
    thumbs = page.locator("#recent-grid img")
    assert thumbs.count() == 3
    assert [thumbs.nth(i).get_attribute("src") for i in range(3)] == [
        m["url"] for m in reversed(mine)
    ]
    assert "secret garden" not in page.content()
    assert page.is_hidden("#examples")
    page.locator("#recent-grid button").first.click()
    page.wait_for_selector("#lightbox[open]")
    assert page.get_attribute("#lightbox-img", "src") == mine[-1]["url"]
    page.keyboard.press("Escape")
    page.wait_for_function(CLOSED)

    page.fill("#prompt", "a lighthouse")
    generate(page)
    assert page.is_hidden("#empty-state") and page.is_visible("#stages")


def test_done_in_counts_from_the_click_to_the_stored_images(site, page, emulator):
    """The server's total_ms covers only its pipeline (near 0 for a cached image); what the
    person waited for also holds the request, the queue and the stream."""
    sign_in(page, site)

    def slow_start(route):
        time.sleep(1.2)  # a slow network before the job even reaches the server
        route.continue_()

    page.route("**/api/v1/jobs", slow_start)
    page.select_option("#model", "@cf/lykon/dreamshaper-8-lcm")  # takes a seed: cached
    page.fill("#prompt", "a lighthouse at dusk")
    page.fill("#seed", "7")
    started = time.monotonic()
    generate(page)
    waited = time.monotonic() - started
    shown = float(page.get_attribute("#status", "data-elapsed-ms")) / 1000
    assert 1.2 <= shown <= waited + 0.1
    assert f"Done in {shown:.1f} s." == page.text_content("#status")

    # a cache hit (same seed): the server's own time is a few ms; the page still says the wait
    page.evaluate("() => delete document.getElementById('status').dataset.elapsedMs")
    generate(page)
    assert "from the cache" in page.text_content("#result-summary")
    assert float(page.get_attribute("#status", "data-elapsed-ms")) >= 1200

    page.unroute("**/api/v1/jobs")  # quick now: under a second reads in milliseconds, not "0.0 s"
    page.evaluate("() => delete document.getElementById('status').dataset.elapsedMs")
    generate(page)
    ms = round(float(page.get_attribute("#status", "data-elapsed-ms")))
    assert 0 < ms < 1000 and page.text_content("#status") == f"Done in {max(ms, 1)} ms."


@pytest.mark.parametrize(
    ("model", "size"),
    [
        ("@cf/lykon/dreamshaper-8-lcm", (512, 512)),
        ("@cf/bytedance/stable-diffusion-xl-lightning", (768, 1344)),
    ],
)
def test_a_single_result_is_fitted_and_centred(site, page, emulator, model, size):
    sign_in(page, site)
    page.select_option("#model", model)
    page.fill("#width", str(size[0]))
    page.fill("#height", str(size[1]))
    page.fill("#prompt", "a tall lighthouse")
    generate(page)
    grid = page.locator("#result-grid").bounding_box()
    frame = page.locator("#result-grid .frame").first.bounding_box()
    left, right = frame["x"] - grid["x"], grid["x"] + grid["width"] - frame["x"] - frame["width"]
    assert abs(left - right) < 2  # centred
    assert frame["height"] <= 900 * 0.7 + 1  # fits the screen: no scrolling to see it whole
    assert abs(frame["width"] / frame["height"] - size[0] / size[1]) < 0.02  # not stretched
    shot(page, f"result-fitted-{size[0]}x{size[1]}")


def test_the_viewer_browses_a_batch_with_the_keyboard_and_the_zip_holds_it(site, page, emulator):
    sign_in(page, site)
    page.select_option("#model", "@cf/lykon/dreamshaper-8-lcm")
    page.fill("#prompt", "a red fox in snow")
    generate(page, n=3)
    urls = [page.locator("#result-grid img").nth(i).get_attribute("src") for i in range(3)]
    page.locator("#result-grid a.frame").nth(1).click()
    page.wait_for_selector("#lightbox[open]")
    src = lambda: page.get_attribute("#lightbox-img", "src")  # noqa: E731
    assert src() == urls[1] and page.text_content("#lightbox-count") == "2 of 3"
    page.keyboard.press("ArrowRight")
    assert src() == urls[2]
    page.keyboard.press("ArrowRight")
    assert src() == urls[0]  # around
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert src() == urls[1]
    page.wait_for_function(
        "() => document.getElementById('lightbox-img').complete"
        " && document.getElementById('lightbox-img').naturalWidth === 512"
    )
    view = page.locator("#lightbox-img").bounding_box()
    assert view["width"] >= 500  # full size: 512 px shown as 512, not a thumbnail
    shot(page, "viewer", full_page=False)
    page.keyboard.press("Escape")
    page.wait_for_function(CLOSED)
    focused = page.evaluate("() => document.activeElement.getAttribute('href')")
    assert focused == urls[1]  # back where the person was

    assert page.text_content("#download-zip") == "Download all (3) as ZIP"
    with page.expect_download() as download:
        page.click("#download-zip")
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every CRC matches
        names = archive.namelist()
        assert len(names) == 3 and len(set(names)) == 3
        for name, url in zip(names, urls, strict=True):
            assert name.startswith("flux-remix-") and name.endswith(".png")
            assert archive.read(name) == httpx.get(url).content


def test_a_style_preset_adds_its_words_visibly_and_is_stored(site, new_page, emulator):
    page = new_page(locale="zh-CN")
    sign_in(page, site)
    names = page.locator("#styles label.chip").all_text_contents()
    assert names == ["无", "摄影", "动漫", "水彩", "油画", "电影感", "线稿"]
    assert page.is_hidden("#style-hint")
    page.click("label[for=style-watercolor]")
    words = BY_ID["watercolor"].words
    assert page.text_content("#style-hint") == f"会在提示词后加上：{words}"
    page.select_option("#model", "@cf/lykon/dreamshaper-8-lcm")
    page.fill("#prompt", "夕阳下的灯塔")
    generate(page)
    sent = page.text_content("#result-final")
    assert sent.endswith(f", {words}") and "灯塔" not in sent
    assert page.text_content("#result-original") == "夕阳下的灯塔"
    with site.client(headers=AUTH) as c:
        record = c.get("/api/v1/images", params={"limit": 1}).json()["images"][0]
    assert record["params"]["style"] == "watercolor" and record["final_prompt"] == sent

    page.goto(site.url + "/history")
    page.locator("#gallery button.thumb").first.click()
    page.wait_for_selector("#detail[open]")
    assert "风格水彩" in page.text_content("#detail-params").replace(" ", "")
    page.click("#detail-rerun")
    page.wait_for_function("() => document.getElementById('prompt').value === '夕阳下的灯塔'")
    assert page.is_checked("#style-watercolor")
    page.click("#style-none + label")  # no style: nothing is added
    page.fill("#prompt", "a plain boat")
    generate(page)
    assert page.text_content("#result-final") == "a plain boat"


def test_on_a_phone_the_result_scrolls_into_view_and_nothing_touches_the_edges(
    demo_site, new_page, emulator
):
    for locale in ("en-US", "zh-CN"):
        page = new_page(locale=locale, **PHONE)
        sign_in(page, demo_site)
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        banner = page.locator(".demo-banner").bounding_box()
        line = page.eval_on_selector(
            ".demo-banner", "b => parseFloat(getComputedStyle(b).lineHeight)"
        )
        assert banner["height"] < 2 * line  # one line
        assert page.is_visible(".brand span") and page.text_content(".brand span") == "flux-remix"
        assert page.is_visible(".signout button")
        assert page.evaluate(TOUCHING_EDGES) == []
        page.select_option("#model", "@cf/lykon/dreamshaper-8-lcm")
        page.fill("#prompt", "a small boat on a lake")
        page.tap("#generate-button")
        page.wait_for_function(DONE)
        page.wait_for_function(
            "() => { const r = document.getElementById('result-grid').getBoundingClientRect();"
            " return r.top >= 0 && r.top < innerHeight / 2; }"
        )  # the finished image is in view without the person scrolling
        assert page.evaluate("scrollY") > 300
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        assert page.evaluate(TOUCHING_EDGES) == []
        page.goto(demo_site.url + "/history")
        page.wait_for_selector("#gallery li.card img")
        assert page.evaluate(NO_SIDEWAYS_SCROLL) and page.evaluate(TOUCHING_EDGES) == []


def test_models_are_named_and_described_in_the_page_language(site, new_page, emulator):
    img2img = "@cf/runwayml/stable-diffusion-v1-5-img2img"
    zh = new_page(locale="zh-CN")
    sign_in(zh, site)
    assert zh.text_content(f"#model option[value='{img2img}']") == ZH[img2img][0]
    zh.select_option("#model", img2img)
    assert ZH[img2img][1] in zh.text_content("#model-info")
    en = new_page()
    sign_in(en, site)
    en.select_option("#model", img2img)
    assert "Redraws an input image" in en.text_content("#model-info")
    make(site, "a blue whale", model="stable-diffusion-v1-5-img2img", image=png_data_url())
    zh.goto(site.url + "/history")
    zh.wait_for_selector("#gallery li.card")
    assert ZH[img2img][0] in zh.text_content("#gallery .meta")


def png_data_url():
    import base64

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 90, 200)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


LOOKS = [  # every width with each theme and language, each theme with each language
    (1280, "light", "en"),
    (1280, "dark", "zh"),
    (375, "light", "zh"),
    (375, "dark", "en"),
]


@pytest.mark.parametrize(("width", "theme", "lang"), LOOKS)
def test_screenshots_of_every_state(demo_site, new_page, emulator, width, theme, lang):
    """Empty state, a finished batch, the viewer and history: desktop and phone, light and dark,
    English and Chinese (tests/e2e/screenshots/look-*.png, looked at by a person)."""
    options = PHONE if width == 375 else {"viewport": {"width": 1280, "height": 900}}
    page = new_page(locale="zh-CN" if lang == "zh" else "en-US", color_scheme=theme, **options)
    name = f"look-{width}-{theme}-{lang}"
    sign_in(page, demo_site)
    page.wait_for_selector("#examples:not([hidden])")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    shot(page, f"{name}-1-empty")
    page.click("button.example >> nth=0")
    page.select_option("#model", "@cf/lykon/dreamshaper-8-lcm")
    generate(page, n=4)
    if width > 375:
        page.evaluate("scrollTo(0, 0)")  # where the person was before the click scrolled
    settled(page)
    assert page.evaluate(NO_SIDEWAYS_SCROLL) and page.evaluate(TOUCHING_EDGES) == []
    shot(page, f"{name}-2-batch", full_page=False)
    shot(page, f"{name}-2-batch-page")
    page.locator("#result-grid a.frame").first.click()
    page.wait_for_selector("#lightbox[open]")
    page.wait_for_function("() => document.getElementById('lightbox-img').naturalWidth > 0")
    page.evaluate("() => document.getElementById('lightbox-img').decode()")
    shot(page, f"{name}-3-viewer", full_page=False)
    page.keyboard.press("Escape")
    page.goto(demo_site.url + "/")
    page.wait_for_selector("#recent:not([hidden])")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#recent-grid img')].every(i => i.naturalWidth)"
    )
    page.evaluate(DECODED)
    shot(page, f"{name}-4-recent")
    page.goto(demo_site.url + "/history")
    page.wait_for_function("() => document.querySelectorAll('#gallery li.card img').length === 4")
    page.evaluate(DECODED)
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    shot(page, f"{name}-5-history")


def test_the_zip_comes_from_this_server_when_image_urls_name_another_origin(
    start_app, new_page, emulator
):
    """PUBLIC_BASE_URL (a proxy's address) may not be fetchable from the page (CSP, CORS): the
    ZIP reads each image by its path on the server that served the page."""
    site = start_app(PUBLIC_BASE_URL="http://images.invalid")
    page = new_page()
    sign_in(page, site)
    page.select_option("#model", "@cf/lykon/dreamshaper-8-lcm")
    page.fill("#prompt", "a green parrot")
    page.select_option("#n", "2")
    page.click("#generate-button")
    page.wait_for_function(DONE)
    assert page.get_attribute("#result-grid img", "src").startswith("http://images.invalid/")
    with page.expect_download() as download:
        page.click("#download-zip")
    with zipfile.ZipFile(download.value.path()) as archive:
        assert archive.testzip() is None and len(archive.namelist()) == 2


def test_the_history_detail_browses_with_the_arrow_keys(site, page, emulator):
    for prompt in ("a red fox", "a blue whale", "a green parrot"):
        make(site, prompt)
    sign_in(page, site, path="/history")
    page.wait_for_function("() => document.querySelectorAll('#gallery li.card').length === 3")
    page.locator("#gallery button.thumb").nth(1).click()
    page.wait_for_selector("#detail[open]")
    assert page.text_content("#detail-prompt") == "a blue whale"
    page.keyboard.press("ArrowRight")
    assert page.text_content("#detail-prompt") == "a red fox"  # newest first: older is right
    page.keyboard.press("ArrowRight")  # the last one: stays
    assert page.text_content("#detail-prompt") == "a red fox"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert page.text_content("#detail-prompt") == "a green parrot"
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('detail').open")
    newest = page.get_attribute("#gallery li.card >> nth=0", "data-id")
    # focus goes back to the card of the image last shown; under load it lands a frame later
    page.wait_for_function("id => document.activeElement?.dataset.id === id", arg=newest)
