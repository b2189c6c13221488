"""One suite, every blob store (local disk and S3 on SeaweedFS)."""

from __future__ import annotations

import os
import time
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


async def test_disk_writes_leave_no_temporary_files_and_sweep_stale_ones(tmp_path: Path) -> None:
    root = tmp_path / "images"
    store = DiskBlobStore(root)
    await store.open()
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
