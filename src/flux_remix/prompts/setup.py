"""Build the prompt pipeline from settings: which LLM, the offline dictionary, which cache."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from flux_remix.accounts import AccountPool
from flux_remix.prompts.cache import MemoryPromptCache, PromptCache, RedisPromptCache
from flux_remix.prompts.dictionary import shared_dictionary
from flux_remix.prompts.llm import OpenAICompatibleText, TextModel, WorkersAIText
from flux_remix.prompts.pipeline import PromptPipeline
from flux_remix.settings import Settings
from flux_remix.upstream import WorkersAIClient


def build_llm(
    settings: Settings, client: WorkersAIClient, pool: AccountPool, http: httpx.AsyncClient
) -> TextModel | None:
    """The configured LLM: `EXTERNAL_*` when `USE_EXTERNAL_API`, else `CF_TRANSLATE_MODEL`.

    None when `FLUX_REMIX_TRANSLATOR=dictionary` (offline only).
    """
    if settings.translator == "dictionary":
        return None
    if settings.use_external_api and settings.external_api and settings.external_model:
        return OpenAICompatibleText(
            http,
            settings.external_api,
            settings.external_model,
            settings.external_api_key,
            timeout=settings.llm_timeout,
            scrub=client.scrub,
        )
    return WorkersAIText(client, pool, settings.translate_model, timeout=settings.llm_timeout)


def build_pipeline(
    settings: Settings,
    client: WorkersAIClient,
    pool: AccountPool,
    http: httpx.AsyncClient,
    redis: Redis | None = None,
) -> PromptPipeline:
    cache: PromptCache = (
        RedisPromptCache(redis, settings.redis_prefix)
        if redis is not None
        else MemoryPromptCache(settings.prompt_cache_size)
    )
    return PromptPipeline(build_llm(settings, client, pool, http), shared_dictionary(), cache)
