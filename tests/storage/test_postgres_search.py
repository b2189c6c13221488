"""History's text search on PostgreSQL is answered from pg_trgm indexes (migration 0005)."""

from __future__ import annotations

import psycopg

from flux_remix.storage import sql
from flux_remix.storage.postgres import PostgresMetadataStore
from flux_remix.storage.records import HistoryQuery
from tests.storage.helpers import T0, make_record

TRIGRAM_INDEXES = {
    f"images_{column}_trgm"
    for column in ("prompt", "translated_prompt", "enhanced_prompt", "final_prompt")
}


async def test_a_text_search_is_answered_from_trigram_indexes(database_url: str) -> None:
    store = PostgresMetadataStore(database_url)
    await store.open()
    try:
        for i in range(20):
            await store.insert(make_record(created_us=T0 + i, translated_prompt=f"a cat no. {i}"))
        zebra = make_record(created_us=T0 + 99, translated_prompt="a Zebra at dawn")
        await store.insert(zebra)
        page = await store.history(HistoryQuery(text="zebra", limit=50))
        assert [r.id for r in page.records] == [zebra.id]
    finally:
        await store.close()
    text, args = sql.history_sql(HistoryQuery(text="zebra", limit=50), "%s", "postgres")
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'images' AND indexname LIKE %s",
            ("%_trgm",),
        )
        assert {r[0] for r in rows} == TRIGRAM_INDEXES
        conn.execute("SET enable_seqscan = off")  # 21 rows: the planner would just read them
        conn.execute("SET enable_indexscan = off")
        plan = "\n".join(str(r[0]) for r in conn.execute("EXPLAIN " + text, args))
    assert "images_translated_prompt_trgm" in plan, plan
