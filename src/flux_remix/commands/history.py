"""`flux-remix history`: search stored images, list them, export them as JSON lines.

In-process it opens only the stores (no accounts needed); with `--server` it pages through a
running server's `GET /api/v1/images`. Both give the same record shape (the API's image
metadata), newest first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape

from flux_remix.commands.remote import RemoteServer
from flux_remix.commands.tables import Column, fit_table
from flux_remix.settings import Settings
from flux_remix.storage import HistoryQuery, ImageRecord

PAGE = 200  # the API's largest page
Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Filters:
    text: str | None = None
    model: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def utc(value: datetime | None) -> datetime | None:
    """Naive times on the command line are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _micros(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1_000_000)


def record_json(r: ImageRecord, public_base_url: str | None) -> dict[str, Any]:
    """A stored row in the API's metadata shape (account by label, key by its id)."""
    return {
        "id": r.id,
        "url": f"{public_base_url}/images/{r.id}.{r.ext}" if public_base_url else None,
        "created": datetime.fromtimestamp(r.created, UTC).isoformat(),
        "generation_id": r.generation_id,
        "key_id": r.key_id,
        "model": r.model,
        "model_name": r.model_name,
        "prompt": r.prompt,
        "translated_prompt": r.translated_prompt,
        "enhanced_prompt": r.enhanced_prompt,
        "final_prompt": r.final_prompt,
        "translator": r.translator,
        "params": r.params,
        "seed": r.seed,
        "width": r.width,
        "height": r.height,
        "mime_type": r.mime,
        "bytes": r.bytes,
        "sha256": r.sha256,
        "account": r.account,
        "neurons": r.neurons,
        "timings": r.timings,
        "cached_from": r.source_id,
        "demo": r.demo,
    }


def each_local(settings: Settings, filters: Filters, limit: int | None, emit: Emit) -> int:
    """Emit up to `limit` records (all when None) from this machine's stores; the count."""
    from flux_remix.catalog import build_catalog
    from flux_remix.errors import UnknownModelError
    from flux_remix.storage import open_storage

    model = filters.model
    if model:
        try:
            catalog = build_catalog(settings.customer_model_map, settings.flux_num_steps)
            model = catalog.resolve(model).id
        except UnknownModelError:
            pass  # a model no longer configured may still have history

    async def run() -> int:
        count = 0
        cursor: tuple[int, str] | None = None
        async with open_storage(settings) as store:
            while limit is None or count < limit:
                size = PAGE if limit is None else min(PAGE, limit - count)
                page = await store.history(
                    HistoryQuery(
                        limit=size,
                        cursor=cursor,
                        text=filters.text,
                        model=model,
                        since_us=_micros(filters.since),
                        until_us=_micros(filters.until),
                    )
                )
                for record in page.records:
                    emit(record_json(record, settings.public_base_url))
                count += len(page.records)
                cursor = page.next_cursor
                if cursor is None:
                    break
        return count

    return asyncio.run(run())


def each_remote(
    server: str, key: str | None, filters: Filters, limit: int | None, emit: Emit
) -> int:
    """The same from a running server's `GET /api/v1/images`, page by page."""
    count = 0
    cursor: str | None = None
    base: dict[str, Any] = {
        "q": filters.text,
        "model": filters.model,
        "since": filters.since.isoformat() if filters.since else None,
        "until": filters.until.isoformat() if filters.until else None,
    }
    with RemoteServer(server, key) as remote:
        while limit is None or count < limit:
            size = PAGE if limit is None else min(PAGE, limit - count)
            params = {k: v for k, v in {**base, "limit": size, "cursor": cursor}.items() if v}
            page = remote.history(params)
            for record in page.get("images", []):
                emit(record)
            count += len(page.get("images", []))
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return count


HISTORY_COLUMNS = (
    Column("id", is_id=True),
    Column("created (UTC)", drop=2, min_width=10),
    Column("model", drop=4, min_width=10),
    Column("size", drop=5, no_wrap=True),
    Column("seed", drop=3, no_wrap=True),
    Column("prompt", min_width=20),
)


def print_table(console: Console, records: list[dict[str, Any]]) -> None:
    """Newest first, ids in full; model, size, seed and time only where there is room."""
    rows = [
        (
            escape(r["id"]),
            escape(str(r["created"])[:16].replace("T", " ")),
            escape(str(r["model"]).rpartition("/")[2]),
            f"{r['width']}x{r['height']}",
            "-" if r["seed"] is None else str(r["seed"]),
            escape(r["prompt"] if len(r["prompt"]) <= 80 else r["prompt"][:79] + "…"),
        )
        for r in records
    ]
    title = f"{len(records)} image{'s' if len(records) != 1 else ''}, newest first"
    console.print(fit_table(console, title, HISTORY_COLUMNS, rows))
