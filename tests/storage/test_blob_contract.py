"""One suite, every blob store (local disk and S3 on SeaweedFS)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from flux_remix.errors import StorageError
from flux_remix.storage.disk import DiskBlobStore
from flux_remix.storage.protocols import BlobStore
from flux_remix.storage.s3 import S3BlobStore
from tests.storage.backends import S3_ACCESS_KEY, SeaweedFS
from tests.storage.helpers import png_bytes

KEY = "0123456789abcdef0123456789abcdef.png"


@pytest.fixture
async def disk(tmp_path: Path) -> AsyncIterator[tuple[Path, DiskBlobStore]]:
    """An opened image directory store and its root; closed after the test."""
    root = tmp_path / "images"
    store = DiskBlobStore(root)
    await store.open()
    yield root, store
    await store.close()


async def test_put_get_exists_delete(blob_store: BlobStore) -> None:
    data = png_bytes()
    assert await blob_store.get(KEY) is None
    assert not await blob_store.exists(KEY)
    await blob_store.put(KEY, data, "image/png")
    assert await blob_store.exists(KEY)
    assert await blob_store.get(KEY) == data
    await blob_store.put(KEY, data + b"more", "image/png")  # replaced whole
    assert await blob_store.get(KEY) == data + b"more"
    await blob_store.delete(KEY)
    await blob_store.delete(KEY)  # already gone: no error
    assert await blob_store.get(KEY) is None


async def test_large_blobs_round_trip(blob_store: BlobStore) -> None:
    data = os.urandom(3 * 2**20)
    await blob_store.put(KEY.replace(".png", ".jpg"), data, "image/jpeg")
    assert await blob_store.get(KEY.replace(".png", ".jpg")) == data


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "0123456789abcdef0123456789abcdef.png/../x.png",
        "/0123456789abcdef0123456789abcdef.png",
        "0123456789ABCDEF0123456789ABCDEF.png",
        "0123456789abcdef0123456789abcdef.gif",
        "..%2f0123456789abcdef0123456789abcdef.png",
        "",
    ],
)
async def test_keys_that_could_escape_are_refused(blob_store: BlobStore, key: str) -> None:
    for call in (blob_store.get(key), blob_store.exists(key), blob_store.delete(key)):
        with pytest.raises(ValueError, match="not a blob key"):
            await call
    with pytest.raises(ValueError, match="not a blob key"):
        await blob_store.put(key, b"x", "image/png")


async def test_disk_writes_leave_no_temporary_files_and_sweep_stale_ones(
    disk: tuple[Path, DiskBlobStore],
) -> None:
    root, store = disk
    await store.put(KEY, b"data", "image/png")
    assert [p.name for p in root.rglob("*") if p.is_file()] == [KEY]
    stale = root / "01" / f".{KEY}.deadbeef.tmp"  # what a killed writer leaves
    fresh = root / "01" / f".{KEY}.cafebabe.tmp"  # what a live writer has open
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    await DiskBlobStore(root).open()
    assert not stale.exists()
    assert fresh.exists()
    assert await store.get(KEY) == b"data"


async def test_s3_refuses_wrong_credentials(seaweed: SeaweedFS, bucket: str) -> None:
    store = S3BlobStore(
        seaweed.url, bucket, access_key=S3_ACCESS_KEY, secret_key=SecretStr("not-the-secret")
    )
    try:
        with pytest.raises(StorageError, match=r"refused.*403"):
            await store.open()
    finally:
        await store.close()


async def test_s3_unreachable_is_a_storage_error() -> None:
    from tests.support import free_port

    store = S3BlobStore(
        f"http://127.0.0.1:{free_port()}",
        "bucket",
        access_key="a",
        secret_key=SecretStr("b"),
        timeout=2,
    )
    try:
        with pytest.raises(StorageError, match="did not answer"):
            await store.open()
    finally:
        await store.close()


async def test_put_many_stores_a_batch_and_answers_per_item(blob_store: BlobStore) -> None:
    keys = [f"{i:02x}{'0' * 30}.png" for i in range(5)] + [f"{'a' * 32}.jpg"]
    datas = [png_bytes((i * 40, 0, 0)) for i in range(len(keys))]
    items = [(k, d, "image/png") for k, d in zip(keys, datas, strict=True)]
    items.insert(3, ("../escape.png", b"x", "image/png"))  # one bad key among good ones
    outcomes = await blob_store.put_many(items)
    assert len(outcomes) == len(items)
    assert isinstance(outcomes[3], ValueError)
    assert [o for i, o in enumerate(outcomes) if i != 3] == [None] * len(keys)
    for key, data in zip(keys, datas, strict=True):
        assert await blob_store.get(key) == data
    assert await blob_store.put_many([]) == []
    again = await blob_store.put_many([(keys[0], b"replaced", "image/png")])
    assert again == [None]
    assert await blob_store.get(keys[0]) == b"replaced"


async def test_disk_put_many_fails_only_the_item_it_cannot_write(
    disk: tuple[Path, DiskBlobStore],
) -> None:
    root, store = disk
    (root / "ff").write_bytes(b"a file where the ff/ subdirectory should be")
    bad = f"{'f' * 32}.png"
    good = [f"{i:02x}{'1' * 30}.png" for i in range(20)]
    items = [(k, k.encode(), "image/png") for k in good]
    items.insert(7, (bad, b"lost", "image/png"))
    outcomes = await store.put_many(items)
    assert isinstance(outcomes[7], StorageError)
    assert bad in str(outcomes[7])
    assert [o for i, o in enumerate(outcomes) if i != 7] == [None] * len(good)
    for key in good:
        assert await store.get(key) == key.encode()
    with pytest.raises(StorageError, match="cannot write image"):
        await store.put(bad, b"lost", "image/png")
    leftovers = [p for p in root.rglob(".*.tmp")]
    assert leftovers == []


async def test_disk_writes_again_into_a_subdirectory_removed_behind_its_back(
    disk: tuple[Path, DiskBlobStore],
) -> None:
    root, store = disk
    await store.put(KEY, b"one", "image/png")  # "01/" is now known to exist
    (root / "01" / KEY).unlink()
    (root / "01").rmdir()
    await store.put(KEY, b"two", "image/png")
    assert await DiskBlobStore(root).get(KEY) == b"two"


async def test_disk_put_many_writes_new_files_in_place_and_replaces_existing_ones(
    disk: tuple[Path, DiskBlobStore],
) -> None:
    root, store = disk
    new = f"{'2' * 32}.png"
    assert await store.put_many([(KEY, b"old", "image/png")]) == [None]
    outcomes = await store.put_many([(KEY, b"replaced", "image/png"), (new, b"x", "image/png")])
    assert outcomes == [None, None]
    assert await DiskBlobStore(root).get(KEY) == b"replaced"
    assert await DiskBlobStore(root).get(new) == b"x"
    assert list(root.rglob(".*.tmp")) == []
    # the removed subdirectory of a new key is made again, as for `put`
    (root / "22" / new).unlink()
    (root / "22").rmdir()
    assert await store.put_many([(new, b"y", "image/png")]) == [None]
    assert await DiskBlobStore(root).get(new) == b"y"
