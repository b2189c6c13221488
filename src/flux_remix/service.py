"""`ImageService.generate()`: the one pipeline every route and the CLI go through.

validate against the model → translate the prompt → pick an account and call Cloudflare (with
failover) → count neurons → hand back images and the parameters that made them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from flux_remix import errors as e
from flux_remix.accounts import AccountPool
from flux_remix.catalog import SEED_MAX, Catalog, ModelSpec
from flux_remix.prompts import PromptTranslator
from flux_remix.schemas import GeneratedImage, Generation, ImageRequest, Timings
from flux_remix.settings import Account, Settings
from flux_remix.upstream import UpstreamImage, WorkersAIClient
from flux_remix.validation import EffectiveParams, check_final_prompt, validate_request

# Progress stages, in order: queued → translating → generating → done.
Progress = Callable[[str, dict[str, Any]], Awaitable[None]]


async def _no_progress(stage: str, info: dict[str, Any]) -> None:
    return None


class ImageService:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        client: WorkersAIClient,
        pool: AccountPool,
        translator: PromptTranslator,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.client = client
        self.pool = pool
        self.translator = translator

    def resolve_model(self, name: str | None) -> ModelSpec:
        return self.catalog.resolve(name or self.settings.effective_default_model)

    async def generate(
        self,
        req: ImageRequest,
        *,
        key_id: str | None = None,
        progress: Progress = _no_progress,
    ) -> Generation:
        """Generate `req.n` images; raise a `FluxRemixError` when none could be made."""
        started = time.perf_counter()
        timings = Timings()
        spec = self.resolve_model(req.model)
        params = validate_request(spec, req)
        await progress("queued", {"model": spec.id})

        mode = req.translate or self.settings.translate_default
        await progress("translating", {"mode": mode})
        t0 = time.perf_counter()
        outcome = await self.translator.translate(req.prompt, mode)
        timings.translate_ms = (time.perf_counter() - t0) * 1000
        prompt = check_final_prompt(spec, outcome.final)

        await progress("generating", {"prompt": prompt, "n": req.n})
        t0 = time.perf_counter()
        seeds = [(params.seed + i) % (SEED_MAX + 1) for i in range(req.n)]
        results = await asyncio.gather(
            *(self._one(params.with_seed(s), prompt) for s in seeds), return_exceptions=True
        )
        timings.generate_ms = (time.perf_counter() - t0) * 1000
        images = tuple(r for r in results if isinstance(r, GeneratedImage))
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            if not isinstance(failure, e.FluxRemixError):
                raise failure
        if not images:
            raise failures[0]
        timings.total_ms = (time.perf_counter() - started) * 1000
        generation = Generation(
            id=uuid.uuid4().hex,
            model_id=spec.id,
            model_name=spec.name,
            prompt=outcome,
            params={"model": spec.id, "prompt": prompt, **params.public(), "n": req.n},
            images=images,
            timings=timings,
            demo=self.settings.demo,
            created=time.time(),
            errors=tuple(str(f) for f in failures),
        )
        await progress("done", {"id": generation.id, "images": len(images)})
        return generation

    async def _one(self, params: EffectiveParams, prompt: str) -> GeneratedImage:
        async def call(account: Account) -> UpstreamImage:
            return await self.client.run_image(account, params, prompt)

        result, account = await self.pool.run(call, deadline=self.settings.request_deadline)
        neurons = (
            result.neurons
            if result.neurons is not None
            else params.model.estimate_neurons(params.price_inputs())
        )
        self.pool.charge(account, neurons)
        return GeneratedImage(
            id=uuid.uuid4().hex,
            data=result.data,
            format=result.format,
            width=result.width,
            height=result.height,
            seed=params.seed,
            neurons=neurons,
            account=account.label,
        )
