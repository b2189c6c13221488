"""`ImageStore.save` group-commits: real SQLite files and image directories, checked after a
reopen from disk."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from flux_remix.errors import StorageError
from flux_remix.storage import packs
from flux_remix.storage.disk import DiskBlobStore
from flux_remix.storage.records import UNHASHED, ImageRecord, blob_key_for
from flux_remix.storage.sqlite import SQLiteMetadataStore
from flux_remix.storage.store import ImageStore, Save, _save_blocking
from tests.storage.helpers import T0, make_record, png_bytes


class CountingSQLite(SQLiteMetadataStore):
    """Counts the transactions that write rows (a batch is written from a worker thread)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[int] = []

    def insert_many_blocking(
        self, records: Sequence[ImageRecord], *, keep: Callable[[], Sequence[bool]] | None = None
    ) -> None:
        self.batches.append(len(records))
        super().insert_many_blocking(records, keep=keep)


class GatedDisk(DiskBlobStore):
    """Holds every batch of blobs until `gate` is set (batches are written from a thread)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.writers: list[str] = []  # the thread that wrote each batch

    def put_many_blocking(
        self, items: Sequence[tuple[str, bytes, str]]
    ) -> list[BaseException | None]:
        self.writers.append(threading.current_thread().name)
        self.entered.set()
        assert self.gate.wait(10)
        return super().put_many_blocking(items)

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 10)


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[CountingSQLite, GatedDisk, ImageStore]]:
    """The stores, with one flush at a time so that batches are predictable."""
    meta = CountingSQLite(tmp_path / "meta.sqlite3")
    blobs = GatedDisk(tmp_path / "images")
    await meta.open()
    await blobs.open()
    store = ImageStore(meta, blobs, concurrency=1)
    yield meta, blobs, store
    blobs.gate.set()
    await store.close()


def images(n: int) -> list[tuple[ImageRecord, bytes]]:
    out = []
    for i in range(n):
        data = png_bytes((i % 256, 100, 200), size=8 + i % 5)
        out.append((make_record(data, created_us=T0 + i), data))
    return out


async def stored(tmp_path: Path, record: ImageRecord) -> tuple[ImageRecord | None, bytes | None]:
    """The row and the bytes as a fresh process would find them."""
    meta = SQLiteMetadataStore(tmp_path / "meta.sqlite3")
    await meta.open()
    try:
        row = await meta.get(record.id)
    finally:
        await meta.close()
    return row, await DiskBlobStore(tmp_path / "images").get(record.blob_key)


async def held_saves(
    store: ImageStore, blobs: GatedDisk, batch: list[tuple[ImageRecord, bytes]]
) -> list[asyncio.Task[None]]:
    """Saves of `batch` started while the disk is held; returns once the first batch waits."""
    blobs.gate.clear()
    tasks = [asyncio.create_task(store.save(r, d)) for r, d in batch]
    await blobs.wait_entered()
    return tasks


def plain(record: ImageRecord) -> ImageRecord:
    """`record` as it was before the store placed its blob in a pack (which it must have)."""
    place = packs.parse(record.blob_key)
    assert place is not None, record.blob_key
    return replace(record, blob_key=place.name)


async def assert_all_stored(
    tmp_path: Path, batch: list[tuple[ImageRecord, bytes]], saved: Sequence[object]
) -> None:
    """`saved` (what `save` answered for `batch`) is `batch` placed in packs, and every image
    of it, row and bytes, is what a fresh process finds."""
    assert len(saved) == len(batch)
    for (record, data), done in zip(batch, saved, strict=True):
        assert isinstance(done, ImageRecord)
        assert plain(done) == record
        assert await stored(tmp_path, done) == (done, data)


async def test_concurrent_saves_share_few_commits_and_all_land(
    tmp_path: Path, parts: tuple[CountingSQLite, GatedDisk, ImageStore]
) -> None:
    meta, _, store = parts
    batch = images(50)
    saved = await asyncio.gather(*(store.save(r, d) for r, d in batch))
    assert store.saves.flushes <= 5  # 50 saves, a handful of group commits
    assert len(meta.batches) == store.saves.flushes and sum(meta.batches) == 50
    await store.close()
    await assert_all_stored(tmp_path, batch, saved)


class AsyncOnlySQLite(SQLiteMetadataStore):
    """Offers no blocking writes, like PostgreSQL: the store writes its batches from a task."""

    insert_many_blocking = None  # type: ignore[assignment]


@pytest.mark.parametrize("meta_class", [SQLiteMetadataStore, AsyncOnlySQLite])
async def test_the_store_hashes_the_bytes_of_what_it_saves(
    tmp_path: Path, meta_class: type[SQLiteMetadataStore]
) -> None:
    """On both save paths (a worker thread for blocking stores, a task for the others)."""
    meta = meta_class(tmp_path / "meta.sqlite3")
    blobs = DiskBlobStore(tmp_path / "images")
    await meta.open()
    await blobs.open()
    store = ImageStore(meta, blobs)
    batch = images(3)
    try:
        unhashed = [(replace(r, sha256=UNHASHED), d) for r, d in batch]  # as the pipeline sends
        saved = await asyncio.gather(*(store.save(r, d) for r, d in unhashed))
    finally:
        await store.close()
    await assert_all_stored(tmp_path, batch, saved)  # with the hash of their bytes


async def test_rows_are_inserted_during_the_blob_writes_and_committed_after_them(
    tmp_path: Path, parts: tuple[CountingSQLite, GatedDisk, ImageStore]
) -> None:
    meta, blobs, _ = parts
    batch = images(3)
    saves = [Save(replace(r, blob_key=blobs.place(r.blob_key, len(d))), d) for r, d in batch]
    blobs.gate.clear()
    with ThreadPoolExecutor(1, thread_name_prefix="flux-remix-blobs") as threads:
        loop = asyncio.get_running_loop()
        flush = loop.run_in_executor(None, _save_blocking, blobs, meta, threads, saves)
        await blobs.wait_entered()  # the blobs are held at the disk...
        for _ in range(200):
            if meta.batches:
                break
            await asyncio.sleep(0.01)
        assert meta.batches == [3]  # ...while their rows are already inserted...
        with contextlib.closing(sqlite3.connect(tmp_path / "meta.sqlite3")) as reader:
            ids = [r.id for r, _ in batch]  # ...but not committed: another connection sees none
            query = "SELECT count(*) FROM images WHERE id IN (?, ?, ?)"
            assert reader.execute(query, ids).fetchone()[0] == 0
        blobs.gate.set()
        assert await flush == [None] * 3
    assert blobs.writers == ["flux-remix-blobs_0"]
    await assert_all_stored(tmp_path, batch, [s.record for s in saves])


async def test_a_lone_save_is_not_delayed(
    parts: tuple[CountingSQLite, GatedDisk, ImageStore],
) -> None:
    meta, blobs, store = parts
    [(record, data)] = images(1)
    t0 = time.perf_counter()
    saved = await store.save(record, data)
    assert time.perf_counter() - t0 < 1.0  # fsyncs only; no batching timer to wait out
    assert not blobs.writers[0].startswith("flux-remix-blobs")  # no hand-off to a blob thread
    assert meta.batches == [1] and store.saves.flushes == 1
    assert await store.get(record.id) == saved and plain(saved) == record
    assert await store.read(saved) == data


class MisplacingDisk(GatedDisk):
    """Places the blobs of `misplaced` keys in a pack that cannot be opened."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.misplaced: set[str] = set()

    def place(self, key: str, size: int) -> str:
        if key in self.misplaced:
            return packs.Place(key, 999_999, 0, size).key
        return super().place(key, size)


