"""The two small contracts storage is built on; each implementation passes the same tests.

`MetadataStore`: rows of `ImageRecord` (SQLite by default, PostgreSQL for replicas).
`BlobStore`: image bytes by key (a local directory by default, an S3-compatible bucket for
replicas). A blob is written completely or not at all: readers never see a partial file.
The `*_many` methods write a batch at once (see `ImageStore.save`, which group-commits).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

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

    async def get(self, key: str) -> bytes | None: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove `key`; no error when it is already gone."""


@runtime_checkable
class BlockingBlobWrites(Protocol):
    """A blob store whose writes are local I/O (the data directory): a batch can be written
    from a worker thread, without a trip through the event loop per step."""

    def put_many_blocking(
        self, items: Sequence[tuple[str, bytes, str]]
    ) -> list[BaseException | None]: ...


@runtime_checkable
class PlacedBlobWrites(Protocol):
    """A blob store that chooses where a new blob goes (pack files): the key a row must name
    is known only once the store has placed it."""

    def place(self, key: str, size: int) -> str:
        """The key under which the new blob `key` of `size` bytes is to be `put`; reserves its
        room (raises `StorageError` when it cannot)."""


@runtime_checkable
class BlockingRowWrites(Protocol):
    """A metadata store that can commit a batch from a worker thread (SQLite)."""

    def insert_many_blocking(
        self, records: Sequence[ImageRecord], *, keep: Callable[[], Sequence[bool]] | None = None
    ) -> None:
        """Insert `records` in one transaction. With `keep`, the rows are inserted first and
        `keep()` is called just before the commit (it may wait): the rows it answers False for
        are taken out again, and the rest commit together."""
