"""`flux-remix keys`: list, create, change and revoke API keys.

In-process it opens this machine's database (the same one `serve` uses, so a running server
sees the change within a second); with `--server URL --key ADMIN_KEY` it calls the server's
`/api/v1/keys`. A new key is printed once and never again.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from flux_remix import errors as e
from flux_remix.commands.exits import err, fail, write_json
from flux_remix.commands.tables import Column, fit_table
from flux_remix.settings import Settings, load_settings

keys_app = typer.Typer(
    help="API keys: list, create, change limits, revoke (stored hashed).", no_args_is_help=True
)
out = Console()

ServerOpt = Annotated[
    str | None,
    typer.Option("--server", envvar="FLUX_REMIX_SERVER", help="A running flux-remix's URL."),
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key", envvar="FLUX_REMIX_KEY", help="An admin key for --server.", show_default=False
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DemoOpt = Annotated[bool, typer.Option("--demo", help="The keys of `serve --demo`'s data.")]
RateOpt = Annotated[
    int | None,
    typer.Option("--rate-limit", min=0, help="Requests per minute (0: no limit)."),
]
BudgetOpt = Annotated[
    float | None,
    typer.Option("--daily-neurons", min=0, help="Neurons per UTC day (0: no limit)."),
]


def run_local(settings: Settings, action: Callable[[Any], Awaitable[Any]]) -> Any:
    """`action(keys)` with this machine's stores opened (migrations applied)."""
    from flux_remix.keys import open_keys
    from flux_remix.redis_client import open_redis
    from flux_remix.storage import open_storage

    async def run() -> Any:
        async with (
            open_redis(settings) as redis,
            open_storage(settings),
            open_keys(settings, redis) as keys,
        ):
            return await action(keys)

    return asyncio.run(run())


def _shown(keys: Any, record: Any) -> Awaitable[dict[str, Any]]:
    from flux_remix.web.routes.keys import public

    async def shown() -> dict[str, Any]:
        return (await public(keys, record)).model_dump(mode="json")

    return shown()


def _call(
    server: str | None,
    key: str | None,
    remote: Callable[[Any], Any],
    local: Any,
    *,
    demo: bool = False,
) -> Any:
    from flux_remix.commands.remote import RemoteServer

    if server:
        if demo:
            raise typer.BadParameter("--demo works on this machine's data; leave it out")
        with RemoteServer(server, key) as api:
            return remote(api)
    return run_local(local_settings(demo), local)


def local_settings(demo: bool) -> Settings:
    try:
        return load_settings(demo=True) if demo else load_settings()
    except e.ConfigError as exc:
        raise fail(exc) from None


@keys_app.command("list")
def list_keys(
    server: ServerOpt = None, key: KeyOpt = None, demo: DemoOpt = False, as_json: JsonOpt = False
) -> None:
    """Every key by id and label, with its role, limits and neurons used today."""

    async def local(keys: Any) -> dict[str, Any]:
        return {"keys": [await _shown(keys, k) for k in await keys.ring.keys()]}

    try:
        body = _call(server, key, lambda api: api.json("GET", "/api/v1/keys"), local, demo=demo)
    except e.FluxRemixError as exc:
        raise fail(exc, as_json=as_json) from None
    if as_json:
        write_json(body)
        return
    print_keys(out, body["keys"])


