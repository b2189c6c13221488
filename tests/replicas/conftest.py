"""Replicas share the storage suite's backends: SeaweedFS, a bucket name, a PostgreSQL schema.

Imported, not copied, so one definition serves both folders (pytest registers an imported fixture
for this folder too): every test here uses one SeaweedFS, each replica pair its own bucket."""

from tests.storage.conftest import bucket, database_url, seaweed

__all__ = ["bucket", "database_url", "seaweed"]
