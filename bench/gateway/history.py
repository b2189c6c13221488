"""History listing with many stored rows: seed them straight into the metadata store, then list.

Rows are written with the store's own column list and row mapping (`flux_remix.storage.sql`),
for the bench key, so the app lists them exactly like rows it wrote itself. One in a hundred
prompts holds the rare word `zebra`, so a text search that must scan far is measured too.
"""

from __future__ import annotations

import random
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from flux_remix.storage import sql
from flux_remix.storage.records import ImageRecord, blob_key_for
from flux_remix.web.routes.history import encode_cursor

MODELS = (
    ("@cf/black-forest-labs/flux-1-schnell", "FLUX.1 [schnell]"),
    ("@cf/bytedance/stable-diffusion-xl-lightning", "Stable Diffusion XL Lightning"),
)
WORDS = ("lighthouse", "dusk", "harbor", "fox", "forest", "castle", "river", "mountain", "city")


def records(count: int, key_id: str) -> Iterator[ImageRecord]:
    rng = random.Random(7)
    start = time.time_ns() // 1000 - count * 1_000_000  # one a second, ending now
    for i in range(count):
        image_id = uuid.UUID(int=rng.getrandbits(128)).hex
        model, name = MODELS[i % len(MODELS)]
        words = rng.sample(WORDS, 4) + (["zebra"] if i % 100 == 0 else [])
        prompt = " ".join(words)
        yield ImageRecord(
            id=image_id,
            generation_id=image_id,
            created_us=start + i * 1_000_000,
            key_id=key_id,
            model=model,
            model_name=name,
            prompt=prompt,
            translated_prompt=prompt,
            enhanced_prompt=None,
            final_prompt=prompt,
            translator="none",
            params={"model": model, "seed": i, "steps": 4, "width": 1024, "height": 1024},
            seed=i,
            width=1024,
            height=1024,
            format="jpeg",
            bytes=170_000,
            sha256="0" * 64,
            account="cf-1",
            neurons=172.8,
            timings={"translate_ms": 0.0, "generate_ms": 55.0},
            blob_key=blob_key_for(image_id, "jpeg"),
        )


def middle_cursor(count: int, key_id: str) -> str:
    """The `cursor` of a page half-way down the seeded history."""
    for i, record in enumerate(records(count, key_id)):
        if i == count // 2:
            return encode_cursor((record.created_us, record.id))
    raise ValueError("no rows")


def seed_sqlite(path: Path, count: int, key_id: str) -> None:
    with sqlite3.connect(path, timeout=30) as db:
        db.executemany(sql.insert_sql("?"), (sql.to_row(r) for r in records(count, key_id)))
        db.execute("ANALYZE")


def seed_postgres(url: str, count: int, key_id: str) -> None:
    with psycopg.connect(url) as db, db.cursor() as cur:
        columns = ", ".join(sql.COLUMNS)
        with cur.copy(f"COPY images ({columns}) FROM STDIN") as copy:
            for record in records(count, key_id):
                copy.write_row(sql.to_row(record))
        cur.execute("ANALYZE images")


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A `DATABASE_URL` whose search_path is a fresh schema, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base_url, autocommit=True) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")


def find_postgres() -> str | None:
    """The local PostgreSQL (trust auth, database `test`), as user postgres or root."""
    for user in ("postgres", "root"):
        url = f"postgresql://{user}@127.0.0.1:5432/test"
        try:
            with psycopg.connect(url, connect_timeout=3):
                return url
        except psycopg.Error:
            continue
    return None
