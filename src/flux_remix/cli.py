"""The `flux-remix` command: serve, worker, generate, prompt, models, accounts, keys, jobs,
emulator.

The CLI is the only place that turns errors into exit codes and messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from flux_remix import errors as e
from flux_remix.commands.exits import (
    EXIT_CODES,
    INTERRUPTED,
    emit,
    err,
    exit_code,
    fail,
    write_json,
)
from flux_remix.commands.jobs import jobs_app
from flux_remix.commands.keys import keys_app
from flux_remix.settings import Settings, load_settings

app = typer.Typer(
    name="flux-remix",
    help="Prompts to images through Cloudflare Workers AI.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()


def _show_version(value: bool) -> None:
    if value:
        from flux_remix import __version__

        out.print(f"flux-remix {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Prompts to images through Cloudflare Workers AI."""


__all__ = ["EXIT_CODES", "app", "exit_code", "fail", "main"]

WranglerOpt = Annotated[
    Path | None,
    typer.Option("--wrangler", help="Read the \\[vars] of an existing wrangler.toml (env wins)."),
]


def _settings(wrangler: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(wrangler_toml=wrangler, **overrides)
    except e.ConfigError as exc:
        raise fail(exc) from None


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(envvar="FLUX_REMIX_HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="FLUX_REMIX_PORT", help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Run offline against the built-in emulator.")
    ] = False,
    wrangler: WranglerOpt = None,
    log_level: Annotated[
        str | None, typer.Option(help="debug, info, warning, error (default: LOG_LEVEL)")
    ] = None,
) -> None:
    """Start the web app and APIs."""
    from flux_remix.logs import configure_logging, log
    from flux_remix.web import create_app
    from flux_remix.web.server import serve as run_server

    settings = _settings(wrangler, demo=demo) if demo else _settings(wrangler)
    level = (log_level or settings.log_level).upper()
    configure_logging(settings, fmt=settings.log_format, level=level)
    if not settings.demo and not settings.accounts:
        raise fail(
            e.ConfigError(
                "no Cloudflare accounts configured. Set CF_ACCOUNT_LIST to a JSON list such as "
                '\'[{"account_id": "<32-hex id>", "token": "<Workers AI token>"}]\', '
                "or run `flux-remix serve --demo` to try it offline."
            )
        )
    try:
        application = create_app(settings)
    except e.ConfigError as exc:
        raise fail(exc) from None
    if settings.demo:
        log.warning("demo mode: images come from the built-in emulator, not Cloudflare")
    log.info("flux-remix listening on http://%s:%d  (docs: /docs)", host, port)
    run_server(application, settings, host=host, port=port, log_level=level)


DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="FLUX_REMIX_SERVER",
        help="Use a running flux-remix at this URL instead of working in-process.",
    ),
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key", envvar="FLUX_REMIX_KEY", help="API key for --server.", show_default=False
    ),
]


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="What to draw (any language).")],
    model: Annotated[str | None, typer.Option("-m", "--model", help="Alias or model id.")] = None,
    n: Annotated[int, typer.Option("-n", min=1, max=8, help="Number of images.")] = 1,
    size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (random when unset).")] = None,
    steps: Annotated[int | None, typer.Option(help="Diffusion steps.")] = None,
    guidance: Annotated[float | None, typer.Option(help="Guidance scale.")] = None,
    negative: Annotated[str | None, typer.Option(help="Negative prompt.")] = None,
    translate: Annotated[
        str | None, typer.Option(help="auto (CJK only), on/always, or off.")
    ] = None,
    enhance: Annotated[
        bool | None,
        typer.Option("--enhance/--no-enhance", help="Rewrite into a detailed English prompt."),
    ] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Directory for images.")] = Path(),
    server: ServerOpt = None,
    key: KeyOpt = None,
    demo: Annotated[bool, typer.Option("--demo", help="Use the built-in emulator.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    wrangler: WranglerOpt = None,
) -> None:
    """Generate images and write them as files named by image id (in-process or on --server)."""
    from flux_remix.commands import generate as gen

    mode = gen.TRANSLATE_MODES.get(translate.lower()) if translate is not None else None
    if translate is not None and mode is None:
        raise typer.BadParameter("expected auto, on or off", param_hint="--translate")
    if server and demo:
        raise typer.BadParameter("--demo runs in-process; leave it out with --server")
    show = not as_json and err.is_terminal
    try:
        width, height = gen.parse_size(size)
        req = gen.build_request(
            {
                "prompt": prompt,
                "model": model,
                "n": n,
                "width": width,
                "height": height,
                "seed": seed,
                "steps": steps,
                "guidance": guidance,
                "negative_prompt": negative,
                "translate": mode,
                "enhance": enhance,
            }
        )
        if server:
            result = gen.run_remote(server, key, req, output, err, show=show)
        else:
            settings = (
                load_settings(wrangler_toml=wrangler, demo=True)
                if demo
                else load_settings(wrangler_toml=wrangler)
            )
            result = gen.run_local(settings, req, output, err, show=show)
    except e.FluxRemixError as exc:
        raise fail(exc, as_json=as_json) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        raise typer.Exit(INTERRUPTED) from None
    emit(result, as_json, lambda v: gen.print_result(out, v))


@app.command()
def history(
    query: Annotated[str | None, typer.Argument(help="Text to find in any prompt.")] = None,
    model: Annotated[str | None, typer.Option("-m", "--model", help="Only this model.")] = None,
    since: Annotated[
        datetime | None, typer.Option(formats=DATE_FORMATS, help="Created at or after (UTC).")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(formats=DATE_FORMATS, help="Created before (UTC).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("-l", "--limit", min=1, help="At most this many (default 20; export: all)."),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export", help="Write the matches as JSON lines to this file ('-': stdout)."
        ),
    ] = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
    demo: Annotated[bool, typer.Option("--demo", help="The demo's history.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    wrangler: WranglerOpt = None,
) -> None:
    """Search the stored images (newest first), or export them as JSON lines."""
    from flux_remix.commands import history as h

    if server and demo:
        raise typer.BadParameter(
            "--demo reads this machine's demo data; leave it out with --server"
        )
    filters = h.Filters(query.strip() or None if query else None, model, h.utc(since), h.utc(until))
    limit = limit if limit is not None or export is not None else 20
    records: list[dict[str, Any]] = []
    sink = sys.stdout if export == Path("-") else None
    try:
        with contextlib.ExitStack() as stack:
            if export is not None and sink is None:
                sink = stack.enter_context(export.open("w", encoding="utf-8"))

            def export_line(record: dict[str, Any]) -> None:
                if sink is None:
                    records.append(record)
                else:
                    write_json(record, sink)

            if server:
                count = h.each_remote(server, key, filters, limit, export_line)
            else:
                settings = (
                    load_settings(wrangler_toml=wrangler, demo=True)
                    if demo
                    else load_settings(wrangler_toml=wrangler)
                )
                count = h.each_local(settings, filters, limit, export_line)
    except e.FluxRemixError as exc:
        raise fail(exc, as_json=as_json) from None
    except OSError as exc:
        err.print(f"[bold red]flux-remix:[/] cannot write {escape(str(export))}: {exc.strerror}")
        raise typer.Exit(1) from None
    if export is not None:
        if export != Path("-"):
            err.print(f"exported {count} image record(s) to {escape(str(export))}")
        return
    if as_json:
        write_json({"images": records})
        return
    h.print_table(out, records)


@app.command()
def models(
    server: ServerOpt = None,
    key: KeyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    discover: Annotated[
        bool,
        typer.Option(
            "--discover",
            help="Preview the account's image models the catalog lacks (models/search, schema).",
        ),
    ] = False,
) -> None:
    """List the models with their parameters, limits and prices."""
    from flux_remix.commands import models as m

    try:
        if discover:
            found = asyncio.run(m.discover_models(load_settings()))
            emit(found, as_json, lambda v: m.print_discovered(out, v))
            return
        described = m.remote_models(server, key) if server else m.local_models(load_settings())
    except e.FluxRemixError as exc:
        raise fail(exc, as_json=as_json) from None
    emit(described, as_json, lambda v: m.print_models(out, v))


@app.command()
def accounts(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    demo: Annotated[bool, typer.Option("--demo", help="Use the built-in emulator.")] = False,
    wrangler: WranglerOpt = None,
) -> None:
    """Each Cloudflare account by label: token check, state, neurons used and left today."""
    from flux_remix.runtime import open_runtime

    settings = _settings(wrangler, demo=True) if demo else _settings(wrangler)

    async def run() -> list[dict[str, Any]]:
        async with open_runtime(settings) as runtime:  # checks every token on the way in
            return [s.public() for s in await runtime.pool.status()]

    try:
        rows = asyncio.run(run())
    except e.FluxRemixError as exc:
        raise fail(exc) from None
    if as_json:
        write_json({"accounts": rows})
        return
    from flux_remix.commands.tables import ACCOUNT_COLUMNS, fit_table

    colours = {"healthy": "green", "cooling_down": "yellow", "exhausted": "yellow"}
    cells = [
        (
            escape(r["label"]),
            f"[{colours.get(r['state'], 'red')}]{r['state']}[/]",
            f"{r['neurons_used_today']:,.1f}",
            f"{r['neurons_left_today']:,.1f}",
            f"{r['successes_today']} / {r['failures_today']}",
            escape((r["available_at"] or "")[:19].replace("T", " ")),
            escape(r["reason"] or ""),
        )
        for r in rows
    ]
    out.print(fit_table(out, "Cloudflare accounts (neurons: today, UTC)", ACCOUNT_COLUMNS, cells))


@app.command()
def prompt(
    text: Annotated[str, typer.Argument(help="The prompt (any language).")],
    model: Annotated[str | None, typer.Option("-m", "--model", help="Alias or model id.")] = None,
    translate: Annotated[
        str | None, typer.Option(help="auto (CJK only), on/always, or off.")
    ] = None,
    enhance: Annotated[
        bool | None,
        typer.Option("--enhance/--no-enhance", help="Rewrite into a detailed English prompt."),
    ] = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
    demo: Annotated[bool, typer.Option("--demo", help="Use the built-in emulator.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    wrangler: WranglerOpt = None,
) -> None:
    """Preview the translated / enhanced prompt (and any 16:9 hint) without generating."""
    from pydantic import ValidationError

    from flux_remix.commands import prompt as preview
    from flux_remix.commands.generate import TRANSLATE_MODES
    from flux_remix.web.routes.prompt import PromptPreviewRequest

    mode = TRANSLATE_MODES.get(translate.lower()) if translate is not None else None
    if translate is not None and mode is None:
        raise typer.BadParameter("expected auto, on or off", param_hint="--translate")
    if server and demo:
        raise typer.BadParameter("--demo runs in-process; leave it out with --server")
    try:
        body = PromptPreviewRequest(prompt=text, model=model, translate=mode, enhance=enhance)
        if server:
            result = preview.run_remote(server, key, body)
        else:
            settings = _settings(wrangler, demo=True) if demo else _settings(wrangler)
            result = preview.run_local(settings, body)
    except ValidationError as exc:
        raise fail(e.RequestError(str(exc.errors()[0]["msg"])), as_json=as_json) from None
    except e.FluxRemixError as exc:
        raise fail(exc, as_json=as_json) from None
    emit(result, as_json, lambda v: preview.print_preview(out, v))


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
    daily_neurons: Annotated[float, typer.Option(help="Daily neuron cap per account.")] = 10_000,
    latency: Annotated[float, typer.Option(help="Extra seconds per image call.")] = 0.0,
) -> None:
    """Run the Workers AI emulator (for tests, benchmarks and offline use)."""
    from flux_remix.emulator import EmulatorConfig
    from flux_remix.emulator.server import run

    run(host, port, EmulatorConfig.demo(daily_neurons=daily_neurons, latency=latency))


@app.command()
def worker(
    wrangler: WranglerOpt = None,
    log_level: Annotated[
        str | None, typer.Option(help="debug, info, warning, error (default: LOG_LEVEL)")
    ] = None,
) -> None:
    """Run generation jobs only (no HTTP): FLUX_REMIX_WORKERS at a time, from the shared queue."""
    from flux_remix.commands.worker import run_workers
    from flux_remix.logs import configure_logging

    settings = _settings(wrangler)
    level = (log_level or settings.log_level).upper()
    configure_logging(settings, fmt=settings.log_format, level=level)
    if settings.workers <= 0:
        raise typer.BadParameter("FLUX_REMIX_WORKERS is 0: nothing to run")
    try:
        asyncio.run(run_workers(settings, settings.workers))
    except e.ConfigError as exc:
        raise fail(exc) from None


app.add_typer(keys_app, name="keys")
app.add_typer(jobs_app, name="jobs")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
