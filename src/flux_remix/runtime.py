"""Assemble the running parts from settings: HTTP client, catalog, pool, translator, service.

Used by the web app's lifespan and by the CLI's in-process commands, so both run the same
pipeline. In demo mode the Cloudflare API is the in-process emulator, reached through an ASGI
transport: no network, no accounts needed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from pydantic import SecretStr
from redis.asyncio import Redis

from flux_remix.accounts import AccountPool
from flux_remix.accounts.setup import open_pool
from flux_remix.catalog import RETIRED_TEXT_MODELS, Catalog, build_catalog
from flux_remix.discovery import add_discovered
from flux_remix.errors import ConfigError, UnknownModelError
from flux_remix.keys import Keys, open_keys
from flux_remix.metrics import Metrics
from flux_remix.model_families import extra_models
from flux_remix.openai_aliases import check_openai_aliases
from flux_remix.prompts import build_pipeline
from flux_remix.redis_client import open_redis
from flux_remix.scrub import upstream_scrubber
from flux_remix.service import ImageService
from flux_remix.settings import Account, Settings
from flux_remix.storage import open_storage
from flux_remix.upstream import WorkersAIClient
from flux_remix.upstream.transport import AiohttpTransport

log = logging.getLogger("flux_remix")

DEMO_API_BASE = "http://demo-emulator.invalid/client/v4"


@dataclass
class Runtime:
    settings: Settings
    catalog: Catalog
    http: httpx.AsyncClient
    client: WorkersAIClient
    pool: AccountPool
    service: ImageService
    metrics: Metrics
    keys: Keys  # API keys (configured and stored) and their per-key limits
    redis: Redis | None = None  # the shared client when REDIS_URL is set (bytes replies)


def check_catalog(settings: Settings) -> Catalog:
    """Build the catalog and check the default model, as start-up configuration checks."""
    extra = extra_models(settings.extra_models)
    catalog = build_catalog(settings.customer_model_map, settings.flux_num_steps, extra)
    try:
        catalog.resolve(settings.effective_default_model)
    except UnknownModelError as exc:
        raise ConfigError(f"invalid configuration: DEFAULT_MODEL: {exc.message}") from None
    check_openai_aliases(settings, catalog)
    retired = RETIRED_TEXT_MODELS.get(settings.translate_model)
    uses_it = settings.translator == "llm" and not settings.use_external_api
    if retired and uses_it:
        log.warning(
            "CF_TRANSLATE_MODEL %s is %s; LLM translation will fail and fall back to the offline "
            "dictionary. Set CF_TRANSLATE_MODEL to a current model such as "
            "@cf/meta/llama-3.1-8b-instruct-fast.",
            settings.translate_model,
            retired,
        )
    return catalog


def demo_settings(settings: Settings) -> tuple[Settings, httpx.AsyncBaseTransport]:
    """Settings and a transport that point the app at an in-process emulator."""
    from flux_remix.emulator import EmulatorConfig, create_emulator_app

    config = EmulatorConfig.demo()
    accounts = tuple(
        Account(label=f"demo-{i}", account_id=SecretStr(account_id), token=SecretStr(token))
        for i, (account_id, token) in enumerate(config.accounts.items(), start=1)
    )
    transport = httpx.ASGITransport(app=create_emulator_app(config))
    updated = settings.model_copy(
        update={"accounts": accounts, "cf_api_base": DEMO_API_BASE, "demo": True}
    )
    return updated, transport


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    metrics: Metrics | None = None,
) -> AsyncIterator[Runtime]:
    """Everything a request needs, with one long-lived HTTP client closed on exit."""
    if settings.demo and transport is None:
        settings, transport = demo_settings(settings)
    catalog = check_catalog(settings)
    metrics = metrics or Metrics(demo=settings.demo)
    if not settings.accounts:
        raise ConfigError(
            "invalid configuration: CF_ACCOUNT_LIST: no Cloudflare accounts configured. Set "
            'CF_ACCOUNT_LIST=\'[{"account_id": "...", "token": "..."}]\' or run with --demo.'
        )
    for noisy in ("httpx", "httpcore"):  # their INFO lines carry URLs with account ids
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # aiohttp under httpx: httpcore's pool costs ms of CPU per call under load (transport.py)
    direct = None if transport else AiohttpTransport(max_connections=256)
    transport = transport or direct
    async with (
        AsyncExitStack() as stack,
        httpx.AsyncClient(transport=transport) as http,
    ):
        redis = await stack.enter_async_context(open_redis(settings))
        store = await stack.enter_async_context(open_storage(settings))
        keys = await stack.enter_async_context(open_keys(settings, redis))
        client = WorkersAIClient(
            http,
            settings.cf_api_base,
            timeout=settings.upstream_timeout,
            metrics=metrics,
            direct=direct,
            scrub=upstream_scrubber(settings),  # upstream text never carries a secret in
        )
        pool = await stack.enter_async_context(open_pool(settings, redis, client.verify_token))
        if settings.discover_models:  # opt-in: the account's image models the catalog lacks
            await add_discovered(client, settings.accounts[0], catalog)
        pool.on_trip = metrics.breaker_trip
        prompts = build_pipeline(settings, client, pool, http, redis)
        service = ImageService(
            settings,
            catalog,
            client,
            pool,
            prompts,
            store=store,
            redis=redis,
            metrics=metrics,
            limiter=keys.limiter,
        )
        yield Runtime(settings, catalog, http, client, pool, service, metrics, keys, redis)
