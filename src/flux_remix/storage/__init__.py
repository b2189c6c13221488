"""Images that last: metadata (SQLite or PostgreSQL) and bytes (disk or S3) behind two small
protocols, and the crash-safe `ImageStore` over them. Persistence only: what to store and when
(cache, in-flight sharing) is the pipeline's (`flux_remix.generation`)."""

from flux_remix.storage.protocols import BlobStore, MetadataStore
from flux_remix.storage.records import HistoryPage, HistoryQuery, ImageRecord, blob_key_for
from flux_remix.storage.setup import open_storage
from flux_remix.storage.store import ImageStore, StoredImage

__all__ = [
    "BlobStore",
    "HistoryPage",
    "HistoryQuery",
    "ImageRecord",
    "ImageStore",
    "MetadataStore",
    "StoredImage",
    "blob_key_for",
    "open_storage",
]
