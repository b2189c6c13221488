"""The FastAPI application factory: `create_app(settings)`; nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from flux_remix import __version__
from flux_remix.runtime import check_catalog, open_runtime
from flux_remix.settings import Settings
from flux_remix.web import errors
from flux_remix.web.middleware import RequestContext
from flux_remix.web.routes import health, native, original, pages


def create_app(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The app for `settings`; `transport` replaces the network (tests, demo)."""
    if not settings.demo:
        check_catalog(settings)  # configuration errors surface before the server starts

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, transport=transport) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="flux-remix",
        version=__version__,
        description="Prompts to images through Cloudflare Workers AI.",
        lifespan=lifespan,
    )
    errors.install(app)
    for router in (original.router, native.router, health.router, pages.router):
        app.include_router(router)
    app.add_middleware(RequestContext, demo=settings.demo)
    return app
