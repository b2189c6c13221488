"""Build the image store from settings: SQLite + disk by default, PostgreSQL and S3 when set.

The backend pair is chosen here, once; whichever it is, `ImageStore` writes new images through
the one `writer.BatchWriter`, and nothing downstream asks which stores it has."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from flux_remix.errors import ConfigError, StorageError
from flux_remix.settings import Settings
from flux_remix.storage.disk import DiskBlobStore
from flux_remix.storage.postgres import PostgresMetadataStore
from flux_remix.storage.protocols import BlobStore, MetadataStore
from flux_remix.storage.s3 import S3BlobStore
from flux_remix.storage.sqlite import SQLiteMetadataStore
from flux_remix.storage.store import ImageStore

IMAGES_DIR = "images"


def metadata_store(settings: Settings) -> MetadataStore:
    if settings.database_url is not None:
        return PostgresMetadataStore(settings.database_url.get_secret_value())
    return SQLiteMetadataStore(settings.db_path)


def blob_store(settings: Settings) -> BlobStore:
    if settings.object_store_url:
        assert settings.object_store_access_key and settings.object_store_secret_key
        return S3BlobStore(
            settings.object_store_url,
            settings.object_store_bucket,
            access_key=settings.object_store_access_key,
            secret_key=settings.object_store_secret_key,
            region=settings.object_store_region,
        )
    return DiskBlobStore(settings.data_dir / IMAGES_DIR)


@asynccontextmanager
async def open_storage(settings: Settings) -> AsyncIterator[ImageStore]:
    """The opened store (migrations applied, bucket present); closed on exit.

    A store that cannot be opened stops start-up with a message naming the variable to fix.
    """
    blobs_var = "OBJECT_STORE_URL" if settings.object_store_url else "FLUX_REMIX_DATA_DIR"
    meta_var = "DATABASE_URL" if settings.database_url is not None else "FLUX_REMIX_DATA_DIR"
    try:
        blobs = blob_store(settings)
        await blobs.open()
    except StorageError as exc:
        raise ConfigError(f"invalid configuration: {blobs_var}: {exc.message}") from None
    try:
        meta = metadata_store(settings)
        await meta.open()
    except StorageError as exc:
        await blobs.close()
        raise ConfigError(f"invalid configuration: {meta_var}: {exc.message}") from None
    store = ImageStore(meta, blobs)
    try:
        yield store
    finally:
        await store.close()
