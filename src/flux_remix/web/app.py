"""The FastAPI application factory: `create_app(settings)`; nothing is built at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from flux_remix import __version__
from flux_remix.jobs import open_job_store
from flux_remix.jobs.setup import open_workers
from flux_remix.keys.setup import check_key_lengths
from flux_remix.metrics import Metrics
from flux_remix.runtime import check_catalog, open_runtime
from flux_remix.settings import Settings
from flux_remix.web import assets, errors
from flux_remix.web.auth_gate import AuthGate
from flux_remix.web.body_limit import BodyLimit
from flux_remix.web.cors import install_cors
from flux_remix.web.json_shape import ShapeLimits
from flux_remix.web.middleware import RequestContext
from flux_remix.web.routes import (
    a1111,
    accounts,
    history,
    images,
    jobs,
    keys,
    native,
    openai_chat,
    openai_edits,
    openai_images,
    openai_models,
    ops,
    original,
    pages,
    prompt,
)
from flux_remix.web.server import finish_generations
from flux_remix.web.session import Sessions
from flux_remix.web.session_store import session_store
from flux_remix.web.shedding import Shedding

log = logging.getLogger("flux_remix")

# FastAPI 0.165 (pinned) checks for OpenTelemetry providers on every request; flux-remix has its
# own Prometheus metrics and access log (see docs/performance.md), so its native telemetry is off.
_NO_OTEL: dict[str, Any] = {
    "telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
}


def create_app(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The app for `settings`; `transport` replaces the network (tests, demo)."""
    if not settings.demo:
        check_catalog(settings)  # configuration errors surface before the server starts
        check_key_lengths(settings)
    metrics = Metrics(demo=settings.demo)  # one registry per app

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_runtime(settings, transport=transport, metrics=metrics) as runtime,
            open_job_store(settings, runtime.redis) as job_store,
            # closed after finish_generations() below has waited for running jobs: it hands
            # back to the queue only what outlived the shutdown deadline
            open_workers(
                settings,
                job_store,
                run=jobs.job_runner(runtime.service),
                describe=jobs.describe_failure,
                render=jobs.final_json,
                metrics=metrics,
                slots=settings.workers,
            ) as workers,
        ):
            app.state.runtime = runtime
            app.state.jobs = job_store
            ring = runtime.keys.ring  # the true auth state: configured keys, stored keys, or open
            log.log(logging.INFO if ring.usable else logging.WARNING, "%s", ring.auth_state())
            app.state.sessions.store = session_store(
                runtime.redis, settings.redis_prefix, settings.session_idle_timeout
            )
            yield
            if workers is not None:
                workers.stop_claiming()
            await finish_generations(app, metrics, settings.shutdown_timeout)
        log.info("shutdown complete: stores flushed and connections closed")

    app = FastAPI(
        title="flux-remix",
        version=__version__,
        description="Prompts to images through Cloudflare Workers AI.",
        lifespan=lifespan,
        responses=errors.ERROR_RESPONSES,
        **_NO_OTEL,
    )
    errors.install(app)
    app.state.sessions = Sessions(settings)  # the web page's signed sign-in cookies
    app.state.assets = assets.Assets()  # static files, read once, with cache-busting URLs
    app.state.a1111 = a1111.A1111State()  # checkpoints by key, generations in flight
    app.state.draining = False  # set when shutdown starts: /readyz answers 503
    # the generation routes first: a request is matched against the routes in this order
    for router in (
        openai_images.router,
        openai_edits.router,
        a1111.router,
        original.router,
        openai_chat.router,
        native.router,
        images.router,
        openai_models.router,
        ops.router,
        pages.router,
        accounts.router,
        prompt.router,
        jobs.router,
        assets.router,
        history.router,
        keys.router,
    ):
        app.include_router(router)
    install_cors(app, settings)
    json_limits = ShapeLimits(settings.max_json_depth, settings.max_json_values)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, json=json_limits)
    app.add_middleware(AuthGate)  # before BodyLimit: no body is read for an unknown caller
    app.add_middleware(RequestContext, demo=settings.demo, metrics=metrics)
    app.add_middleware(Shedding, metrics=metrics)  # outermost: a full server refuses at once
    return app
