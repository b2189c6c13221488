"""`POST /v1/images/generations` through the official openai client, and as Open WebUI calls it."""

import base64

import httpx
import openai
import pytest

from flux_remix.emulator import FaultSpec
from tests.api_helpers import decode_image, image_calls, text_calls
from tests.conftest import ACCOUNT_IDS, AUTH, SECRETS


def test_b64_json_with_n_images_and_extension_fields(client, emulator):
    result = client.images.generate(
        model="SD-XL-Lightning-CF",
        prompt="a lighthouse at dusk",
        n=3,
        size="768x512",
        response_format="b64_json",
        extra_body={"seed": 40, "steps": 6, "negative_prompt": "blurry", "guidance": 2.5},
    )
    assert len(result.data) == 3
    sizes = {decode_image(item.b64_json).size for item in result.data}
    assert sizes == {(768, 512)}
    assert len({item.b64_json for item in result.data}) == 3
    assert all(item.url is None for item in result.data)
    assert all(item.revised_prompt == "a lighthouse at dusk" for item in result.data)
    assert [item.model_extra["seed"] for item in result.data] == [40, 41, 42]
    calls = image_calls(emulator)
    assert len(calls) == 3
    assert all({"num_steps", "negative_prompt", "guidance", "seed"} <= set(c.fields) for c in calls)
    effective = result.model_extra["flux_remix"]
    params = effective["params"]
    assert (params["steps"], params["negative_prompt"], params["guidance"]) == (6, "blurry", 2.5)
    assert (params["width"], params["height"]) == (768, 512)
    assert effective["seeds"] == [40, 41, 42]
    assert effective["model"] == "@cf/bytedance/stable-diffusion-xl-lightning"


def test_url_format_serves_the_same_bytes(client, app_server):
    fields = {"model": "DS-8-CF", "prompt": "a red fox in snow", "extra_body": {"seed": 7}}
    by_url = client.images.generate(response_format="url", **fields)
    by_b64 = client.images.generate(response_format="b64_json", **fields)
    (item,) = by_url.data
    assert item.b64_json is None
    assert item.url.startswith(f"{app_server.url}/images/")
    fetched = httpx.get(item.url, timeout=30)
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.content == base64.b64decode(by_b64.data[0].b64_json)


def test_without_response_format_both_url_and_b64_json_are_sent(client):
    """DALL-E clients read `url` (OpenAI's old default), GPT Image clients `b64_json`."""
    (item,) = client.images.generate(model="DS-8-CF", prompt="a boat").data
    assert item.url.endswith(".png")
    assert decode_image(item.b64_json).format == "PNG"


def test_revised_prompt_is_the_translated_prompt(client, emulator):
    result = client.images.generate(
        model="DS-8-CF", prompt="夕阳下的城市", response_format="b64_json"
    )
    revised = result.data[0].revised_prompt
    assert revised != "夕阳下的城市" and revised.isascii()
    assert result.model_extra["flux_remix"]["final_prompt"] == revised
    assert len(image_calls(emulator)) == 1
    assert len(text_calls(emulator)) == 1
    assert result.model_extra["flux_remix"]["translator"] == "llm"


def test_translate_off_sends_the_prompt_as_is(client, emulator):
    result = client.images.generate(
        model="DS-8-CF", prompt="夕阳", response_format="b64_json", extra_body={"translate": False}
    )
    assert result.data[0].revised_prompt == "夕阳"
    assert text_calls(emulator) == []


def test_enhance_rewrites_the_prompt_before_it_is_sent(client, emulator):
    result = client.images.generate(
        model="DS-8-CF",
        prompt="a cat",
        response_format="b64_json",
        extra_body={"enhance": True},
    )
    effective = result.model_extra["flux_remix"]
    assert effective["enhanced"] is True
    assert result.data[0].revised_prompt == effective["final_prompt"] != "a cat"
    assert len(text_calls(emulator)) == 1