async def test_a_blob_that_cannot_be_written_fails_only_its_own_save(tmp_path: Path) -> None:
    meta = CountingSQLite(tmp_path / "meta.sqlite3")
    blobs = MisplacingDisk(tmp_path / "images")
    await meta.open()
    await blobs.open()
    store = ImageStore(meta, blobs, concurrency=1)
    (tmp_path / "images" / "packs" / "999999.pack").mkdir()  # a directory: no pack opens
    batch = images(12)
    bad_data = png_bytes()
    bad = make_record(bad_data)
    blobs.misplaced.add(bad.blob_key)
    batch.insert(5, (bad, bad_data))
    blobs.gate.clear()
    first = asyncio.create_task(store.save(*batch[0]))
    await blobs.wait_entered()  # the other 12 queue up behind it and go as one batch
    rest = [asyncio.create_task(store.save(r, d)) for r, d in batch[1:]]
    await asyncio.sleep(0)
    blobs.gate.set()
    results = await asyncio.gather(first, *rest, return_exceptions=True)
    assert isinstance(results[5], StorageError)
    assert "cannot write image" in str(results[5])
    assert meta.batches == [1, 12]  # inserted with its batch, taken out before the commit
    await store.close()
    meta_again = SQLiteMetadataStore(tmp_path / "meta.sqlite3")
    await meta_again.open()
    try:
        assert await meta_again.get(bad.id) is None  # no row pointing at a missing blob
    finally:
        await meta_again.close()
    good = [i for i in range(len(batch)) if i != 5]
    await assert_all_stored(tmp_path, [batch[i] for i in good], [results[i] for i in good])


