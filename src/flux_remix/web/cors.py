"""CORS for browser clients (NextChat, LobeChat, ChatBox on the web) from `CORS_ORIGINS`.

Off unless configured: a self-hosted instance without keys should not be callable from every
web page its user visits. Keys travel in the `Authorization` header, never in cookies, so
credentials are not allowed cross-origin and `*` is safe for an instance that has keys.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from flux_remix.settings import Settings

EXPOSED_HEADERS = ["Retry-After", "X-Request-ID", "X-Flux-Remix-Demo"]


def install_cors(app: FastAPI, settings: Settings) -> None:
    if not settings.cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["*"],
        allow_headers=["*"],  # the openai JS SDK sends x-stainless-* headers
        allow_credentials=False,
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )
