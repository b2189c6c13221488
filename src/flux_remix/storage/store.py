"""`ImageStore`: one metadata store and one blob store used together, in a crash-safe order.

New images are group-committed: concurrent `save`s go together (`batch.GroupCommit`) through
the one write path, `writer.BatchWriter` (bytes durable, then rows committed, then answers
released); each caller still returns only once its own blob and row are durable, and gets only
its own error. Deletes remove the row first, then the blob once no other row points at it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field, replace

from flux_remix.storage.batch import GroupCommit
from flux_remix.storage.protocols import BlobStore, MetadataStore
from flux_remix.storage.records import IMAGE_ID, HistoryPage, HistoryQuery, ImageRecord
from flux_remix.storage.writer import BatchWriter, Save

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
        self.writer = BatchWriter(meta, blobs, concurrency=concurrency)
        self.saves: GroupCommit[Save] = GroupCommit(
            self.writer.write, max_batch=max_batch, concurrency=concurrency
        )

    async def close(self) -> None:
        """Wait for the saves in flight, then close both stores."""
        try:
            await self.saves.drain()
            await asyncio.to_thread(self.writer.close)
        finally:
            try:
                await self.meta.close()
            finally:
                await self.blobs.close()

    async def save(self, record: ImageRecord, data: bytes) -> ImageRecord:
        """Store a newly generated image: its bytes, then its row (both durable on return).

        The row's `sha256` is computed here from `data` (so the caller may leave it
        `UNHASHED`), and the blob store's `place` gives the row its `blob_key` (packs choose
        where a blob goes); the record as stored is returned. The hash is taken on the event
        loop on purpose (~0.09 ms per image): in the batch's worker thread, each image's hash
        released and re-took the GIL, and under load every re-take waited for the busy event
        loop, which kept batches in flight for tens of ms (docs/performance.md)."""
        key = self.blobs.place(record.blob_key, len(data))
        stored = replace(record, sha256=hashlib.sha256(data).hexdigest(), blob_key=key)
        await self.saves.submit(Save(stored, data))
        return stored

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
