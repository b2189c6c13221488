"""`ImageService.generate()`: the one pipeline every route and the CLI go through.

validate against the model → translate the prompt → cache lookup (and join an identical call in
flight) → pick an account and call Cloudflare (with failover) → count neurons → store image and
metadata → hand back images and the parameters that made them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from redis.asyncio import Redis

from flux_remix import errors as e
from flux_remix.accounts import AccountPool
from flux_remix.admission import Admission
from flux_remix.catalog import SEED_MAX, Catalog, ModelSpec
from flux_remix.facts import note
from flux_remix.generation import Flights, JobContext, Keeper, Provenance
from flux_remix.ids import new_id
from flux_remix.keys import KeyLimiter
from flux_remix.limits import ImageLimits, check_prompt
from flux_remix.metrics import Metrics
from flux_remix.prompts import AspectHint, PromptPipeline, apply_aspect_hint
from flux_remix.schemas import (
    GeneratedImage,
    Generation,
    ImageFailure,
    ImageRequest,
    PromptOutcome,
    Timings,
)
from flux_remix.settings import Account, Settings
from flux_remix.storage import ImageStore
from flux_remix.storage_health import PROBE_BLOB, StorageHealth
from flux_remix.styles import with_style
from flux_remix.upstream import UpstreamImage, WorkersAIClient
from flux_remix.validation import (
    EffectiveParams,
    UnusedSeed,
    check_final_prompt,
    validate_request,
)

T = TypeVar("T")

# Progress stages, in order: queued → translating → generating → stored (once per image) → done.
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
        prompts: PromptPipeline,
        *,
        store: ImageStore,
        redis: Redis | None = None,
        metrics: Metrics | None = None,
        limiter: KeyLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.limiter = limiter  # per-key neuron budgets (None: no key is limited)
        self.image_limits = ImageLimits.of(settings)
        self.catalog = catalog
        self.client = client
        self.pool = pool
        self.prompts = prompts
        self.store = store
        self.keeper = Keeper(
            store, Flights(redis, settings.redis_prefix), settings.request_deadline
        )
        self.metrics = metrics or Metrics(demo=settings.demo)
        # at most FLUX_REMIX_MAX_INFLIGHT generations at once, a bounded line, then 503s
        self.admission = Admission(settings.max_inflight, settings.max_waiting, settings.max_wait)
        self.storage_health = StorageHealth(lambda: probe_write(store))

    def resolve_model(self, name: str | None) -> ModelSpec:
        return self.catalog.resolve(name or self.settings.effective_default_model)

    async def generate(
        self,
        req: ImageRequest,
        *,
        key_id: str | None = None,
        progress: Progress = _no_progress,
        unused_seed: UnusedSeed = "refuse",
        job: JobContext | None = None,
    ) -> Generation:
        """Generate `req.n` images; raise a `FluxRemixError` when none could be made.

        `unused_seed` is what an explicit seed gets from a model that takes none (see
        validation.UnusedSeed)."""
        model = "unknown"  # a metrics label: never the caller's raw string
        async with self.admission.slot():
            with self.metrics.generation_in_flight():
                try:
                    model = self.resolve_model(req.model).id
                    note(model=model)
                    generation = await self._generate(
                        req, key_id=key_id, progress=progress, unused_seed=unused_seed, job=job
                    )
                except e.FluxRemixError as err:
                    self.metrics.generation(model, err.kind)
                    raise
        self.metrics.generation(model, "ok", images=len(generation.images))
        for image in generation.images:  # a cache hit called no account
            note(account=None if image.cache == "hit" else image.account, images=1)
        note(cache=generation.cache)
        return generation

    async def admit(
        self, req: ImageRequest, *, key_id: str | None, unused_seed: UnusedSeed = "refuse"
    ) -> ModelSpec:
        """What `generate` checks before any work (the model, every parameter, the key's
        budget), for a caller that queues the request to run later: raises as `generate` would."""
        spec, _, _, _ = await self._admit(req, key_id, unused_seed)
        return spec

    async def _admit(
        self, req: ImageRequest, key_id: str | None, unused_seed: UnusedSeed
    ) -> tuple[ModelSpec, ImageRequest, AspectHint | None, EffectiveParams]:
        spec = self.resolve_model(req.model)
        sized, hint = apply_aspect_hint(spec, req)  # "… 16:9" → a size, validated like any other
        check = (spec, sized, self.image_limits)
        if sized.image is None and sized.mask is None and not sized.input_images:
            params = validate_request(*check, unused_seed=unused_seed)
        else:  # decoding and normalising uploads (uploads.py): off the event loop
            params = await asyncio.to_thread(validate_request, *check, unused_seed=unused_seed)
        if self.limiter is not None:  # before any upstream call: the key's daily neurons
            estimate = spec.estimate_neurons(params.price_inputs()) * req.n
            await self.limiter.check_budget(key_id, estimate)
        return spec, sized, hint, params

    async def _generate(
        self,
        req: ImageRequest,
        *,
        key_id: str | None,
        progress: Progress,
        unused_seed: UnusedSeed,
        job: JobContext | None,
    ) -> Generation:
        started = time.perf_counter()
        timings = Timings()
        spec, sized, hint, params = await self._admit(req, key_id, unused_seed)
        await progress("queued", {"model": spec.id})

        await progress("translating", {"mode": sized.translate or self.settings.translate_default})
        t0 = time.perf_counter()
        outcome = await self.prepare_prompt(spec, sized, hint, original=req.prompt)
        timings.translate_ms = (time.perf_counter() - t0) * 1000
        self.metrics.translation(outcome.translator)
        note(translator=outcome.translator)
        prompt = check_final_prompt(spec, with_style(outcome.final, req.style))

        await progress("generating", {"prompt": prompt, "n": req.n})
        t0 = time.perf_counter()
        run = Provenance(
            generation_id=job.id if job else new_id(),
            key_id=key_id,
            model_name=spec.name,
            prompt=outcome,
            cacheable=req.seed is not None and params.seed is not None,
            translate_ms=timings.translate_ms,
            demo=self.settings.demo,
        )
        seeds = _seeds(params.seed, req.n)
        results = await _all_settled(
            [
                self._image(run, params.with_seed(s), prompt, progress, job, i)
                for i, s in enumerate(seeds)
            ]
        )
        timings.generate_ms = (time.perf_counter() - t0) * 1000
        images = tuple(r for r in results if isinstance(r, GeneratedImage))
        failures = [
            (s, r) for s, r in zip(seeds, results, strict=True) if isinstance(r, BaseException)
        ]
        for _, failure in failures:
            if not isinstance(failure, e.FluxRemixError):
                raise failure
        if not images:
            raise failures[0][1]
        failed = tuple(
            ImageFailure(s, f.kind, f.message)
            for s, f in failures
            if isinstance(f, e.FluxRemixError)
        )
        timings.total_ms = (time.perf_counter() - started) * 1000
        generation = Generation(
            id=run.generation_id,
            model_id=spec.id,
            model_name=spec.name,
            prompt=outcome,
            params={"model": spec.id, "prompt": prompt, **params.public(), "n": req.n},
            images=images,
            timings=timings,
            demo=self.settings.demo,
            created=time.time(),
            key_id=key_id,
            failures=failed,
            seed_note=_seed_note(spec, params),
        )
        if self.limiter is not None:
            # a job's charge counts once, even when a takeover re-runs it after the charge
            await self.limiter.charge(
                key_id, generation.neurons + outcome.neurons, once=job.id if job else None
            )
        await progress("done", {"id": generation.id, "images": len(images)})
        return generation

    async def prepare_prompt(
        self,
        spec: ModelSpec,
        req: ImageRequest,
        hint: AspectHint | None = None,
        *,
        original: str | None = None,
    ) -> PromptOutcome:
        """Translate / enhance `req.prompt` per the request, else the server defaults."""
        mode = req.translate or self.settings.translate_default
        enhance = self.settings.enhance_default if req.enhance is None else req.enhance
        outcome = await self.prompts.prepare(
            req.prompt, mode=mode, enhance=enhance, limit=spec.prompt_max
        )
        if outcome.translator == "llm":
            self.metrics.cache_lookup("prompt", "hit" if outcome.cached else "miss")
        if hint is not None:
            notes = "; ".join(n for n in (outcome.note, hint.note) if n)
            outcome = dataclasses.replace(outcome, aspect=hint.ratio, note=notes)
        if original is not None:
            outcome = dataclasses.replace(outcome, original=original)
        return outcome

    async def preview_prompt(
        self, req: ImageRequest
    ) -> tuple[ModelSpec, ImageRequest, PromptOutcome]:
        """What `generate` would send upstream for `req`: model, sized request, prompt."""
        spec = self.resolve_model(req.model)
        check_prompt(spec, req.prompt)  # the model's limit, before any LLM call
        sized, hint = apply_aspect_hint(spec, req)
        return spec, sized, await self.prepare_prompt(spec, sized, hint, original=req.prompt)

    async def _image(
        self,
        run: Provenance,
        params: EffectiveParams,
        prompt: str,
        progress: Progress,
        job: JobContext | None = None,
        index: int = 0,
    ) -> GeneratedImage:
        """One image: from the cache, shared with an identical call, or made and stored (or,
        for a job, what an earlier attempt of it stored)."""
        try:
            image = await self.keeper.obtain(
                run,
                params,
                prompt,
                lambda: self._one(params, prompt),
                image_id=job.image_id(index) if job else None,
                checkpoint=job.checkpoint if job else None,
            )
        except e.StorageError:
            self.storage_health.failed()
            raise
        if image.cache == "miss":
            self.storage_health.succeeded()  # made and stored: writes work
        if run.cacheable:
            self.metrics.cache_lookup("image", image.cache)
        await progress("stored", {"id": image.id, "seed": image.seed, "cache": image.cache})
        return image

    async def _one(self, params: EffectiveParams, prompt: str) -> GeneratedImage:
        async def call(account: Account) -> UpstreamImage:
            return await self.client.run_image(account, params, prompt)

        estimate = params.model.estimate_neurons(params.price_inputs())
        await self.storage_health.ensure()  # never pay for an image that cannot be kept
        result, account = await self.pool.run(
            call,
            deadline=self.settings.request_deadline,
            cost=estimate,
            neurons=lambda r: r.neurons,  # charged: the cf-ai-neurons header, else the estimate
        )
        neurons = result.neurons if result.neurons is not None else estimate
        return GeneratedImage(
            id=new_id(),
            data=result.data,
            format=result.format,
            width=result.width,
            height=result.height,
            seed=params.seed,
            neurons=neurons,
            account=account.label,
            b64=result.b64,
        )


def _seeds(first: int | None, n: int) -> list[int | None]:
    """One seed per image of a batch (first, first + 1, …), or none for a model without."""
    if first is None:
        return [None] * n
    return [(first + i) % (SEED_MAX + 1) for i in range(n)]


def _seed_note(spec: ModelSpec, params: EffectiveParams) -> str | None:
    """Why the images report no seed, and which explicit seed was not used."""
    if spec.seed_note is None:
        return None
    if params.seed_ignored is None:
        return spec.seed_note
    return f"{spec.seed_note}; the seed {params.seed_ignored} sent was not used"


async def _all_settled(calls: list[Coroutine[Any, Any, T]]) -> list[T | BaseException]:
    """`asyncio.gather(..., return_exceptions=True)`, without a task for a lone call: under load
    each task costs a turn of a busy event loop to start and another to report back."""
    if len(calls) != 1:
        return await asyncio.gather(*calls, return_exceptions=True)
    try:
        return [await calls[0]]
    except Exception as exc:  # what gather would return; cancellation still propagates
        return [exc]


async def probe_write(store: ImageStore) -> None:
    """A tiny write and delete in the blob store (`StorageHealth`'s probe)."""
    await store.blobs.put(PROBE_BLOB, b"probe", "image/png")
    await store.blobs.delete(PROBE_BLOB)