@keys_app.command()
def create(
    label: Annotated[str, typer.Argument(help="Who or what the key is for.")],
    admin: Annotated[bool, typer.Option("--admin", help="May use the admin routes.")] = False,
    rate_limit: RateOpt = None,
    daily_neurons: BudgetOpt = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
    demo: DemoOpt = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Turn authentication on without asking.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Make a key and print it (once: only its digest is kept).

    On a data directory whose server is open (no API_KEY, no stored key) this turns
    authentication on for that server: it says so first, and asks when run in a terminal."""
    fields: dict[str, Any] = {"label": label, "admin": admin}
    if rate_limit is not None:
        fields["rate_limit"] = rate_limit
    if daily_neurons is not None:
        fields["daily_neurons"] = daily_neurons

    async def local(keys: Any) -> dict[str, Any]:
        if not label.strip():
            raise e.InvalidParameterError("label", "label must not be blank")
        if not keys.ring.auth_enabled:
            _warn_turning_auth_on(yes)
        secret, record = await keys.ring.create(
            label.strip(), admin=admin, rate_limit=rate_limit, daily_neurons=daily_neurons
        )
        return {**await _shown(keys, record), "key": secret}

    try:
        body = _call(
            server,
            key,
            lambda api: api.json("POST", "/api/v1/keys", json=fields),
            local,
            demo=demo,
        )
    except e.FluxRemixError as exc:
        raise fail(exc, as_json=as_json) from None
    if as_json:
        write_json(body)
        return
    err.print(f"created {escape(body['id'])} ({escape(body['label'])}); the key, shown only now:")
    sys.stdout.write(body["key"] + "\n")


@keys_app.command("set")
def set_limits(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")],
    label: Annotated[str | None, typer.Option(help="A new label.")] = None,
    rate_limit: RateOpt = None,
    daily_neurons: BudgetOpt = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
    demo: DemoOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Change a stored key's label or limits."""
    from flux_remix.keys import KeyChanges

    fields = {
        k: v
        for k, v in {
            "label": label,
            "rate_limit": rate_limit,
            "daily_neurons": daily_neurons,
        }.items()
        if v is not None
    }

    async def local(keys: Any) -> dict[str, Any]:
        changes = KeyChanges(label=label, rate_limit=rate_limit, daily_neurons=daily_neurons)
        record = await keys.ring.change(key_id, changes)
        return await _shown(keys, record)

    try:
        body = _call(
            server,
            key,
            lambda api: api.json("PATCH", f"/api/v1/keys/{key_id}", json=fields),
            local,
            demo=demo,
        )
    except e.FluxRemixError as exc:
        raise fail(exc, as_json=as_json) from None
    _print_one(body, as_json, "changed")


@keys_app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")],
    server: ServerOpt = None,
    key: KeyOpt = None,
    demo: DemoOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a stored key (a running server refuses it within a second).

    Revoking the last working key leaves the server locked, after a restart too: revoking
    never opens a server. Every request is refused until a key is made or API_KEY is set."""

    async def local(keys: Any) -> dict[str, Any]:
        body = await _shown(keys, await keys.ring.revoke(key_id))
        if not any(not k.revoked for k in await keys.ring.keys() if k.source != "env"):
            err.print(
                "[yellow]note:[/] that was the last active stored key. A server on this data "
                "directory without API_KEY now refuses every request (revoking never opens a "
                "server); `flux-remix keys create` makes a new key.",
                highlight=False,
            )
        return body

    try:
        body = _call(
            server,
            key,
            lambda api: api.json("DELETE", f"/api/v1/keys/{key_id}"),
            local,
            demo=demo,
        )
    except e.FluxRemixError as exc:
        raise fail(exc, as_json=as_json) from None
    _print_one(body, as_json, "revoked")


def _warn_turning_auth_on(yes: bool) -> None:
    """Say, before the key is made, that it locks a server that is open now."""
    err.print(
        "[yellow]warning:[/] the server that uses this data directory is open now (no API_KEY, "
        "no stored key). This key turns authentication on for it: from then on every request "
        "needs a key (`Authorization: Bearer <key>`), and revoking keys later does not open it "
        "again.",
        highlight=False,
    )
    if not yes and sys.stdin.isatty():
        typer.confirm("Turn authentication on?", abort=True, err=True)


def _print_one(body: dict[str, Any], as_json: bool, what: str) -> None:
    if as_json:
        write_json(body)
        return
    err.print(f"{what} {escape(body['id'])} ({escape(body['label'])})")


def _limit(value: float) -> str:
    return "-" if not value else f"{value:g}"


KEY_COLUMNS = (
    Column("id", is_id=True),
    Column("label", min_width=10),
    Column("role", drop=3, no_wrap=True),
    Column("source", drop=5, no_wrap=True),
    Column("per minute", drop=2, no_wrap=True),
    Column("neurons/day", drop=1, no_wrap=True),
    Column("used", drop=4, no_wrap=True),
    Column("state", no_wrap=True),
)


def print_keys(console: Console, rows: list[dict[str, Any]]) -> None:
    """The keys, ids in full; at 80 columns the less useful columns are left out."""
    cells = [
        (
            escape(r["id"]),
            escape(r["label"]),
            "admin" if r["admin"] else "user",
            r["source"],
            _limit(r["effective_rate_limit"]),
            _limit(r["effective_daily_neurons"]),
            f"{r['neurons_used_today']:,.1f}",
            "[red]revoked[/]" if r["revoked"] else "[green]active[/]",
        )
        for r in rows
    ]
    console.print(fit_table(console, "API keys (neurons: today, UTC)", KEY_COLUMNS, cells))
