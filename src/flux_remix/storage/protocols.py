"""The two small contracts storage is built on; each implementation passes the same tests.

`MetadataStore`: rows of `ImageRecord` (SQLite by default, PostgreSQL for replicas).
`BlobStore`: image bytes by key (a local directory by default, an S3-compatible bucket for
replicas). A blob is written completely or not at all: readers never see a partial file.
The `*_many` methods write a batch at once. New images are written by `writer.BatchWriter`
from a worker thread, through the two blocking methods every store has: `MetadataStore.staged`
and `BlobStore.put_many_blocking` (stores with async I/O answer them from their event loop).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from flux_remix.storage.records import HistoryPage, HistoryQuery, ImageRecord


class MetadataStore(Protocol):
    async def open(self) -> None:
        """Connect and apply pending migrations (idempotent)."""

    async def close(self) -> None: ...

    async def insert(self, record: ImageRecord) -> None:
        """Commit one row durably before returning."""

    async def insert_many(self, records: Sequence[ImageRecord]) -> None:
        """Commit all rows in one transaction, durably before returning; on failure none is
        written and the error is raised."""

    def staged(
        self, records: Sequence[ImageRecord]
    ) -> AbstractContextManager[Callable[[Sequence[bool]], None]]:
        """From a worker thread (never the event loop): a transaction for `records`, inserted
        but not yet committed where the database allows it (SQLite) so that the work overlaps
        the blob writes. The context gives `commit(keep)`, which commits the rows `keep` flags
        True (one flag per record, in order) and none of the others; leaving without it, or
        with an error, commits nothing. Errors are raised as `StorageError`."""

    async def get(self, image_id: str) -> ImageRecord | None: ...

    async def find_cached(self, cache_key: str) -> ImageRecord | None:
        """The oldest row stored under `cache_key`, if any."""

    async def history(self, query: HistoryQuery) -> HistoryPage: ...

    async def delete(self, image_id: str) -> ImageRecord | None:
        """Remove the row; the removed record, or None when there was none."""

    async def blob_in_use(self, blob_key: str) -> bool:
        """Whether any row still points at `blob_key`."""

    async def applied_migrations(self) -> list[str]: ...


class BlobStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key` atomically and durably (replacing any old value)."""

    async def put_many(self, items: Sequence[tuple[str, bytes, str]]) -> list[BaseException | None]:
        """`put` for each `(key, data, content_type)`: one outcome per item, in order (None, or
        that item's error: `StorageError`, `ValueError` for a bad key). One item failing does not
        fail the others, and nothing is raised for it."""

    def put_many_blocking(
        self, items: Sequence[tuple[str, bytes, str]]
    ) -> list[BaseException | None]:
        """`put_many` from a worker thread (never the event loop)."""

    def place(self, key: str, size: int) -> str:
        """The key under which a new blob `key` of `size` bytes is to be put (a store that
        packs blobs chooses where it goes, and reserves its room; others answer `key`).
        Raises `StorageError` when it cannot."""

    async def get(self, key: str) -> bytes | None: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove `key`; no error when it is already gone."""
