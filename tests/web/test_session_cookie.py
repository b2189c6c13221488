"""Session cookies on their own: signing, expiry, and where the secret comes from."""

import stat
import time

import pytest

from flux_remix.errors import ConfigError
from flux_remix.settings import load_settings
from flux_remix.web.session import Session, Sessions


def sessions(tmp_path, **env):
    return Sessions(load_settings({"FLUX_REMIX_DATA_DIR": str(tmp_path), **env}))


def test_a_cookie_round_trips_and_any_change_breaks_it(tmp_path):
    s = sessions(tmp_path)
    session = s.new("key_abc123")
    value = s.encode(session)
    assert s.decode(value) == session
    payload, _, signature = value.partition(".")
    assert s.decode(payload + "." + signature[:-2] + "AA") is None
    assert s.decode(payload[:-2] + "." + signature) is None
    for junk in ("", ".", "abc", "a.b.c", "!!!.???"):
        assert s.decode(junk) is None


def test_an_expired_cookie_is_no_session(tmp_path):
    s = sessions(tmp_path)
    stale = Session("key_abc123", "nonce", int(time.time()) - 1)
    assert s.decode(s.encode(stale)) is None


def test_the_csrf_token_belongs_to_one_session(tmp_path):
    s = sessions(tmp_path)
    one, two = s.new("key_a"), s.new("key_a")
    assert s.csrf_token(one) != s.csrf_token(two)
    assert s.csrf_token(None) == ""
    assert s.login_token("n") != s.csrf_token(Session("k", "n", 0))  # purposes never mix


def test_the_generated_secret_is_kept_private_and_reused(tmp_path):
    first = sessions(tmp_path)
    value = first.encode(first.new("key_a"))
    path = tmp_path / "session-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sessions(tmp_path).decode(value) is not None  # a restart keeps sessions
    assert sessions(tmp_path / "other").decode(value) is None


def test_a_configured_secret_is_shared_by_replicas(tmp_path):
    env = {"FLUX_REMIX_SESSION_SECRET": "replicas-share-this-secret"}
    a = sessions(tmp_path / "a", **env)
    b = sessions(tmp_path / "b", **env)
    assert b.decode(a.encode(a.new("key_a"))) is not None
    assert not (tmp_path / "a" / "session-secret").exists()


def test_a_short_secret_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="FLUX_REMIX_SESSION_SECRET: must be at least 16"):
        sessions(tmp_path, FLUX_REMIX_SESSION_SECRET="short")
    assert sessions(tmp_path, FLUX_REMIX_SESSION_SECRET="  ").secret  # empty: generated
