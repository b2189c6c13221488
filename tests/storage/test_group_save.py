"""`ImageStore.save` group-commits through the one write path (`writer.BatchWriter`): the same
tests for every backend pair (SQLite or PostgreSQL, disk or S3), each checked after a reopen,
as a fresh process would find it; then what only the embedded pair does (rows staged while the
bytes are written, reads that do not wait for the fsync)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from flux_remix.errors import StorageError
from flux_remix.storage import packs
from flux_remix.storage.disk import DiskBlobStore
from flux_remix.storage.postgres import PostgresMetadataStore
from flux_remix.storage.protocols import BlobStore, MetadataStore
from flux_remix.storage.records import UNHASHED, HistoryQuery, ImageRecord, blob_key_for
from flux_remix.storage.sqlite import SQLiteMetadataStore
from flux_remix.storage.store import ImageStore
from flux_remix.storage.writer import Save
from tests.storage.backends import postgres_schema
from tests.storage.conftest import s3_store
from tests.storage.helpers import T0, make_record, png_bytes

PAIRS = ["sqlite+disk", "sqlite+s3", "postgres+disk", "postgres+s3"]
UNWRITABLE = "../unwritable.png"  # a key every blob store refuses (ValueError), writing nothing


@dataclass
class Pair:
    """Makes unopened stores of one backend pair, all on the same data (file, schema, bucket)."""

    name: str
    make_meta: Callable[[], MetadataStore]
    make_blobs: Callable[[], BlobStore]


@pytest.fixture(params=PAIRS)
def pair(request: pytest.FixtureRequest, tmp_path: Path, bucket: str) -> Iterator[Pair]:
    meta_kind, blob_kind = request.param.split("+")
    with contextlib.ExitStack() as stack:
        make_meta: Callable[[], MetadataStore]
        make_blobs: Callable[[], BlobStore]
        if meta_kind == "sqlite":
            make_meta = lambda: SQLiteMetadataStore(tmp_path / "meta.sqlite3")  # noqa: E731
        else:
            url = stack.enter_context(postgres_schema())
            make_meta = lambda: PostgresMetadataStore(url)  # noqa: E731
        if blob_kind == "disk":
            make_blobs = lambda: DiskBlobStore(tmp_path / "images")  # noqa: E731
        else:
            seaweed = request.getfixturevalue("seaweed")
            make_blobs = lambda: s3_store(seaweed, bucket)  # noqa: E731
        yield Pair(request.param, make_meta, make_blobs)


class WatchedMeta:
    """A metadata store whose staged batches are counted (their sizes, in order)."""

    def __init__(self, inner: MetadataStore) -> None:
        self.inner = inner
        self.batches: list[int] = []
        self.staging = threading.Event()  # set once a batch's rows are staged

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @contextlib.contextmanager
    def staged(self, records: Sequence[ImageRecord]) -> Iterator[Callable[[Sequence[bool]], None]]:
        self.batches.append(len(records))
        with self.inner.staged(records) as commit:
            self.staging.set()
            yield commit


class WatchedBlobs:
    """A blob store whose batches wait for `gate`, recording the thread that wrote each; the
    keys in `unwritable` (plain keys) are handed to the real store as a key it refuses."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.writers: list[str] = []
        self.unwritable: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put_many_blocking(
        self, items: Sequence[tuple[str, bytes, str]]
    ) -> list[BaseException | None]:
        self.writers.append(threading.current_thread().name)
        self.entered.set()
        assert self.gate.wait(10)
        items = [(UNWRITABLE if plain_key(k) in self.unwritable else k, d, t) for k, d, t in items]
        return self.inner.put_many_blocking(items)

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 10)


