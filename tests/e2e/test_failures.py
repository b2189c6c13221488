"""What a person sees when something goes wrong, in a real browser."""

import re

import pytest

from flux_remix.emulator import FaultSpec
from tests.conftest import ACCOUNT_IDS
from tests.e2e.conftest import shot, sign_in
from tests.e2e.netcut import FlakyNetwork

pytestmark = pytest.mark.browser


def generate(page, prompt="a lighthouse", model="@cf/lykon/dreamshaper-8-lcm"):
    page.select_option("#model", model)
    page.fill("#prompt", prompt)
    page.click("#generate-button")


def test_exhausted_quota_says_when_it_resets(site, page, emulator):
    for account_id in ACCOUNT_IDS:
        emulator.state.set_used(account_id, 10_000)
    sign_in(page, site)
    generate(page, model="@cf/black-forest-labs/flux-1-schnell")
    page.wait_for_selector("#status.error")
    message = page.text_content("#status")
    assert "quota is used up" in message and "resets at" in message
    assert re.search(r"\(in \d+\s(h|min)", message)
    assert page.locator("#result-grid .card").count() == 0
    assert page.is_enabled("#generate-button")
    shot(page, "error-quota")


def test_a_flagged_prompt_asks_to_reword_it(site, page, emulator):
    emulator.state.add_fault(FaultSpec(kind="flagged"))
    sign_in(page, site)
    generate(page)
    page.wait_for_selector("#status.error")
    assert "safety filter flagged this prompt" in page.text_content("#status")


def test_an_invalid_parameter_points_at_its_field(site, page, emulator):
    sign_in(page, site)
    page.select_option("#model", "@cf/lykon/dreamshaper-8-lcm")
    page.click("#advanced summary")
    assert page.get_attribute("#p-steps", "max") == "20"
    page.fill("#p-steps", "99")
    page.fill("#prompt", "a lighthouse")
    page.click("#generate-button")
    page.wait_for_selector("#p-steps[aria-invalid=true]")
    error = page.text_content("[data-error-for=steps]")
    assert "steps must be between 1 and 20" in error
    assert page.evaluate("document.activeElement.id") == "p-steps"
    assert not emulator.state.calls()
    shot(page, "error-invalid-parameter")
    page.click("#generate-button")  # an empty prompt is caught before any request
    page.fill("#prompt", "")
    page.click("#generate-button")
    # the message is rendered after the click's handler runs: wait for it, do not race it
    page.wait_for_selector("[data-error-for=prompt]:has-text('Write a prompt first')")


def test_an_ended_session_asks_to_sign_in_again(site, page, emulator):
    sign_in(page, site)
    page.context.clear_cookies()
    generate(page)
    page.wait_for_url("**/signin?expired=1&next=%2F")
    assert "Your session has ended" in page.text_content("#signin-error")
    page.fill("#key", "wrong-key")
    page.press("#key", "Enter")
    page.wait_for_selector("#signin-error:has-text('not valid')")
    shot(page, "signin-wrong-key")


def test_the_progress_resumes_after_the_network_drops_mid_generation(site, page, emulator):
    emulator.state.add_fault(FaultSpec(kind="slow", delay=4))
    with FlakyNetwork(site.port) as network:
        sign_in(page, network)
        generate(page)
        page.wait_for_selector("#stages li[data-stage=generating].active")
        network.cut()  # the progress stream breaks, and reconnecting fails for a while
        page.wait_for_selector("#status.warn")
        assert "reconnecting" in page.text_content("#status")
        shot(page, "network-lost")
        page.wait_for_timeout(2500)
        network.restore()
        page.wait_for_selector("#toast.show:has-text('progress resumed')", timeout=20_000)
        img = page.locator("#result-grid img").first
        img.wait_for(timeout=20_000)
        assert "Done" in page.text_content("#status")
        assert page.locator("#stages li.done").count() == 4
        shot(page, "network-resumed")
    assert len([c for c in emulator.state.calls() if "dreamshaper" in c.model]) == 1


def test_a_reload_mid_generation_picks_the_job_up_again(site, page, emulator):
    emulator.state.add_fault(FaultSpec(kind="slow", delay=2))
    sign_in(page, site)
    generate(page, prompt="a windmill in a tulip field")
    page.wait_for_selector("#stages li[data-stage=generating].active")
    page.reload()
    page.wait_for_selector("#result-grid img", timeout=20_000)
    assert page.text_content("#result-original") == "a windmill in a tulip field"
    assert len([c for c in emulator.state.calls() if "dreamshaper" in c.model]) == 1
