"""Prometheus metrics: one registry per app, and one small method per thing worth counting.

Each `Metrics` owns its own `CollectorRegistry` (never the process-global default), so several
apps in one process (tests, the CLI) do not collide. Labels are route templates, model ids,
account labels and outcome kinds: bounded sets, and never an account id, token or key.

    requests       flux_remix_http_requests_total{route,method,status}
                   flux_remix_http_request_duration_seconds{route,method}   (histogram)
                   flux_remix_http_requests_in_flight
    pipeline       flux_remix_generations_in_flight                         (queue depth)
                   flux_remix_generations_total{model,outcome}
                   flux_remix_images_total{model}
    upstream       flux_remix_upstream_calls_total{account,model,outcome}
                   flux_remix_upstream_call_duration_seconds{model}         (histogram)
                   flux_remix_neurons_total{account,model}
                   flux_remix_account_breaker_trips_total{account}   (an account rests)
    cache          flux_remix_cache_lookups_total{cache,result}             (hit / miss / joined)
    prompts        flux_remix_translations_total{translator}
    jobs           flux_remix_jobs{status}                                   (queued, running)
                   flux_remix_jobs_finished_total{status}
                   flux_remix_job_wait_seconds, flux_remix_job_run_seconds   (histograms)
                   flux_remix_job_takeovers_total
                   flux_remix_webhook_deliveries_total{outcome}
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from flux_remix import __version__

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED_ROUTE = "unmatched"  # requests no route matched share one label (bounded cardinality)

_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
_JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)


class Metrics:
    """The counters of one app. Cheap to call from any coroutine; no I/O."""

    def __init__(self, *, demo: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        info = Gauge("flux_remix_info", "Build information", ["version", "demo"], registry=r)
        info.labels(__version__, str(demo).lower()).set(1)
        self._requests = Counter(
            "flux_remix_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self._latency = Histogram(
            "flux_remix_http_request_duration_seconds",
            "Time from request start to the last byte of the response",
            ["route", "method"],
            buckets=_HTTP_BUCKETS,
            registry=r,
        )
        self._shed = Counter(
            "flux_remix_requests_shed",
            "Requests refused (503) before any other work because the server was full",
            registry=r,
        )
        self._in_flight = 0
        self._generating = 0
        self._idle = asyncio.Event()  # set while no generation is running
        self._idle.set()
        Gauge(
            "flux_remix_http_requests_in_flight", "HTTP requests being served now", registry=r
        ).set_function(lambda: self._in_flight)
        Gauge(
            "flux_remix_generations_in_flight",
            "Generations inside the pipeline now (queue depth)",
            registry=r,
        ).set_function(lambda: self._generating)
        self._generations = Counter(
            "flux_remix_generations",
            "Finished generations by model and outcome (ok or the error kind)",
            ["model", "outcome"],
            registry=r,
        )
        self._images = Counter(
            "flux_remix_images", "Images generated, by model", ["model"], registry=r
        )
        self._upstream = Counter(
            "flux_remix_upstream_calls",
            "Calls to Cloudflare by account label, model and outcome (ok or the error kind)",
            ["account", "model", "outcome"],
            registry=r,
        )
        self._upstream_latency = Histogram(
            "flux_remix_upstream_call_duration_seconds",
            "Duration of one Cloudflare call",
            ["model"],
            buckets=_UPSTREAM_BUCKETS,
            registry=r,
        )
        self._neurons = Counter(
            "flux_remix_neurons",
            "Neurons spent, by account label and model",
            ["account", "model"],
            registry=r,
        )
        self._breaker = Counter(
            "flux_remix_account_breaker_trips",
            "Times an account's circuit breaker opened (it rests after failing again and again)",
            ["account"],
            registry=r,
        )
        self._cache = Counter(
            "flux_remix_cache_lookups",
            "Cache lookups by cache (image, prompt) and result (hit, miss, joined)",
            ["cache", "result"],
            registry=r,
        )
        self._translations = Counter(
            "flux_remix_translations",
            "Prompt translations by the translator that produced the final prompt",
            ["translator"],
            registry=r,
        )

        self._jobs = Gauge(
            "flux_remix_jobs",
            "Jobs queued or running now, in the job store",
            ["status"],
            registry=r,
        )
        self._jobs_finished = Counter(
            "flux_remix_jobs_finished",
            "Jobs this process finished, by final status",
            ["status"],
            registry=r,
        )
        self._job_wait = Histogram(
            "flux_remix_job_wait_seconds",
            "Time from submission to a worker's first start of a job",
            buckets=_JOB_BUCKETS,
            registry=r,
        )
        self._job_run = Histogram(
            "flux_remix_job_run_seconds",
            "Time from a job's first start to its last event",
            buckets=_JOB_BUCKETS,
            registry=r,
        )
        self._takeovers = Counter(
            "flux_remix_job_takeovers",
            "Running jobs taken over from a worker that stopped renewing its lease",
            registry=r,
        )
        self._webhooks = Counter(
            "flux_remix_webhook_deliveries",
            "Webhook delivery tries by outcome (delivered, failed_attempt, gave_up)",
            ["outcome"],
            registry=r,
        )

    # --- HTTP (the middleware) --------------------------------------------------------------

    @contextmanager
    def request_in_flight(self) -> Iterator[None]:
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._requests.labels(route, method, str(status)).inc()
        self._latency.labels(route, method).observe(seconds)

    def request_shed(self) -> None:
        self._shed.inc()

    @property
    def requests_in_flight(self) -> int:
        return self._in_flight

    # --- the pipeline (the service) ---------------------------------------------------------

    @contextmanager
    def generation_in_flight(self) -> Iterator[None]:
        self._generating += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._generating -= 1
            if self._generating == 0:
                self._idle.set()

    @property
    def generations_in_flight(self) -> int:
        return self._generating

    async def generations_finished(self) -> None:
        """Return once no generation is running (for a graceful shutdown)."""
        await self._idle.wait()

    def generation(self, model: str, outcome: str, images: int = 0) -> None:
        self._generations.labels(model, outcome).inc()
        if images:
            self._images.labels(model).inc(images)

    # --- upstream (the Workers AI client and whoever charges neurons) -----------------------

    def upstream_call(self, account: str, model: str, outcome: str, seconds: float) -> None:
        self._upstream.labels(account, model, outcome).inc()
        self._upstream_latency.labels(model).observe(seconds)

    def breaker_trip(self, account: str) -> None:
        """An account's circuit breaker opened: it rests after failing again and again."""
        self._breaker.labels(account).inc()

    def neurons(self, account: str, model: str, amount: float) -> None:
        if amount > 0:
            self._neurons.labels(account, model).inc(amount)

    # --- caches and prompts -----------------------------------------------------------------

    def cache_lookup(self, cache: str, result: str) -> None:
        """`cache`: image or prompt; `result`: hit, miss or joined (shared an in-flight call)."""
        self._cache.labels(cache, result).inc()

    def translation(self, translator: str) -> None:
        self._translations.labels(translator).inc()

    # --- jobs (the workers, webhooks and the /metrics route) -------------------------------

    def job_queue(self, by_status: dict[str, int]) -> None:
        for status in ("queued", "running"):
            self._jobs.labels(status).set(by_status.get(status, 0))

    def job_finished(self, status: str, run_s: float | None, wait_s: float | None) -> None:
        self._jobs_finished.labels(status).inc()
        if run_s is not None:
            self._job_run.observe(max(0.0, run_s))
        if wait_s is not None:
            self._job_wait.observe(max(0.0, wait_s))

    def job_taken_over(self) -> None:
        self._takeovers.inc()

    def webhook_delivery(self, outcome: str) -> None:
        self._webhooks.labels(outcome).inc()

    # --- exposition -------------------------------------------------------------------------

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
