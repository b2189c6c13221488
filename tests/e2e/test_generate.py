"""Generate in a real browser: sign in, two model families, live progress, the prompt preview."""

import pytest

from flux_remix.emulator import FaultSpec
from tests.api_helpers import image_calls
from tests.conftest import API_KEY, SECRETS
from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.browser

WATCH_STAGES = """() => {
  window.__stages = [];
  new MutationObserver(() => {
    const active = document.querySelector('#stages li.active');
    const name = active ? active.dataset.stage : null;
    if (name && window.__stages.at(-1) !== name) window.__stages.push(name);
  }).observe(document.getElementById('stages'), {subtree: true, attributes: true});
}"""

LOADED = "img => !!img && img.complete && img.naturalWidth > 0"  # null while re-rendered


def first_image(page):
    img = page.locator("#result-grid img").first
    img.wait_for()
    page.wait_for_function(f"() => ({LOADED})(document.querySelector('#result-grid img'))")
    return img


def test_sign_in_then_generate_with_two_model_families(site, page, emulator):
    emulator.state.add_fault(FaultSpec(kind="slow", delay=0.8))
    page.goto(site.url + "/")
    page.wait_for_url("**/signin?next=/")
    shot(page, "signin")
    page.fill("#key", API_KEY)
    page.press("#key", "Enter")
    page.wait_for_url(site.url + "/")
    shot(page, "generate-empty")

    # Stable Diffusion family: a Chinese prompt, a 16:9 preset, Ctrl+Enter
    page.select_option("#model", "@cf/bytedance/stable-diffusion-xl-lightning")
    assert page.is_visible("#p-negative_prompt")
    page.click("label[for=aspect-16x9]")
    assert (page.input_value("#width"), page.input_value("#height")) == ("1344", "768")
    page.fill("#prompt", "一只可爱的猫咪在窗台上")
    page.fill("#p-negative_prompt", "blurry")
    page.evaluate(WATCH_STAGES)
    page.press("#prompt", "Control+Enter")
    page.wait_for_selector("#stages li[data-stage=generating].active")
    pending = page.locator("#result-grid .frame").first.bounding_box()
    shot(page, "generate-progress")
    img = first_image(page)
    assert page.locator("#stages li.done").count() == 4
    assert page.evaluate("window.__stages")[-1] in ("generating", "stored")
    assert "generating" in page.evaluate("window.__stages")
    final = page.locator("#result-grid .frame").first.bounding_box()
    assert (
        abs(final["width"] - pending["width"]) < 1 and abs(final["height"] - pending["height"]) < 1
    )
    assert abs(final["y"] - pending["y"]) < 1  # the box was reserved: nothing moved
    assert (img.get_attribute("width"), img.get_attribute("height")) == ("1344", "768")
    assert img.get_attribute("loading") == "lazy"
    assert page.text_content("#result-original") == "一只可爱的猫咪在窗台上"
    sent = page.text_content("#result-final")
    assert sent and "猫" not in sent and "cat" in sent.lower()
    assert page.text_content("#result-translator") == "translated by the LLM"
    download = page.locator("#result-grid a[download]").first
    assert download.get_attribute("href") == img.get_attribute("src")
    assert download.get_attribute("download").rsplit(".")[-1] == img.get_attribute("src")[-3:]
    shot(page, "generate-result-sdxl")

    # FLUX.1 family: fixed size, no negative prompt, JPEG
    page.select_option("#model", "@cf/black-forest-labs/flux-1-schnell")
    assert page.is_hidden("#size-inputs") and page.is_hidden("#p-negative_prompt")
    assert "always makes 1024×1024" in page.text_content("#size-hint")
    page.fill("#prompt", "a lighthouse at dusk, oil painting")
    assert page.is_hidden("#seed")  # schnell takes no seed: no control, and the hint says why
    assert "takes no seed" in page.text_content("#seed-hint")
    page.click("#generate-button")
    page.wait_for_selector("#result-grid img[src$='.jpg']")
    img = first_image(page)
    assert (img.get_attribute("width"), img.get_attribute("height")) == ("1024", "1024")
    caption = page.text_content("#result-grid figcaption")
    assert "no seed" in caption and "Reuse seed" not in caption
    assert page.text_content("#result-translator") == "not translated"
    shot(page, "generate-result-flux")

    models = {c.model for c in image_calls(emulator)}
    assert models == {
        "@cf/bytedance/stable-diffusion-xl-lightning",
        "@cf/black-forest-labs/flux-1-schnell",
    }
    content = page.content()
    storage = page.evaluate("JSON.stringify({...localStorage, ...sessionStorage})")
    cookies = str(page.context.cookies())
    for secret in SECRETS:
        assert secret not in content and secret not in storage and secret not in cookies
    session = next(c for c in page.context.cookies() if c["name"] == "flux_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("flux_session") == -1


def test_edit_the_translated_prompt_and_regenerate(site, page, emulator):
    sign_in(page, site)
    page.select_option("#model", "@cf/lykon/dreamshaper-8-lcm")
    page.fill("#prompt", "夕阳下的灯塔，油画风格")
    page.click("#preview-button")
    page.wait_for_selector("#preview:not([hidden])")
    english = page.input_value("#final-prompt")
    assert english and "灯塔" not in english
    assert "LLM" in page.text_content("#preview-by")
    edited = "a lighthouse at sunset, oil painting, dramatic stormy sky"
    page.fill("#final-prompt", edited)
    shot(page, "preview-edit")
    emulator.state.clear_calls()
    page.click("#generate-button")
    first_image(page)
    assert page.text_content("#result-final") == edited
    assert page.text_content("#result-original") == "夕阳下的灯塔，油画风格"
    assert page.text_content("#result-translator") == "edited by you"
    calls = emulator.state.calls()
    assert [c.model for c in calls] == ["@cf/lykon/dreamshaper-8-lcm"]  # no translation call
    meta = page.text_content("#result-grid figcaption .meta")
    seed = meta.split("seed ")[1].split(" ")[0]

    page.click("#result-grid button:has-text('Reuse seed')")
    assert page.input_value("#seed") == seed
    page.click("#generate-button")
    page.wait_for_function(
        "seed => document.querySelector('#result-grid figcaption .meta')?.textContent"
        ".includes('seed ' + seed) && document.querySelector('#result-grid img')",
        arg=seed,
    )
    first_image(page)
    assert page.text_content("#result-final") == edited  # the edited preview is still used
    shot(page, "regenerate-same-seed")

    # changing the prompt makes the preview stale: the new prompt is translated again
    page.fill("#prompt", "一只猫")
    assert page.is_visible("#preview-stale")
    page.click("#generate-button")
    page.wait_for_function(
        "() => document.querySelector('#result-original').textContent === '一只猫'"
        " && document.querySelector('#result-grid img')"
    )
    first_image(page)
    assert page.text_content("#result-final") != edited


def test_img2img_shows_image_upload_and_sends_it(site, page, emulator, tmp_path):
    from PIL import Image

    source = tmp_path / "source.png"
    Image.new("RGB", (512, 512), (200, 40, 40)).save(source)
    sign_in(page, site)
    page.select_option("#model", "@cf/runwayml/stable-diffusion-v1-5-img2img")
    assert page.is_visible("#p-image") and page.is_visible("#p-strength")
    assert page.is_hidden("#p-mask")
    page.set_input_files("#p-image", str(source))
    page.wait_for_selector(".thumb-preview")
    page.fill("#prompt", "a red square, watercolor")
    page.click("#generate-button")
    first_image(page)
    call = image_calls(emulator)[-1]
    assert call.model == "@cf/runwayml/stable-diffusion-v1-5-img2img"
    page.select_option("#model", "@cf/runwayml/stable-diffusion-v1-5-inpainting")
    assert page.is_visible("#p-mask")
    page.select_option("#model", "@cf/black-forest-labs/flux-2-klein-4b")
    assert page.is_visible("#p-input_images") and page.is_hidden("#p-image")
    assert page.get_attribute("#p-input_images", "multiple") is not None
    shot(page, "generate-flux2-references")
