"""Account-pool settings and start-up: REDIS_URL, REDIS_PREFIX, FLUX_REMIX_DAILY_NEURONS."""

from __future__ import annotations

import uuid

import pytest

from flux_remix.accounts import MemoryState, RedisState
from flux_remix.errors import ConfigError
from flux_remix.runtime import open_runtime
from flux_remix.settings import load_settings
from tests.accounts.conftest import drop_prefix
from tests.servers import require_redis
from tests.support import free_port


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL: expected a URL such as redis://"),
        ({"FLUX_REMIX_DAILY_NEURONS": "lots"}, "FLUX_REMIX_DAILY_NEURONS:"),
        ({"FLUX_REMIX_DAILY_NEURONS": "0"}, "FLUX_REMIX_DAILY_NEURONS:"),
        ({"REDIS_PREFIX": ""}, "REDIS_PREFIX:"),
    ],
)
def test_bad_values_name_the_variable(env, needle):
    with pytest.raises(ConfigError, match=needle):
        load_settings(env)


def test_defaults():
    s = load_settings({"REDIS_URL": " "})
    assert (s.redis_url, s.redis_prefix, s.daily_neurons) == (None, "flux-remix:", 10_000.0)


async def test_unreachable_redis_stops_start_up_naming_the_variable(make_settings):
    settings = make_settings(REDIS_URL=f"redis://:s3cret@127.0.0.1:{free_port()}/0")
    with pytest.raises(ConfigError, match="REDIS_URL: cannot reach Redis") as info:
        async with open_runtime(settings):
            pass
    assert "s3cret" not in info.value.message


async def test_runtime_shares_one_redis_client_or_none(make_settings, emulator, tmp_path):
    async with open_runtime(make_settings()) as runtime:
        assert runtime.redis is None
        assert isinstance(runtime.pool._state, MemoryState)
    assert (tmp_path / "data" / "accounts.sqlite3").exists()
    prefix = f"flux-remix-test:{uuid.uuid4().hex[:12]}:"
    settings = make_settings(REDIS_URL=require_redis(), REDIS_PREFIX=prefix)
    async with open_runtime(settings) as runtime:
        assert runtime.redis is not None
        assert await runtime.redis.ping()
        assert isinstance(runtime.pool._state, RedisState)
        assert [s.state for s in await runtime.pool.status()] == ["healthy"] * 3
        await drop_prefix(runtime.redis, prefix)
