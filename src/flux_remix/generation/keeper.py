"""Around each upstream image call: cache lookup, in-flight sharing, and storing before answering.

For a request with an explicit seed the image's cache key is looked up first; a stored image is
answered from storage (`cache: hit`, no upstream call, no neurons). Otherwise identical calls in
flight share one upstream call (`joined`). Both are scoped by API key (the cache key includes it,
docs/security.md): a hit or a joined call answers the key's own image, its own row. Every new
image is stored, bytes then row, before it is handed back, so no response ever names an image
that is not kept.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from flux_remix.generation.cache import image_cache_key
from flux_remix.generation.flight import Flights
from flux_remix.ids import derived_id
from flux_remix.schemas import CacheOutcome, GeneratedImage, PromptOutcome
from flux_remix.storage.records import UNHASHED, ImageRecord, blob_key_for
from flux_remix.storage.store import ImageStore, StoredImage
from flux_remix.validation import EffectiveParams


@dataclass(frozen=True)
class Provenance:
    """What one generation request contributes to each of its images' records."""

    generation_id: str
    key_id: str | None
    model_name: str
    prompt: PromptOutcome
    cacheable: bool  # the caller chose the seed
    translate_ms: float = 0.0
    demo: bool = False

    @property
    def enhanced(self) -> str | None:
        """The enhanced prompt, when the LLM rewrote it (translation and enhancement are one
        step, so it is also the translated prompt)."""
        return self.prompt.final if self.prompt.enhanced else None


@dataclass(frozen=True)
class JobContext:
    """A generation run as a durable job (jobs/): its id names the generation and, with each
    image's index, the image (`derived_id`), so an attempt that re-runs the job after a
    takeover finds what an earlier one stored instead of storing it again; `checkpoint`
    raises once the job was cancelled (or taken over), and is awaited before anything is
    stored."""

    id: str
    checkpoint: Callable[[], Awaitable[None]]

    def image_id(self, index: int) -> str:
        return derived_id(self.id, str(index))


async def _go_on() -> None:
    return None


def now_us() -> int:
    return time.time_ns() // 1000


def image_of(
    record: ImageRecord, data: bytes, cache: CacheOutcome, b64: str | None = None
) -> GeneratedImage:
    return GeneratedImage(
        id=record.id,
        data=data,
        format=record.format,
        width=record.width,
        height=record.height,
        seed=record.seed,
        neurons=record.neurons if cache == "miss" else 0.0,
        account=record.account,
        cache=cache,
        b64=b64,
    )


class Keeper:
    def __init__(self, store: ImageStore, flights: Flights[StoredImage], deadline: float) -> None:
        self.store = store
        self.flights = flights
        self.deadline = deadline

    async def obtain(
        self,
        job: Provenance,
        params: EffectiveParams,
        prompt: str,
        make: Callable[[], Awaitable[GeneratedImage]],
        *,
        image_id: str | None = None,
        checkpoint: Callable[[], Awaitable[None]] | None = None,
    ) -> GeneratedImage:
        """The image for `params`: from storage, from an identical call in flight, or `make()`d
        and stored.

        With `image_id` (a durable job's image, see `JobContext`) the image is stored
        under that id, and when an earlier attempt of the job stored it already, that image is
        answered as it was, with no upstream call: a job re-run after a takeover stores each
        image once. `checkpoint()` is awaited before anything is stored (it raises to stop)."""
        if image_id is not None:
            earlier = await self._earlier(image_id)
            if earlier is not None:
                return image_of(earlier.record, earlier.data, "miss")
        check = checkpoint or _go_on
        if not job.cacheable:
            stored = await self._fresh(job, params, prompt, make, None, image_id, check)
            return image_of(stored.record, stored.data, "miss", stored.b64)
        key = image_cache_key(params, prompt, scope=job.key_id)  # one key's cache is its own
        found = await self.store.cached(key)
        if found is not None:  # the key's own image: the cache key is scoped by key
            return image_of(found.record, found.data, "hit", found.b64)
        stored, joined = await self.flights.run(
            key,
            lambda: self._fresh(job, params, prompt, make, key, image_id, check),
            lambda: self.store.cached(key),
            deadline=self.deadline,
        )
        return image_of(stored.record, stored.data, "joined" if joined else "miss", stored.b64)

    async def _earlier(self, image_id: str) -> StoredImage | None:
        record = await self.store.get(image_id)
        data = await self.store.read(record) if record is not None else None
        return StoredImage(record, data) if record is not None and data is not None else None

    async def _fresh(
        self,
        job: Provenance,
        params: EffectiveParams,
        prompt: str,
        make: Callable[[], Awaitable[GeneratedImage]],
        key: str | None,
        image_id: str | None = None,
        checkpoint: Callable[[], Awaitable[None]] = _go_on,
    ) -> StoredImage:
        t0 = time.perf_counter()
        image = await make()
        if image_id is not None:
            image = replace(image, id=image_id)
        await checkpoint()
        generate_ms = (time.perf_counter() - t0) * 1000
        record = ImageRecord(
            id=image.id,
            generation_id=job.generation_id,
            created_us=now_us(),
            key_id=job.key_id,
            model=params.model.id,
            model_name=job.model_name,
            prompt=job.prompt.original,
            translated_prompt=job.prompt.final,
            enhanced_prompt=job.enhanced,
            final_prompt=prompt,
            translator=job.prompt.translator,
            params=params.public(),
            seed=image.seed,
            width=image.width,
            height=image.height,
            format=image.format,
            bytes=len(image.data),
            sha256=UNHASHED,  # the store hashes the bytes it keeps
            account=image.account,
            neurons=image.neurons,
            timings=_timings(job, generate_ms),
            blob_key=blob_key_for(image.id, image.format),
            cache_key=key,
            demo=job.demo,
        )
        record = await self.store.save(record, image.data)  # hashed, its blob key placed
        return StoredImage(record, image.data, image.b64)


def _timings(job: Provenance, generate_ms: float) -> dict[str, float]:
    return {"translate_ms": round(job.translate_ms, 1), "generate_ms": round(generate_ms, 1)}
