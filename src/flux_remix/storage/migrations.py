"""The metadata schema, evolved through an ordered list of named migrations.

Each store applies the migrations it has not recorded yet, in order, each in one transaction
together with its row in `schema_migrations`, at start-up. Applying them twice changes nothing.
The SQL is written once in the common subset of SQLite and PostgreSQL (JSON kept as text);
a migration that only one database needs gives PostgreSQL its own statements. A new migration
is appended at the end; released ones are never edited or reordered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

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
    postgres: tuple[str, ...] | None = None  # PostgreSQL's own statements, where they differ

    def statements_for(self, dialect: Literal["sqlite", "postgres"]) -> tuple[str, ...]:
        if dialect == "postgres" and self.postgres is not None:
            return self.postgres
        return self.statements


# History's text search is `ILIKE '%word%'` over the prompt columns (storage/sql.py):
# PostgreSQL answers it from trigram indexes (pg_trgm) instead of reading every row (a word in
# 1% of 100,000 rows: ~69 ms without them, ~9 ms with). Where pg_trgm cannot be installed (no
# privilege, not shipped) the search still works, by scanning; the extension may live in any
# schema. Building the indexes on an existing table takes a while at the first start-up.
_TRIGRAM_EXTENSION = """
DO $$ BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): history text search scans the rows', SQLERRM;
END $$
"""
_TRIGRAM_INDEX = """
DO $$
DECLARE home TEXT;
BEGIN
    SELECT n.nspname INTO home FROM pg_extension e
        JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    IF home IS NOT NULL THEN
        EXECUTE format(
            'CREATE INDEX IF NOT EXISTS images_{column}_trgm ON images '
            'USING gin ({column} %I.gin_trgm_ops)',
            home
        );
    END IF;
END $$
"""


# The images table as migrations 0001-0003 left it, with `seed` nullable (0006 rebuilds it
# under a new name: SQLite cannot drop a NOT NULL constraint in place).
_IMAGES_TABLE = """
CREATE TABLE {name} (
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
    seed BIGINT,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    format TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    account TEXT NOT NULL,
    neurons DOUBLE PRECISION NOT NULL,
    timings TEXT NOT NULL,
    blob_key TEXT NOT NULL,
    demo BOOLEAN NOT NULL DEFAULT FALSE,
    cache_key TEXT,
    source_id TEXT
)
"""
_IMAGE_COLUMNS = (
    "id, generation_id, created_us, key_id, model, model_name, prompt, translated_prompt, "
    "enhanced_prompt, final_prompt, translator, params, seed, width, height, format, bytes, "
    "sha256, account, neurons, timings, blob_key, demo, cache_key, source_id"
)
_IMAGE_INDEXES = (
    "CREATE INDEX images_by_time ON images (created_us DESC, id DESC)",
    "CREATE INDEX images_by_key ON images (key_id, created_us DESC, id DESC)",
    "CREATE INDEX images_by_cache_key ON images (cache_key, created_us)",
    "CREATE INDEX images_by_blob ON images (blob_key)",
    "CREATE INDEX images_by_model ON images (model, created_us DESC, id DESC)",
)


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
    Migration(
        "0005_text_search_indexes",
        (),  # SQLite finds a rare word in 100,000 rows in ~4 ms without one
        postgres=(
            _TRIGRAM_EXTENSION,
            *(
                _TRIGRAM_INDEX.format(column=column)
                for column in ("prompt", "translated_prompt", "enhanced_prompt", "final_prompt")
            ),
        ),
    ),
    Migration(
        # FLUX.1 schnell takes no seed upstream, yet its images were stored with the seed the
        # caller sent or one drawn for it: a seed that cannot make the image again. From here a
        # model without a seed stores NULL, and the earlier rows of that model (the only one, a
        # fact of the past rather than of the catalog) lose theirs.
        "0006_seed_nullable",
        (
            _IMAGES_TABLE.format(name="images_0006"),
            f"INSERT INTO images_0006 SELECT {_IMAGE_COLUMNS} FROM images",  # noqa: S608
            "DROP TABLE images",
            "ALTER TABLE images_0006 RENAME TO images",
            *_IMAGE_INDEXES,
            "UPDATE images SET seed = NULL, params = json_set(params, '$.seed', NULL) "
            "WHERE model = '@cf/black-forest-labs/flux-1-schnell'",
        ),
        postgres=(
            "ALTER TABLE images ALTER COLUMN seed DROP NOT NULL",
            "UPDATE images SET seed = NULL, params = (params::jsonb || '{\"seed\": null}')::text "
            "WHERE model = '@cf/black-forest-labs/flux-1-schnell'",
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
