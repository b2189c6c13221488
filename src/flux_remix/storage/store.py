"""`ImageStore`: one metadata store and one blob store used together, in a crash-safe order.

Writes put the blob first (atomic, durable) and then the row, so a row never points at a
missing or partial blob; a crash between the two leaves an unreferenced blob and nothing else.
Concurrent `save`s are group-committed (`batch.GroupCommit`): one `put_many` for the batch's
blobs, then one `insert_many` for the rows whose blob was stored; each caller still returns only
once its own blob and row are durable, and gets only its own error.
Deletes remove the row first, then the blob once no other row points at it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from flux_remix.storage.batch import GroupCommit
from flux_remix.storage.protocols import (
    BlobStore,
    BlockingBlobWrites,
    BlockingRowWrites,
    MetadataStore,
    PlacedBlobWrites,
)
from flux_remix.storage.records import IMAGE_ID, HistoryPage, HistoryQuery, ImageRecord

log = logging.getLogger("flux_remix.storage")


@dataclass(frozen=True)
class StoredImage:
    record: ImageRecord
    data: bytes
    b64: str | None = field(default=None, repr=False)  # upstream's base64 of `data`, if fresh


class ImageStore:
    """Both stores, already opened (see `open_storage`); `close()` closes both."""

    def __init__(
        self,
        meta: MetadataStore,
        blobs: BlobStore,
        *,
        max_batch: int = 64,
        concurrency: int = 2,  # batches written side by side (one waits on fsync, one fills)
    ) -> None:
        self.meta = meta
        self.blobs = blobs
        self._place = blobs.place if isinstance(blobs, PlacedBlobWrites) else None
        self.saves: GroupCommit[Save]
        self._blob_threads: ThreadPoolExecutor | None = None
        if isinstance(blobs, BlockingBlobWrites) and isinstance(meta, BlockingRowWrites):
            # local files and SQLite: the whole batch in worker threads, no task: under load
            # every await costs a turn of a busy event loop, and a batch would otherwise need four.
            # One thread per batch in flight writes its blobs while the flush thread does the rows
            # (not the disk store's own pool: those threads are what a blob batch waits for)
            self._blob_threads = ThreadPoolExecutor(
                concurrency, thread_name_prefix="flux-remix-blobs"
            )
            blocking = functools.partial(_save_blocking, blobs, meta, self._blob_threads)
            self.saves = GroupCommit(
                blocking=blocking, max_batch=max_batch, concurrency=concurrency
            )
        else:
            self.saves = GroupCommit(self._save_batch, max_batch=max_batch, concurrency=concurrency)

    async def close(self) -> None:
        """Wait for the saves in flight, then close both stores."""
        try:
            await self.saves.drain()
            if self._blob_threads is not None:
                await asyncio.to_thread(self._blob_threads.shutdown)
        finally:
            try:
                await self.meta.close()
            finally:
                await self.blobs.close()

    async def save(self, record: ImageRecord, data: bytes) -> ImageRecord:
        """Store a newly generated image: its bytes, then its row (both durable on return).

        The row's `sha256` is computed here from `data` (so the caller may leave it
        `UNHASHED`), and a blob store that places blobs (packs) gives the row its `blob_key`;
        the record as stored is returned. The hash is taken on the event loop on purpose
        (~0.09 ms per image): in the batch's worker thread, each image's hash released and
        re-took the GIL, and under load every re-take waited for the busy event loop, which
        kept batches in flight for tens of ms (docs/performance.md)."""
        key = record.blob_key if self._place is None else self._place(record.blob_key, len(data))
        stored = replace(record, sha256=hashlib.sha256(data).hexdigest(), blob_key=key)
        await self.saves.submit(Save(stored, data))
        return stored

    async def _save_batch(self, items: list[Save]) -> list[BaseException | None]:
        """The blobs, then the rows of those stored; one outcome per item."""
        outcomes = list(await self.blobs.put_many([s.blob for s in items]))
        stored = [i for i, outcome in enumerate(outcomes) if outcome is None]
        if not stored:
            return outcomes
        try:
            await self.meta.insert_many([items[i].record for i in stored])
        except Exception as exc:
            if len(stored) == 1:
                outcomes[stored[0]] = exc
                return outcomes
            log.warning("a batch of %d rows failed (%s); inserting one by one", len(stored), exc)
            for i in stored:  # so that one bad row fails only its own caller
                try:
                    await self.meta.insert(items[i].record)
                except Exception as row_exc:
                    outcomes[i] = row_exc
        return outcomes

    async def save_reference(self, record: ImageRecord, data: bytes) -> None:
        """Store a row that reuses another image's blob (a cache hit for another key).

        The blob is checked after the row is in: if a concurrent delete removed it in between,
        it is written again from `data`, so the new row never points at nothing.
        """
        await self.meta.insert(record)
        if not await self.blobs.exists(record.blob_key):
            await self.blobs.put(record.blob_key, data, record.mime)

    async def get(self, image_id: str) -> ImageRecord | None:
        if not IMAGE_ID.match(image_id):
            return None
        return await self.meta.get(image_id)

    async def read(self, record: ImageRecord) -> bytes | None:
        return await self.blobs.get(record.blob_key)

    async def cached(self, cache_key: str) -> StoredImage | None:
        """A stored image made from the same cache key, with its bytes; None when there is none."""
        record = await self.meta.find_cached(cache_key)
        if record is None:
            return None
        data = await self.blobs.get(record.blob_key)
        if data is None:
            log.warning("image %s has a row but no blob; treated as a cache miss", record.id)
            return None
        return StoredImage(record, data)

    async def history(self, query: HistoryQuery) -> HistoryPage:
        return await self.meta.history(query)

    async def delete(self, image_id: str) -> ImageRecord | None:
        """Remove the row, and the blob when no other row points at it."""
        if not IMAGE_ID.match(image_id):
            return None
        record = await self.meta.delete(image_id)
        if record is not None and not await self.meta.blob_in_use(record.blob_key):
            await self.blobs.delete(record.blob_key)
        return record


@dataclass(frozen=True)
class Save:
    """One new image on its way to storage, its record complete (hashed, placed)."""

    record: ImageRecord
    data: bytes

    @property
    def blob(self) -> tuple[str, bytes, str]:
        return self.record.blob_key, self.data, self.record.mime


def _save_blocking(
    blobs: BlockingBlobWrites,
    meta: BlockingRowWrites,
    blob_threads: Executor,
    items: list[Save],
) -> list[BaseException | None]:
    """`ImageStore._save_batch` in a worker thread, for stores that offer blocking writes.

    The blobs are written by another thread while this one inserts the rows; their transaction
    commits only once the blobs are durable, without the rows whose blob failed. That is still
    blob, then row: a crash before the commit leaves unreferenced blobs and no row. The rows'
    work (~0.3 ms a batch) is done while the disk writes. A lone image (the usual case when
    the server is not busy) is written by this thread itself, between its row's insert and the
    commit: its row is ~0.1 ms of work, less than the two thread hand-offs it would save."""
    blob_items = [s.blob for s in items]
    wait: Callable[[], list[BaseException | None]]
    if len(items) == 1:
        wait = functools.partial(blobs.put_many_blocking, blob_items)
    else:
        wait = blob_threads.submit(blobs.put_many_blocking, blob_items).result
    outcomes: list[BaseException | None] = []

    def written() -> list[bool]:  # waits for the blobs; called once, before the commit
        if not outcomes:
            outcomes.extend(_outcomes_of(wait, len(items)))
        return [outcome is None for outcome in outcomes]

    try:
        meta.insert_many_blocking([s.record for s in items], keep=written)
    except Exception as exc:
        if len(items) > 1:
            log.warning("a batch of %d rows failed (%s); inserting one by one", len(items), exc)
        for i, stored in enumerate(written()):  # so that one bad row fails only its own caller
            if stored:
                try:
                    meta.insert_many_blocking([items[i].record])
                except Exception as row_exc:
                    outcomes[i] = row_exc
    written()
    return outcomes


def _outcomes_of(
    wait: Callable[[], list[BaseException | None]], count: int
) -> list[BaseException | None]:
    try:
        return list(wait())
    except Exception as exc:  # the whole blob batch failed: every image with it
        return [exc] * count
