"""`flux-remix prompt`: preview the translated / enhanced prompt, without generating.

In-process through `ImageService.preview_prompt`, or against `--server` (`POST /api/v1/prompt`);
both give the same JSON object as the API.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flux_remix.commands.remote import RemoteServer
from flux_remix.settings import Settings
from flux_remix.web.routes.prompt import PromptPreviewRequest, preview_of, request_of


def run_local(settings: Settings, body: PromptPreviewRequest) -> dict[str, Any]:
    from flux_remix.runtime import open_runtime

    async def run() -> dict[str, Any]:
        async with open_runtime(settings) as runtime:
            preview = preview_of(*await runtime.service.preview_prompt(request_of(body)))
            return preview.model_dump()

    return asyncio.run(run())


def run_remote(server: str, key: str | None, body: PromptPreviewRequest) -> dict[str, Any]:
    with RemoteServer(server, key) as remote:
        return remote.json("POST", "/api/v1/prompt", json=body.model_dump(exclude_none=True))


def print_preview(console: Console, preview: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    rows = ("final_prompt", "translator", "enhanced", "cache_hit", "note", "model", "aspect_hint")
    for key in rows:
        if preview.get(key) not in (None, False):
            table.add_row(key, escape(str(preview[key])))
    table.add_row("size", f"{preview['width']}x{preview['height']}")
    console.print(table)
