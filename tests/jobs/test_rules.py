"""The jobs' pure rules, as tables: fair positions, wait estimates, webhook retry delays and
targets, and the settings that configure them."""

from __future__ import annotations

import pytest

from flux_remix.errors import ConfigError, InvalidParameterError
from flux_remix.jobs.fairness import fair_position, wait_estimate
from flux_remix.jobs.webhooks import check_target, retry_delay
from flux_remix.settings import load_settings


@pytest.mark.parametrize(
    ("own_index", "others", "position"),
    [
        (0, [], 1),  # alone: next
        (0, [5], 2),  # a flood ahead: one of its jobs, then this one
        (3, [], 4),  # its own key's earlier jobs go first
        (1, [5, 1], 5),  # two turns: two of the flood, the light key's one, then its second
        (2, [2, 2, 2], 9),
    ],
)
def test_fair_position(own_index, others, position):
    assert fair_position(own_index, others) == position


@pytest.mark.parametrize(
    ("position", "slots", "runs", "wait"),
    [
        (1, 4, [], None),  # nothing finished yet: no guess
        (1, 4, [2.0, 4.0], 3.0),  # a free slot soon: one mean run
        (9, 4, [3.0], 9.0),  # three rounds of four
        (5, 0, [1.0], 5.0),  # no worker seen: one slot assumed
    ],
)
def test_wait_estimate(position, slots, runs, wait):
    assert wait_estimate(position, slots, runs) == wait


@pytest.mark.parametrize(
    ("attempt", "delay"), [(1, 1.0), (2, 5.0), (3, 30.0), (4, 300.0), (6, 3600.0), (20, 3600.0)]
)
def test_webhook_retry_delays_back_off_to_an_hour(attempt, delay):
    assert retry_delay(attempt) == delay


@pytest.mark.parametrize(
    ("url", "allow", "ok"),
    [
        ("https://hooks.example.com/flux/1", ("https://hooks.example.com/flux",), True),
        ("https://hooks.example.com/flux", ("https://hooks.example.com/flux",), True),
        ("https://hooks.example.com/fluxy", ("https://hooks.example.com/flux",), False),
        ("https://hooks.example.com.evil.test/", ("https://hooks.example.com",), False),
        ("http://127.0.0.1:8080/hook", ("http://127.0.0.1:8080/",), True),  # allowed explicitly
        ("http://127.0.0.1:8080/hook", (), False),
        ("http://localhost/hook", (), False),
        ("http://192.168.1.10/hook", (), False),
        ("http://[fe80::1]/hook", (), False),
        ("http://[::ffff:127.0.0.1]/hook", (), False),
        ("http://0.0.0.0/hook", (), False),
        ("http://user:pw@8.8.8.8/hook", (), False),
        ("https://8.8.8.8/hook", (), True),  # a public address, no allow-list
        ("javascript:alert(1)", (), False),
    ],
)
async def test_webhook_targets(url, allow, ok):
    if ok:
        assert await check_target(url, allow) == url
    else:
        with pytest.raises(InvalidParameterError) as refused:
            await check_target(url, allow)
        assert refused.value.field == "webhook_url"


def test_job_settings_are_checked_at_start_up():
    settings = load_settings(
        {
            "FLUX_REMIX_WEBHOOK_ALLOW": "https://a.example/hooks/, http://127.0.0.1:9000",
            "FLUX_REMIX_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "FLUX_REMIX_JOBS_PER_KEY": "3",
        }
    )
    assert settings.webhook_allow == ("https://a.example/hooks/", "http://127.0.0.1:9000")
    assert settings.jobs_per_key == 3
    for bad in (
        {"FLUX_REMIX_WEBHOOK_ALLOW": "hooks.example.com"},
        {"FLUX_REMIX_WEBHOOK_SECRET": "short"},
        {"FLUX_REMIX_WEBHOOK_SECRET": "whsec_not base64 at all!!!!!!!!!!!"},
        {"FLUX_REMIX_JOBS_PER_KEY": "0"},
    ):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            load_settings(bad)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def counters(request):
    from flux_remix.ids import new_id
    from flux_remix.keys.quota import MemoryCounters, RedisCounters
    from flux_remix.redis_client import redis_from_url
    from tests.jobs.conftest import drop_prefix
    from tests.servers import require_redis

    if request.param == "memory":
        yield MemoryCounters()
        return
    client = redis_from_url(require_redis())
    prefix = f"test-charge-{new_id(4)}:"
    yield RedisCounters(client, prefix)
    await drop_prefix(client, prefix)
    await client.aclose()


async def test_a_jobs_charge_counts_once_however_often_it_is_re_run(counters):
    day = "2026-12-07"
    await counters.add("key_1", day, 10.0, once="job_a")
    await counters.add("key_1", day, 10.0, once="job_a")  # the re-run after a takeover
    await counters.add("key_1", day, 5.0, once="job_b")
    await counters.add("key_1", day, 1.0)  # a plain request: always counted
    await counters.add("key_1", day, 1.0)
    assert await counters.used("key_1", day) == 17.0