async def test_a_failing_batch_insert_falls_back_to_one_row_at_a_time(
    tmp_path: Path, parts: tuple[CountingSQLite, GatedDisk, ImageStore]
) -> None:
    meta, blobs, store = parts
    taken = images(1)[0]
    first_saved = await store.save(*taken)
    batch = images(10)
    # same id as a stored row (its own blob): the batch's transaction fails on it
    clash = make_record(b"x", id=taken[0].id, blob_key=blob_key_for(uuid.uuid4().hex, "png"))
    batch.insert(4, (clash, b"x"))
    blobs.entered.clear()
    blobs.gate.clear()
    first = asyncio.create_task(store.save(*batch[0]))
    await blobs.wait_entered()  # the rest queue up behind it and go as one batch
    rest = [asyncio.create_task(store.save(r, d)) for r, d in batch[1:]]
    await asyncio.sleep(0)
    blobs.gate.set()
    results = await asyncio.gather(first, *rest, return_exceptions=True)
    assert isinstance(results[4], StorageError)
    assert meta.batches == [1, 1, 10] + [1] * 10  # the failed batch of 10, again row by row
    await store.close()
    assert await stored(tmp_path, first_saved) == (first_saved, taken[1])  # untouched
    good = [i for i in range(len(batch)) if i != 4]
    await assert_all_stored(tmp_path, [batch[i] for i in good], [results[i] for i in good])


async def test_a_cancelled_save_does_not_break_the_batch(
    tmp_path: Path, parts: tuple[CountingSQLite, GatedDisk, ImageStore]
) -> None:
    _, blobs, store = parts
    batch = images(8)
    tasks = await held_saves(store, blobs, batch)
    tasks[0].cancel()  # in the running flush
    tasks[5].cancel()  # queued for the next one
    await asyncio.sleep(0)
    blobs.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert isinstance(results[5], asyncio.CancelledError)
    await store.close()  # nothing left pending
    good = [i for i in range(len(batch)) if i not in (0, 5)]
    await assert_all_stored(tmp_path, [batch[i] for i in good], [results[i] for i in good])
    for i in (0, 5):  # the cancelled callers' images too
        row, _ = await stored(tmp_path, batch[i][0])
        assert row is not None and plain(row) == batch[i][0]
        assert await stored(tmp_path, row) == (row, batch[i][1])


async def test_close_waits_for_saves_in_flight(
    tmp_path: Path, parts: tuple[CountingSQLite, GatedDisk, ImageStore]
) -> None:
    _, blobs, store = parts
    batch = images(6)
    tasks = await held_saves(store, blobs, batch)
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0.05)
    assert not closing.done()
    blobs.gate.set()
    await closing
    assert all(t.done() and t.exception() is None for t in tasks)
    await assert_all_stored(tmp_path, batch, [t.result() for t in tasks])


async def test_two_batches_are_written_side_by_side(tmp_path: Path) -> None:
    """The default store lets a second batch start while the first waits on the disk."""
    meta = CountingSQLite(tmp_path / "meta.sqlite3")
    blobs = GatedDisk(tmp_path / "images")
    await meta.open()
    await blobs.open()
    store = ImageStore(meta, blobs)
    try:
        blobs.gate.clear()
        batch = images(6)
        tasks = [asyncio.create_task(store.save(*batch[0]))]
        await blobs.wait_entered()  # the first batch waits on the disk...
        tasks += [asyncio.create_task(store.save(r, d)) for r, d in batch[1:]]
        await asyncio.sleep(0.05)
        assert store.saves.running == 2  # ...and the second does not wait for it
        blobs.gate.set()
        saved = await asyncio.gather(*tasks)
        assert sum(meta.batches) == 6 and len(meta.batches) == store.saves.flushes
    finally:
        blobs.gate.set()
        await store.close()
    await assert_all_stored(tmp_path, batch, saved)