def test_open_webui_request_for_schnell_with_its_default_512_size(app_server, emulator):
    """Open WebUI sends size 512x512 unless configured; schnell makes 1024x1024 and says so."""
    body = {
        "model": "FLUX.1-Schnell-CF",
        "prompt": "a cat on a roof",
        "n": 1,
        "size": "512x512",
        "response_format": "b64_json",
        "steps": 6,  # IMAGES_OPENAI_API_PARAMS merged into the body
        "quality": "standard",
    }
    with app_server.client(headers=AUTH) as c:
        r = c.post("/v1/images/generations", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert decode_image(answer["data"][0]["b64_json"]).size == (1024, 1024)
    notes = answer["flux_remix"]["notes"]
    assert any("always makes 1024x1024" in n and "512x512" in n for n in notes)
    assert any("not used by flux-remix: quality" in n for n in notes)
    (call,) = image_calls(emulator)
    assert sorted(call.fields) == ["prompt", "steps"]
    assert answer["flux_remix"]["params"]["steps"] == 6


@pytest.mark.parametrize(
    ("fields", "param", "needle"),
    [
        ({"model": "DS-8-CF", "size": "4096x4096"}, "size", "256x256 to 2048x2048"),
        ({"model": "flux-2-klein-4b", "size": "2048x1024"}, "size", "to 1920x1920"),
        ({"model": "DS-8-CF", "size": "big"}, "size", "WIDTHxHEIGHT"),
        ({"model": "DS-8-CF", "n": 9}, "n", "less than or equal to 8"),
        ({"model": "FLUX.1-Schnell-CF", "extra_body": {"steps": 12}}, "steps", "between 1 and 8"),
        ({"model": "flux-2-klein-4b", "extra_body": {"steps": 4}}, "steps", "does not take"),
        ({"model": "DS-8-CF", "response_format": "png"}, "response_format", "url"),
    ],
)
def test_invalid_values_are_400_naming_the_field(client, emulator, fields, param, needle):
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(prompt="a cat", **fields)
    error = caught.value.body
    assert caught.value.status_code == 400
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert needle in error["message"]
    assert image_calls(emulator) == []


def test_unknown_model_is_404_model_not_found(client, emulator):
    with pytest.raises(openai.NotFoundError) as caught:
        client.images.generate(model="no-such-model", prompt="a cat")
    assert caught.value.code == "model_not_found"
    assert "FLUX.1-Schnell-CF" in caught.value.message  # names the models it knows
    assert emulator.state.calls() == []


def test_hard_coded_client_names_are_aliases(client, emulator):
    """Open WebUI's OpenAI engine offers only dall-e-2/3 and gpt-image-1/1.5, and leaves
    `response_format` out for gpt-image names (it reads `b64_json`)."""
    dalle = client.images.generate(model="dall-e-3", prompt="a cat", size="1024x1024")
    assert dalle.model_extra["flux_remix"]["model"] == "@cf/black-forest-labs/flux-1-schnell"
    gpt = client.images.generate(model="gpt-image-1", prompt="a cat", size="512x512")
    assert gpt.model_extra["flux_remix"]["model"] == "@cf/black-forest-labs/flux-2-klein-4b"
    assert decode_image(gpt.data[0].b64_json).size == (512, 512)
    newer = client.images.generate(model="gpt-image-1.5", prompt="a cat", size="512x512")
    assert newer.model_extra["flux_remix"]["model"] == "@cf/black-forest-labs/flux-2-klein-9b"


def test_aliases_are_configurable(make_client, start_app, emulator):
    server = start_app(
        FLUX_REMIX_OPENAI_MODEL_ALIASES='{"dall-e-3": "DS-8-CF", "house": "default"}'
    )
    client = make_client(server)
    dalle = client.images.generate(model="dall-e-3", prompt="a cat")
    assert dalle.model_extra["flux_remix"]["model"] == "@cf/lykon/dreamshaper-8-lcm"
    house = client.images.generate(model="house", prompt="a cat")
    assert house.model_extra["flux_remix"]["model"] == "@cf/black-forest-labs/flux-1-schnell"
    gpt = client.images.generate(model="gpt-image-1", prompt="a cat", size="512x512")
    assert gpt.model_extra["flux_remix"]["model"] == "@cf/black-forest-labs/flux-2-klein-4b"


def test_an_alias_to_an_unknown_model_stops_start_up(make_settings):
    from flux_remix.errors import ConfigError
    from flux_remix.runtime import check_catalog

    settings = make_settings(FLUX_REMIX_OPENAI_MODEL_ALIASES='{"dall-e-3": "@cf/x/none"}')
    with pytest.raises(ConfigError, match="FLUX_REMIX_OPENAI_MODEL_ALIASES: 'dall-e-3'"):
        check_catalog(settings)


def test_wrong_key_is_401(make_client, app_server, emulator):
    with pytest.raises(openai.AuthenticationError) as caught:
        make_client(app_server, key="wrong").images.generate(prompt="a cat")
    assert caught.value.status_code == 401
    assert caught.value.body["type"] == "authentication_error"
    assert emulator.state.calls() == []


def test_all_accounts_exhausted_is_429_with_retry_after(client, emulator):
    for account_id in ACCOUNT_IDS:
        emulator.state.set_used(account_id, 10_000)
    with pytest.raises(openai.RateLimitError) as caught:
        client.images.generate(model="DS-8-CF", prompt="a cat")
    assert int(caught.value.response.headers["Retry-After"]) > 0
    assert caught.value.body["type"] == "rate_limit_error"
    assert "daily free neurons" in caught.value.message


def test_all_accounts_busy_is_503(client, emulator):
    emulator.state.add_fault(FaultSpec(kind="capacity", retry_after=20))
    with pytest.raises(openai.InternalServerError) as caught:
        client.images.generate(model="DS-8-CF", prompt="a cat")
    assert caught.value.status_code == 503
    assert int(caught.value.response.headers["Retry-After"]) >= 15
    assert caught.value.body["type"] == "server_error"


def test_upstream_failure_is_502_without_secrets(client, emulator):
    emulator.state.add_fault(FaultSpec(kind="malformed"))
    with pytest.raises(openai.InternalServerError) as caught:
        client.images.generate(model="DS-8-CF", prompt="a cat")
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "malformed_response"
    text = caught.value.response.text
    assert not [s for s in SECRETS if s in text]
