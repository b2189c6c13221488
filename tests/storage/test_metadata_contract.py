"""One suite, every metadata store (SQLite and PostgreSQL): rows, history, delete, migrations."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from flux_remix.errors import StorageError
from flux_remix.storage.migrations import MIGRATIONS, Migration
from flux_remix.storage.protocols import MetadataStore
from flux_remix.storage.records import HistoryQuery
from tests.storage.helpers import T0, make_record


async def test_a_row_comes_back_exactly_as_written(metadata_store: MetadataStore) -> None:
    record = make_record(
        b"abc", enhanced_prompt="a fluffy cat", cache_key="v1:x", demo=True, neurons=12.25
    )
    await metadata_store.insert(record)
    assert await metadata_store.get(record.id) == record
    assert await metadata_store.get("0" * 32) is None


async def test_ids_are_unique(metadata_store: MetadataStore) -> None:
    record = make_record()
    await metadata_store.insert(record)
    with pytest.raises(StorageError):
        await metadata_store.insert(record)


async def test_history_pages_newest_first_without_gaps_or_repeats(
    metadata_store: MetadataStore,
) -> None:
    # 7 rows, two sharing a timestamp: the cursor must order them by id as well
    records = [make_record(created_us=T0 + i) for i in range(6)]
    records.append(make_record(created_us=T0 + 3))
    for record in records:
        await metadata_store.insert(record)
    expected = sorted(records, key=lambda r: (r.created_us, r.id), reverse=True)
    seen = []
    cursor = None
    pages = 0
    while True:
        page = await metadata_store.history(HistoryQuery(limit=3, cursor=cursor))
        seen.extend(page.records)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [r.id for r in seen] == [r.id for r in expected]
    assert pages == 3


async def test_history_filters_by_text_model_dates_and_key(metadata_store: MetadataStore) -> None:
    cat = make_record(prompt="一只可爱的猫咪", translated_prompt="a cute CAT", created_us=T0)
    dog = make_record(
        prompt="a dog", translated_prompt="a dog", final_prompt="a dog", created_us=T0 + 10
    )
    other_key = make_record(key_id="key_bbbbbbbbbbbb", created_us=T0 + 20)
    sdxl = make_record(model="@cf/bytedance/stable-diffusion-xl-lightning", created_us=T0 + 30)
    pct = make_record(prompt="100% off_sale", created_us=T0 + 40)
    for record in (cat, dog, other_key, sdxl, pct):
        await metadata_store.insert(record)

    async def ids(**query: object) -> set[str]:
        page = await metadata_store.history(HistoryQuery(**query))  # type: ignore[arg-type]
        return {r.id for r in page.records}

    assert await ids(text="cute cat") == {cat.id}  # case-insensitive
    assert await ids(text="可爱") == {cat.id}
    assert await ids(text="%") == {pct.id}  # LIKE wildcards are literal
    assert await ids(text="o_f") == set()  # "_" is no wildcard either (it would match "off")
    assert await ids(model="@cf/bytedance/stable-diffusion-xl-lightning") == {sdxl.id}
    assert await ids(since_us=T0 + 10, until_us=T0 + 30) == {dog.id, other_key.id}
    assert await ids(key_id="key_bbbbbbbbbbbb") == {other_key.id}
    assert len(await ids()) == 5


async def test_delete_returns_the_row_and_tracks_shared_blobs(
    metadata_store: MetadataStore,
) -> None:
    original = make_record()
    reference = make_record(blob_key=original.blob_key, source_id=original.id)
    await metadata_store.insert(original)
    await metadata_store.insert(reference)
    assert await metadata_store.delete(original.id) == original
    assert await metadata_store.delete(original.id) is None
    assert await metadata_store.get(original.id) is None
    assert await metadata_store.blob_in_use(original.blob_key)  # the reference still uses it
    await metadata_store.delete(reference.id)
    assert not await metadata_store.blob_in_use(original.blob_key)


async def test_find_cached_answers_the_oldest_row_for_the_key(
    metadata_store: MetadataStore,
) -> None:
    newer = make_record(cache_key="v1:same", created_us=T0 + 5)
    older = make_record(cache_key="v1:same", created_us=T0)
    await metadata_store.insert(newer)
    await metadata_store.insert(older)
    await metadata_store.insert(make_record(cache_key="v1:other"))
    found = await metadata_store.find_cached("v1:same")
    assert found is not None and found.id == older.id
    assert await metadata_store.find_cached("v1:none") is None


async def test_every_migration_is_applied_once_in_order(
    make_metadata_store: Callable[..., MetadataStore],
) -> None:
    names = [m.name for m in MIGRATIONS]
    first, second = make_metadata_store(), make_metadata_store()
    await asyncio.gather(first.open(), second.open())  # two replicas starting together
    try:
        assert await first.applied_migrations() == names
        record = make_record()
        await first.insert(record)
        assert await second.get(record.id) == record
    finally:
        await first.close()
        await second.close()
    again = make_metadata_store()  # a restart: nothing to apply, nothing lost
    await again.open()
    try:
        assert await again.applied_migrations() == names
        assert await again.get(record.id) == record
    finally:
        await again.close()


async def test_a_failed_migration_leaves_the_database_as_it_was(
    make_metadata_store: Callable[..., MetadataStore],
) -> None:
    broken = Migration("0100_broken", ("CREATE TABLE half_done (x INTEGER)", "NOT SQL AT ALL"))
    with pytest.raises(StorageError):
        await make_metadata_store(migrations=(*MIGRATIONS, broken)).open()
    store = make_metadata_store()
    await store.open()  # the released migrations were committed; the broken one left no trace
    try:
        assert await store.applied_migrations() == [m.name for m in MIGRATIONS]
        fixed = Migration("0100_broken", ("CREATE TABLE half_done (x INTEGER)",))
        again = make_metadata_store(migrations=(*MIGRATIONS, fixed))
        await again.open()  # would fail if half_done had been left behind
        await again.close()
    finally:
        await store.close()


async def test_a_database_from_a_newer_version_is_refused(
    make_metadata_store: Callable[..., MetadataStore],
) -> None:
    newer = Migration("9999_from_the_future", ("CREATE TABLE future (x INTEGER)",))
    store = make_metadata_store(migrations=(*MIGRATIONS, newer))
    await store.open()
    await store.close()
    with pytest.raises(StorageError, match=r"newer flux-remix.*9999_from_the_future"):
        await make_metadata_store().open()


async def test_insert_many_commits_every_row(
    make_metadata_store: Callable[..., MetadataStore],
) -> None:
    records = [make_record(bytes([i]), created_us=T0 + i) for i in range(40)]
    store = make_metadata_store()
    await store.open()
    try:
        await store.insert_many(records)
        await store.insert_many([])  # nothing to do
    finally:
        await store.close()
    reopened = make_metadata_store()  # durable: another connection sees every row
    await reopened.open()
    try:
        for record in records:
            assert await reopened.get(record.id) == record
    finally:
        await reopened.close()


async def test_insert_many_writes_all_rows_or_none(metadata_store: MetadataStore) -> None:
    existing = make_record()
    await metadata_store.insert(existing)
    batch = [make_record(created_us=T0 + i) for i in range(5)]
    batch.insert(2, existing)  # a duplicate id fails the whole transaction
    with pytest.raises(StorageError):
        await metadata_store.insert_many(batch)
    for record in batch:
        if record is not existing:
            assert await metadata_store.get(record.id) is None
    await metadata_store.insert_many([r for r in batch if r is not existing])  # still usable
    page = await metadata_store.history(HistoryQuery(limit=50))
    assert len(page.records) == 6


async def test_a_row_without_a_seed_comes_back_without_one(metadata_store: MetadataStore) -> None:
    record = make_record(seed=None, params={"width": 1024, "height": 1024, "seed": None})
    await metadata_store.insert(record)
    assert await metadata_store.get(record.id) == record


async def test_migration_0006_takes_schnell_s_fictional_seeds_away(
    make_metadata_store: Callable[..., MetadataStore],
) -> None:
    """FLUX.1 schnell never sent a seed upstream: rows stored before 0006 lose theirs."""
    before = [m for m in MIGRATIONS if m.name < "0006"]
    schnell = make_record(seed=42, params={"width": 1024, "height": 1024, "seed": 42, "steps": 4})
    sdxl = make_record(
        seed=42,
        model="@cf/stabilityai/stable-diffusion-xl-base-1.0",
        params={"seed": 42, "steps": 20},
        cache_key="v1:k",
    )
    old = make_metadata_store(migrations=before)
    await old.open()
    try:
        for record in (schnell, sdxl):
            await old.insert(record)
    finally:
        await old.close()
    store = make_metadata_store()
    await store.open()
    try:
        assert await store.applied_migrations() == [m.name for m in MIGRATIONS]
        got = await store.get(schnell.id)
        assert got is not None and got.seed is None and got.params["seed"] is None
        assert got.params["steps"] == 4 and got.prompt == schnell.prompt
        assert await store.get(sdxl.id) == sdxl
        assert (await store.find_cached("v1:k")) == sdxl  # the cache index came back too
        page = await store.history(HistoryQuery(limit=5, model=sdxl.model))
        assert [r.id for r in page.records] == [sdxl.id]
    finally:
        await store.close()