@dataclass
class Parts:
    pair: Pair
    meta: WatchedMeta
    blobs: WatchedBlobs
    store: ImageStore
    closed: list[bool] = field(default_factory=list)

    async def close(self) -> None:
        self.blobs.gate.set()
        if not self.closed:
            self.closed.append(True)
            await self.store.close()

    async def stored(self, record: ImageRecord) -> tuple[ImageRecord | None, bytes | None]:
        """The row and the bytes as a fresh process would find them."""
        meta, blobs = self.pair.make_meta(), self.pair.make_blobs()
        await meta.open()
        await blobs.open()
        try:
            return await meta.get(record.id), await blobs.get(record.blob_key)
        finally:
            await meta.close()
            await blobs.close()

    async def assert_all_stored(
        self, batch: list[tuple[ImageRecord, bytes]], saved: Sequence[object]
    ) -> None:
        """`saved` (what `save` answered for `batch`) is `batch` as placed by the blob store,
        and every image of it, row and bytes, is what a fresh process finds."""
        assert len(saved) == len(batch)
        for (record, data), done in zip(batch, saved, strict=True):
            assert isinstance(done, ImageRecord)
            assert plain(done) == record
            assert await self.stored(done) == (done, data)


async def open_parts(pair: Pair, concurrency: int = 1) -> Parts:
    """The pair's stores, watched (one flush at a time by default, so batches are predictable)."""
    inner_meta, inner_blobs = pair.make_meta(), pair.make_blobs()
    await inner_meta.open()
    await inner_blobs.open()
    meta, blobs = WatchedMeta(inner_meta), WatchedBlobs(inner_blobs)
    store = ImageStore(meta, blobs, concurrency=concurrency)  # type: ignore[arg-type]
    return Parts(pair, meta, blobs, store)


@pytest.fixture
async def parts(pair: Pair) -> AsyncIterator[Parts]:
    opened = await open_parts(pair)
    yield opened
    await opened.close()


def images(n: int) -> list[tuple[ImageRecord, bytes]]:
    out = []
    for i in range(n):
        data = png_bytes((i % 256, 100, 200), size=8 + i % 5)
        out.append((make_record(data, created_us=T0 + i), data))
    return out


def plain_key(key: str) -> str:
    """`key` as it was before the blob store placed it (packs give it a packed key)."""
    place = packs.parse(key)
    return key if place is None else place.name


def plain(record: ImageRecord) -> ImageRecord:
    return replace(record, blob_key=plain_key(record.blob_key))


async def held_saves(
    parts: Parts, batch: list[tuple[ImageRecord, bytes]]
) -> list[asyncio.Task[Any]]:
    """Saves of `batch` started while the blobs are held; returns once the first batch waits."""
    parts.blobs.entered.clear()
    parts.meta.staging.clear()
    parts.blobs.gate.clear()
    tasks = [asyncio.create_task(parts.store.save(r, d)) for r, d in batch]
    await parts.blobs.wait_entered()
    return tasks


async def queued_behind_a_held_save(
    parts: Parts, batch: list[tuple[ImageRecord, bytes]]
) -> list[object]:
    """`batch[0]` saved alone, held at the blobs while the rest queue up and then go as one
    batch; what each save answered (its record, or its error)."""
    parts.blobs.entered.clear()
    parts.blobs.gate.clear()
    first = asyncio.create_task(parts.store.save(*batch[0]))
    await parts.blobs.wait_entered()
    rest = [asyncio.create_task(parts.store.save(r, d)) for r, d in batch[1:]]
    await asyncio.sleep(0)
    parts.blobs.gate.set()
    return list(await asyncio.gather(first, *rest, return_exceptions=True))


async def test_concurrent_saves_share_few_commits_and_all_land(parts: Parts) -> None:
    batch = images(50)
    saved = await asyncio.gather(*(parts.store.save(r, d) for r, d in batch))
    assert parts.store.saves.flushes <= 5  # 50 saves, a handful of group commits
    assert len(parts.meta.batches) == parts.store.saves.flushes
    assert sum(parts.meta.batches) == 50
    await parts.close()
    await parts.assert_all_stored(batch, saved)


async def test_the_store_hashes_the_bytes_of_what_it_saves(parts: Parts) -> None:
    batch = images(3)
    unhashed = [(replace(r, sha256=UNHASHED), d) for r, d in batch]  # as the pipeline sends
    saved = await asyncio.gather(*(parts.store.save(r, d) for r, d in unhashed))
    await parts.close()
    await parts.assert_all_stored(batch, saved)  # with the hash of their bytes


