"""`/metrics`, scraped and parsed with prometheus-client's own text parser."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from flux_remix.emulator import FaultSpec
from tests.conftest import AUTH, SECRETS

DS8 = "@cf/lykon/dreamshaper-8-lcm"
SCHNELL = "@cf/black-forest-labs/flux-1-schnell"


def scrape(server) -> dict[str, list]:
    """Samples by metric family name (each sample: name, labels, value)."""
    with server.client() as c:
        r = c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    for secret in SECRETS:
        assert secret not in r.text
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def value(samples, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_requests_upstream_neurons_cache_and_translations_are_counted(app_server, emulator):
    with app_server.client(headers=AUTH) as c:
        ok = c.post("/api/v1/images", json={"prompt": "一只猫", "model": "DS-8-CF", "seed": 7})
        assert ok.status_code == 200, ok.text
        again = c.post("/api/v1/images", json={"prompt": "一只猫", "model": "DS-8-CF", "seed": 7})
        assert again.json()["cache"] == "hit"
        assert c.post("/api/v1/images", json={"prompt": "x", "steps": 99}).status_code == 422
        emulator.state.add_fault(FaultSpec(kind="server_error", model=DS8, count=1))
        retried = c.post("/api/v1/images", json={"prompt": "a dog", "model": "DS-8-CF"})
        assert retried.status_code == 200, retried.text
        assert c.get("/no/such/page").status_code == 404
        paid = c.post("/api/v1/images", json={"prompt": "a fox", "model": "FLUX.1-Schnell-CF"})
        assert paid.json()["neurons"] > 0  # DreamShaper is free; FLUX.1 schnell is not
    m = scrape(app_server)

    requests = m["flux_remix_http_requests"]
    route = "/api/v1/images"
    assert value(requests, "flux_remix_http_requests_total", route=route, status="200") == 4
    assert value(requests, "flux_remix_http_requests_total", route=route, status="422") == 1
    assert value(requests, "flux_remix_http_requests_total", route="unmatched", status="404") == 1
    latency = m["flux_remix_http_request_duration_seconds"]
    assert value(latency, "flux_remix_http_request_duration_seconds_count", route=route) == 5
    assert value(latency, "flux_remix_http_request_duration_seconds_sum", route=route) > 0
    # the scrape itself is the one request in flight
    assert value(m["flux_remix_http_requests_in_flight"], "flux_remix_http_requests_in_flight") == 1

    upstream = m["flux_remix_upstream_calls"]
    calls = "flux_remix_upstream_calls_total"
    assert value(upstream, calls, model=DS8, outcome="ok") == 2  # the cache hit made no call
    assert value(upstream, calls, model=DS8, outcome="upstream_server_error") == 1
    labels = {s.labels["account"] for s in upstream if s.name == calls}
    assert labels <= {"cf-1", "cf-2", "cf-3"} and labels
    assert value(upstream, calls, outcome="ok", model="@cf/meta/llama-3.1-8b-instruct-fast") == 1

    neurons = m["flux_remix_neurons"]
    billed = sum(c.neurons for c in emulator.state.calls() if c.status == 200)
    assert value(neurons, "flux_remix_neurons_total") == pytest.approx(billed)
    assert value(neurons, "flux_remix_neurons_total", model=SCHNELL) > 0

    cache = m["flux_remix_cache_lookups"]
    assert value(cache, "flux_remix_cache_lookups_total", cache="image", result="hit") == 1
    assert value(cache, "flux_remix_cache_lookups_total", cache="image", result="miss") == 1
    translations = m["flux_remix_translations"]
    assert value(translations, "flux_remix_translations_total", translator="llm") >= 1

    generations = m["flux_remix_generations"]
    assert value(generations, "flux_remix_generations_total", model=DS8, outcome="ok") == 3
    assert value(generations, "flux_remix_generations_total", outcome="invalid_parameter") == 1
    assert value(m["flux_remix_generations_in_flight"], "flux_remix_generations_in_flight") == 0


def test_each_app_has_its_own_registry(start_app):
    first, second = start_app(), start_app()
    with first.client(headers=AUTH) as c:
        assert c.post("/api/v1/images", json={"prompt": "x", "steps": 99}).status_code == 422
    before = value(
        scrape(second)["flux_remix_http_requests"],
        "flux_remix_http_requests_total",
        route="/api/v1/images",
    )
    assert before == 0
    assert "flux_remix_info" in scrape(first)


def test_metrics_needs_no_key_and_reveals_no_secret(app_server):
    with app_server.client() as c:
        assert c.post("/api/v1/images", json={"prompt": "x"}).status_code == 401
    m = scrape(app_server)  # scrape() checks every secret is absent
    requests = m["flux_remix_http_requests"]
    assert value(requests, "flux_remix_http_requests_total", status="401") == 1
