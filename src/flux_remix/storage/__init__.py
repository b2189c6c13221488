"""Images that last: metadata (SQLite or PostgreSQL) and bytes (disk or S3) behind two small
protocols, the crash-safe `ImageStore` over them, cache keys and in-flight de-duplication."""

from flux_remix.storage.cache import cache_key
from flux_remix.storage.flight import Flights
from flux_remix.storage.protocols import BlobStore, MetadataStore
from flux_remix.storage.records import HistoryPage, HistoryQuery, ImageRecord, blob_key_for
from flux_remix.storage.setup import open_storage
from flux_remix.storage.store import ImageStore, StoredImage

__all__ = [
    "BlobStore",
    "Flights",
    "HistoryPage",
    "HistoryQuery",
    "ImageRecord",
    "ImageStore",
    "MetadataStore",
    "StoredImage",
    "blob_key_for",
    "cache_key",
    "open_storage",
]