async def test_a_blob_that_cannot_be_written_fails_only_its_own_save(parts: Parts) -> None:
    batch = images(13)
    bad = batch[5][0]
    parts.blobs.unwritable.add(bad.blob_key)
    results = await queued_behind_a_held_save(parts, batch)
    assert isinstance(results[5], ValueError)
    assert parts.meta.batches == [1, 12]  # staged with its batch, left out of the commit
    await parts.close()
    assert await parts.stored(bad) == (None, None)  # no row pointing at a missing blob
    good = [i for i in range(len(batch)) if i != 5]
    await parts.assert_all_stored([batch[i] for i in good], [results[i] for i in good])


async def test_a_failing_batch_insert_falls_back_to_one_row_at_a_time(parts: Parts) -> None:
    taken = images(1)[0]
    first_saved = await parts.store.save(*taken)
    batch = images(10)
    # same id as a stored row (its own blob): the batch's transaction fails on it
    clash = make_record(b"x", id=taken[0].id, blob_key=blob_key_for(uuid.uuid4().hex, "png"))
    batch.insert(4, (clash, b"x"))
    results = await queued_behind_a_held_save(parts, batch)
    assert isinstance(results[4], StorageError)
    assert parts.meta.batches == [1, 1, 10] + [1] * 10  # the failed batch of 10, row by row
    await parts.close()
    assert await parts.stored(first_saved) == (first_saved, taken[1])  # untouched
    good = [i for i in range(len(batch)) if i != 4]
    await parts.assert_all_stored([batch[i] for i in good], [results[i] for i in good])


async def test_a_lone_failing_row_fails_its_save_and_nothing_else(parts: Parts) -> None:
    taken = images(1)[0]
    await parts.store.save(*taken)
    clash = make_record(b"x", id=taken[0].id, blob_key=blob_key_for(uuid.uuid4().hex, "png"))
    with pytest.raises(StorageError):
        await parts.store.save(clash, b"x")
    assert parts.meta.batches == [1, 1]  # no second try of a lone row
    [(record, data)] = images(1)
    saved = await parts.store.save(record, data)  # the store still works
    await parts.close()
    await parts.assert_all_stored([(record, data)], [saved])


async def test_a_cancelled_save_does_not_break_the_batch(parts: Parts) -> None:
    batch = images(8)
    tasks = await held_saves(parts, batch)
    tasks[0].cancel()  # in the running flush
    tasks[5].cancel()  # queued for the next one
    await asyncio.sleep(0)
    parts.blobs.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert isinstance(results[5], asyncio.CancelledError)
    await parts.close()  # nothing left pending
    good = [i for i in range(len(batch)) if i not in (0, 5)]
    await parts.assert_all_stored([batch[i] for i in good], [results[i] for i in good])
    for i in (0, 5):  # the cancelled callers' images too
        row, _ = await parts.stored(batch[i][0])
        assert row is not None and plain(row) == batch[i][0]
        assert await parts.stored(row) == (row, batch[i][1])


async def test_close_waits_for_saves_in_flight(parts: Parts) -> None:
    batch = images(6)
    tasks = await held_saves(parts, batch)
    parts.closed.append(True)
    closing = asyncio.create_task(parts.store.close())
    await asyncio.sleep(0.05)
    assert not closing.done()
    parts.blobs.gate.set()
    await closing
    assert all(t.done() and t.exception() is None for t in tasks)
    await parts.assert_all_stored(batch, [t.result() for t in tasks])


# The embedded pair (SQLite + disk, the default)


def embedded_pair(tmp_path: Path) -> Pair:
    return Pair(
        "sqlite+disk",
        lambda: SQLiteMetadataStore(tmp_path / "meta.sqlite3"),
        lambda: DiskBlobStore(tmp_path / "images"),
    )


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[Parts]:
    opened = await open_parts(embedded_pair(tmp_path))
    yield opened
    await opened.close()


