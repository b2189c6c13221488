"""`ImageStore`: one metadata store and one blob store used together, in a crash-safe order.

Writes put the blob first (atomic, durable) and then the row, so a row never points at a
missing or partial blob; a crash between the two leaves an unreferenced blob and nothing else.
Deletes remove the row first, then the blob once no other row points at it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flux_remix.storage.protocols import BlobStore, MetadataStore
from flux_remix.storage.records import IMAGE_ID, HistoryPage, HistoryQuery, ImageRecord

log = logging.getLogger("flux_remix.storage")


@dataclass(frozen=True)
class StoredImage:
    record: ImageRecord
    data: bytes
    b64: str | None = field(default=None, repr=False)  # upstream's base64 of `data`, if fresh


class ImageStore:
    """Both stores, already opened (see `open_storage`); `close()` closes both."""

    def __init__(self, meta: MetadataStore, blobs: BlobStore) -> None:
        self.meta = meta
        self.blobs = blobs

    async def close(self) -> None:
        try:
            await self.meta.close()
        finally:
            await self.blobs.close()

    async def save(self, record: ImageRecord, data: bytes) -> None:
        """Store a newly generated image: its bytes, then its row (both durable on return)."""
        await self.blobs.put(record.blob_key, data, record.mime)
        await self.meta.insert(record)

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
