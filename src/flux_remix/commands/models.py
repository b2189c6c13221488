"""`flux-remix models`: the catalog (from this machine's settings, or a server's) as a table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flux_remix.commands.remote import RemoteServer
from flux_remix.settings import Settings


def local_models(settings: Settings) -> list[dict[str, Any]]:
    from flux_remix.catalog import build_catalog
    from flux_remix.web.models_view import describe_models

    return describe_models(build_catalog(settings.customer_model_map, settings.flux_num_steps))


def remote_models(server: str, key: str | None) -> list[dict[str, Any]]:
    with RemoteServer(server, key) as remote:
        models: list[dict[str, Any]] = remote.models()["models"]
        return models


def _size(s: dict[str, Any]) -> str:
    if s["fixed"]:
        return f"{s['default_width']}x{s['default_height']} fixed"
    return f"{s['min']}-{s['max']} (default {s['default_width']}x{s['default_height']})"


def _param(p: dict[str, Any]) -> str:
    ranged = p["min"] is not None and p["max"] is not None and p["name"] != "seed"
    return str(p["name"]) + (f" {p['min']:g}-{p['max']:g}" if ranged else "")


def print_models(console: Console, described: list[dict[str, Any]]) -> None:
    table = Table(title="Workers AI image models")
    for col in ("model", "aliases", "size", "parameters", "neurons (default)"):
        table.add_column(col)
    for m in described:
        params = ", ".join(_param(p) for p in m["params"])
        cells = (f"{m['name']}\n{m['id']}", ", ".join(m["aliases"]), _size(m["size"]), params)
        table.add_row(*(escape(c) for c in cells), f"{m['default_neurons']:g}")
    console.print(table)
