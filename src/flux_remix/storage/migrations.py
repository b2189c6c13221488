"""The metadata schema, evolved through an ordered list of named migrations.

Each store applies the migrations it has not recorded yet, in order, each in one transaction
together with its row in `schema_migrations`, at start-up. Applying them twice changes nothing.
The SQL is written once in the common subset of SQLite and PostgreSQL (JSON kept as text).
A new migration is appended at the end; released ones are never edited or reordered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flux_remix.errors import StorageError

MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT PRIMARY KEY,
    applied_us BIGINT NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_create_images",
        (
            """
            CREATE TABLE images (
                id TEXT PRIMARY KEY,
                generation_id TEXT NOT NULL,
                created_us BIGINT NOT NULL,
                key_id TEXT,
                model TEXT NOT NULL,
                model_name TEXT NOT NULL,
                prompt TEXT NOT NULL,
                translated_prompt TEXT NOT NULL,
                enhanced_prompt TEXT,
                final_prompt TEXT NOT NULL,
                translator TEXT NOT NULL,
                params TEXT NOT NULL,
                seed BIGINT NOT NULL,
                width INTEGER NOT NULL,
                height INTEGER NOT NULL,
                format TEXT NOT NULL,
                bytes INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                account TEXT NOT NULL,
                neurons DOUBLE PRECISION NOT NULL,
                timings TEXT NOT NULL,
                blob_key TEXT NOT NULL,
                demo BOOLEAN NOT NULL DEFAULT FALSE
            )
            """,
            "CREATE INDEX images_by_time ON images (created_us DESC, id DESC)",
            "CREATE INDEX images_by_key ON images (key_id, created_us DESC, id DESC)",
        ),
    ),
    Migration(
        "0002_cache_columns",
        (
            "ALTER TABLE images ADD COLUMN cache_key TEXT",
            "ALTER TABLE images ADD COLUMN source_id TEXT",
            "CREATE INDEX images_by_cache_key ON images (cache_key, created_us)",
            "CREATE INDEX images_by_blob ON images (blob_key)",
        ),
    ),
    Migration(
        "0003_model_index",
        ("CREATE INDEX images_by_model ON images (model, created_us DESC, id DESC)",),
    ),
    Migration(
        "0004_api_keys",  # keys made through /api/v1/keys; only the peppered digest is kept
        (
            """
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                digest TEXT NOT NULL UNIQUE,
                label TEXT NOT NULL,
                admin BOOLEAN NOT NULL DEFAULT FALSE,
                rate_limit INTEGER,
                daily_neurons DOUBLE PRECISION,
                created_us BIGINT NOT NULL,
                revoked_us BIGINT
            )
            """,
        ),
    ),
)


def pending(applied: Iterable[str], migrations: Sequence[Migration]) -> list[Migration]:
    """The migrations still to apply, in order.

    Refuses a database whose recorded migrations this version does not know (it was written by a
    newer flux-remix): running old code on it could lose data.
    """
    done = set(applied)
    known = {m.name for m in migrations}
    unknown = sorted(done - known)
    if unknown:
        raise StorageError(
            "the metadata database was migrated by a newer flux-remix "
            f"(unknown migrations: {', '.join(unknown)}); upgrade flux-remix to use it"
        )
    return [m for m in migrations if m.name not in done]
