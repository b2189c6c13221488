"""`flux-remix models`: the catalog (from this machine's settings, or a server's) as a table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from flux_remix.commands.remote import RemoteServer
from flux_remix.commands.tables import Column, fit_table
from flux_remix.settings import Settings


def local_models(settings: Settings) -> list[dict[str, Any]]:
    from flux_remix.runtime import check_catalog
    from flux_remix.web.models_view import describe_models

    return describe_models(check_catalog(settings))


async def discover_models(settings: Settings) -> list[dict[str, Any]]:
    """What `FLUX_REMIX_DISCOVER_MODELS=true` would add, asked of the first account."""
    import httpx

    from flux_remix.discovery import discover
    from flux_remix.errors import ConfigError
    from flux_remix.runtime import check_catalog
    from flux_remix.upstream import WorkersAIClient
    from flux_remix.web.models_view import describe_model

    if not settings.accounts:
        raise ConfigError("invalid configuration: CF_ACCOUNT_LIST: no account to ask")
    catalog = check_catalog(settings)
    async with httpx.AsyncClient() as http:
        client = WorkersAIClient(http, settings.cf_api_base, timeout=settings.upstream_timeout)
        found = await discover(client, settings.accounts[0], catalog)
    return [
        describe_model(f.spec, []) if f.spec else {"id": f.name, "skipped": f.why} for f in found
    ]


def print_discovered(console: Console, found: list[dict[str, Any]]) -> None:
    usable = [m for m in found if "skipped" not in m]
    if usable:
        print_models(console, usable)
    for m in found:
        if "skipped" in m:
            console.print(f"skipped {escape(m['id'])}: {escape(m['skipped'])}")
    if not found:
        console.print("Discovery found no image model the catalog does not already have.")


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


MODEL_COLUMNS = (
    Column("model", is_id=True),  # the short id: what `-m` takes, as do the aliases
    Column("aliases", is_id=True, drop=2),
    Column("name", drop=3, min_width=12),
    Column("size", drop=5, min_width=10),
    Column("parameters", drop=4, min_width=14),
    Column("neurons (default)", drop=1, no_wrap=True),
)


def _origin_flag(m: dict[str, Any]) -> str:
    """Where a model came from when not the built-in catalog, and a passed deprecation date."""
    flag = {"discovered": " (discovered)", "config": " (configured)"}.get(m.get("origin", ""), "")
    if m.get("deprecated"):
        flag += f" (deprecated {m['deprecation_date']})"
    return flag


def print_models(console: Console, described: list[dict[str, Any]]) -> None:
    """Each model by the names `-m` takes, in full; the details where there is room (the full
    `@cf/…` ids and every field are in `--json`)."""
    rows = [
        (
            escape(m["short_id"]),
            escape("\n".join(m["aliases"])),
            escape(m["name"] + _origin_flag(m)),
            escape(_size(m["size"])),
            escape(", ".join(_param(p) for p in m["params"])),
            f"{m['default_neurons']:g}",
        )
        for m in described
    ]
    console.print(fit_table(console, "Workers AI image models", MODEL_COLUMNS, rows))
