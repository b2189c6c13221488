"""Fixtures for the storage tests: each contract test runs against every backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from flux_remix.storage.disk import DiskBlobStore
from flux_remix.storage.postgres import PostgresMetadataStore
from flux_remix.storage.protocols import BlobStore, MetadataStore
from flux_remix.storage.s3 import S3BlobStore
from flux_remix.storage.sqlite import SQLiteMetadataStore
from tests.storage.backends import S3_ACCESS_KEY, S3_SECRET_KEY, SeaweedFS, postgres_schema


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def bucket() -> str:
    return f"flux-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def make_metadata_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., MetadataStore]]:
    """Makes unopened stores, all on the same fresh database (a file, or a PostgreSQL schema);
    keyword arguments (`migrations=`) go to the store."""
    if request.param == "sqlite":
        yield lambda **kw: SQLiteMetadataStore(tmp_path / "meta.sqlite3", **kw)
        return
    with postgres_schema() as url:
        yield lambda **kw: PostgresMetadataStore(url, **kw)


@pytest.fixture
async def metadata_store(
    make_metadata_store: Callable[..., MetadataStore],
) -> AsyncIterator[MetadataStore]:
    store = make_metadata_store()
    await store.open()
    yield store
    await store.close()


def s3_store(seaweed: SeaweedFS, bucket: str) -> S3BlobStore:
    return S3BlobStore(
        seaweed.url, bucket, access_key=S3_ACCESS_KEY, secret_key=SecretStr(S3_SECRET_KEY)
    )


@pytest.fixture(params=["disk", "s3"])
async def blob_store(
    request: pytest.FixtureRequest, tmp_path: Path, bucket: str
) -> AsyncIterator[BlobStore]:
    store: BlobStore
    if request.param == "disk":
        store = DiskBlobStore(tmp_path / "images")
    else:
        store = s3_store(request.getfixturevalue("seaweed"), bucket)
    await store.open()
    yield store
    await store.close()