async def test_rows_are_staged_during_the_blob_writes_and_committed_after_them(
    tmp_path: Path, embedded: Parts
) -> None:
    batch = images(3)
    blobs = embedded.blobs
    saves = [Save(replace(r, blob_key=blobs.place(r.blob_key, len(d))), d) for r, d in batch]
    blobs.gate.clear()
    flush = asyncio.get_running_loop().run_in_executor(None, embedded.store.writer.write, saves)
    await blobs.wait_entered()  # the blobs are held at the disk...
    assert await asyncio.to_thread(embedded.meta.staging.wait, 10)
    assert embedded.meta.batches == [3]  # ...while their rows are already inserted...
    with contextlib.closing(sqlite3.connect(tmp_path / "meta.sqlite3")) as reader:
        ids = [r.id for r, _ in batch]  # ...but not committed: another connection sees none
        query = "SELECT count(*) FROM images WHERE id IN (?, ?, ?)"
        assert reader.execute(query, ids).fetchone()[0] == 0
    blobs.gate.set()
    assert await flush == [None] * 3
    assert blobs.writers == ["flux-remix-blobs_0"]  # a batch's bytes: written by a blob thread
    await embedded.assert_all_stored(batch, [s.record for s in saves])


async def test_a_lone_save_is_not_delayed(embedded: Parts) -> None:
    [(record, data)] = images(1)
    t0 = time.perf_counter()
    saved = await embedded.store.save(record, data)
    assert time.perf_counter() - t0 < 1.0  # fsyncs only; no batching timer to wait out
    assert not embedded.blobs.writers[0].startswith("flux-remix-blobs")  # no hand-off
    assert embedded.meta.batches == [1] and embedded.store.saves.flushes == 1
    assert await embedded.store.get(record.id) == saved and plain(saved) == record
    assert await embedded.store.read(saved) == data


async def test_two_batches_are_written_side_by_side(tmp_path: Path) -> None:
    """The default store lets a second batch start while the first waits on the disk."""
    parts = await open_parts(embedded_pair(tmp_path), concurrency=2)
    try:
        parts.blobs.gate.clear()
        batch = images(6)
        tasks = [asyncio.create_task(parts.store.save(*batch[0]))]
        await parts.blobs.wait_entered()  # the first batch waits on the disk...
        tasks += [asyncio.create_task(parts.store.save(r, d)) for r, d in batch[1:]]
        await asyncio.sleep(0.05)
        assert parts.store.saves.running == 2  # ...and the second does not wait for it
        parts.blobs.gate.set()
        saved = await asyncio.gather(*tasks)
        assert sum(parts.meta.batches) == 6
        assert len(parts.meta.batches) == parts.store.saves.flushes
    finally:
        await parts.close()
    await parts.assert_all_stored(batch, saved)


async def test_reads_are_answered_while_a_batch_waits_for_its_fsync(embedded: Parts) -> None:
    """A batch holds the write connection from its rows' insert to their commit, i.e. while
    its bytes are written and fsynced; cache lookups and history pages use their own read
    connection and are answered meanwhile (they used to queue behind the fsync)."""
    store = embedded.store
    earlier = make_record(png_bytes(), cache_key="v1:earlier")
    kept = await store.save(earlier, png_bytes())
    [(record, data)] = images(1)
    held = await held_saves(embedded, [(record, data)])
    assert await asyncio.to_thread(embedded.meta.staging.wait, 10)  # rows staged, bytes held
    found = await asyncio.wait_for(store.cached("v1:earlier"), 5)
    assert found is not None and found.record == kept
    page = await asyncio.wait_for(store.history(HistoryQuery(limit=10)), 5)
    assert [r.id for r in page.records] == [kept.id]  # the held row is not committed yet
    assert not held[0].done()
    embedded.blobs.gate.set()
    await held[0]
    page = await store.history(HistoryQuery(limit=10))
    assert {r.id for r in page.records} == {kept.id, record.id}


async def test_a_store_with_async_io_refuses_a_blocking_call_on_its_own_event_loop(
    seaweed: Any, bucket: str
) -> None:
    """It would wait for its own loop for ever; only the writer's worker threads may call it."""
    blobs = s3_store(seaweed, bucket)
    await blobs.open()
    try:
        with pytest.raises(RuntimeError, match="worker thread"):
            blobs.put_many_blocking([])
        assert await asyncio.to_thread(blobs.put_many_blocking, []) == []  # from a thread: fine
    finally:
        await blobs.close()
