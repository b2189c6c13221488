import json
from pathlib import Path

import pytest

from flux_remix.errors import ConfigError
from flux_remix.settings import load_settings

ACCOUNTS = json.dumps(
    [
        {"account_id": "0123456789abcdef0123456789abcdef", "token": "tok-secret-one"},
        {"account_id": "fedcba9876543210fedcba9876543210", "token": "tok-secret-two", "label": "b"},
    ]
)


def test_original_variables_in_their_original_formats():
    s = load_settings(
        {
            "API_KEY": "k1",
            "CF_ACCOUNT_LIST": ACCOUNTS,
            "CF_TRANSLATE_MODEL": "@cf/zai-org/glm-4.7-flash",
            "CF_IS_TRANSLATE": "false",
            "USE_EXTERNAL_API": "true",
            "EXTERNAL_API": "https://llm.example/v1",
            "EXTERNAL_MODEL": "gpt-4o-mini",
            "EXTERNAL_API_KEY": "ext-secret",
            "FLUX_NUM_STEPS": "6",
            "CUSTOMER_MODEL_MAP": '{"my-flux": "@cf/black-forest-labs/flux-1-schnell"}',
        }
    )
    assert [k.get_secret_value() for k in s.api_keys] == ["k1"]
    assert [a.label for a in s.accounts] == ["cf-1", "b"]
    assert s.accounts[0].token.get_secret_value() == "tok-secret-one"
    assert s.translate_default == "off"
    assert s.use_external_api is True
    assert s.flux_num_steps == 6
    assert s.customer_model_map == {"my-flux": "@cf/black-forest-labs/flux-1-schnell"}
    assert s.effective_default_model == "my-flux"
    assert s.cf_api_base == "https://api.cloudflare.com/client/v4"


def test_defaults_without_environment():
    s = load_settings({})
    assert s.accounts == ()
    assert s.translate_default == "auto"
    assert s.translate_model == "@cf/meta/llama-3.1-8b-instruct-fast"
    assert s.effective_default_model == "FLUX.1-Schnell-CF"
    assert not s.auth_enabled


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"CF_ACCOUNT_LIST": "[{bad json"}, "CF_ACCOUNT_LIST: not valid JSON"),
        ({"CF_ACCOUNT_LIST": '[{"account_id": "a", "token": ""}]'}, "entry 1 has an empty token"),
        ({"CF_ACCOUNT_LIST": '[{"token": "t"}]'}, "entry 1 has an empty account_id"),
        ({"CF_ACCOUNT_LIST": '{"account_id": "a"}'}, "CF_ACCOUNT_LIST: expected a JSON list"),
        ({"CUSTOMER_MODEL_MAP": "{nope"}, "CUSTOMER_MODEL_MAP: not valid JSON"),
        ({"CUSTOMER_MODEL_MAP": '{"a": 3}'}, "CUSTOMER_MODEL_MAP: expected a JSON object"),
        ({"FLUX_NUM_STEPS": "12"}, "FLUX_NUM_STEPS"),
        ({"FLUX_NUM_STEPS": "four"}, "FLUX_NUM_STEPS"),
        ({"CF_IS_TRANSLATE": "maybe"}, "CF_IS_TRANSLATE"),
        ({"CF_API_BASE": "ftp://x"}, "CF_API_BASE"),
        ({"USE_EXTERNAL_API": "true"}, "EXTERNAL_API"),
    ],
)
def test_bad_configuration_names_the_variable(env, needle):
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_tokens_never_printed():
    s = load_settings(
        {"CF_ACCOUNT_LIST": ACCOUNTS, "API_KEY": "key-secret", "EXTERNAL_API_KEY": "x-secret"}
    )
    for text in (repr(s), str(s), s.model_dump_json(), repr(s.accounts[0])):
        for secret in (
            "tok-secret-one",
            "tok-secret-two",
            "key-secret",
            "x-secret",
            "0123456789abcdef0123456789abcdef",
        ):
            assert secret not in text


def test_error_message_does_not_echo_secrets():
    bad = '[{"account_id": "abc", "token": "tok-leak"}, {"account_id": "", "token": "tok-leak2"}]'
    with pytest.raises(ConfigError) as info:
        load_settings({"CF_ACCOUNT_LIST": bad})
    assert "tok-leak" not in str(info.value)


def test_wrangler_toml_vars_are_read_and_env_wins(tmp_path: Path):
    toml = tmp_path / "wrangler.toml"
    toml.write_text(
        'name = "x"\n[vars]\nAPI_KEY = "from-toml"\nFLUX_NUM_STEPS = 6\n'
        "CF_ACCOUNT_LIST = '" + ACCOUNTS + "'\n",
        encoding="utf-8",
    )
    s = load_settings({"API_KEY": "from-env"}, wrangler_toml=toml)
    assert s.api_keys[0].get_secret_value() == "from-env"
    assert s.flux_num_steps == 6
    assert len(s.accounts) == 2


def test_several_api_keys_and_admin_keys():
    s = load_settings({"API_KEY": "a, b", "ADMIN_API_KEY": "root"})
    assert [k.get_secret_value() for k in s.api_keys] == ["a", "b"]
    assert s.auth_enabled
