"""The `flux-remix` command: serve, generate, models, emulator.

The CLI is the only place that turns errors into exit codes and messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flux_remix import errors as e
from flux_remix.settings import Settings, TranslateMode, load_settings

app = typer.Typer(
    name="flux-remix",
    help="Prompts to images through Cloudflare Workers AI.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

EXIT_CODES: tuple[tuple[type[e.FluxRemixError], int], ...] = (
    (e.ConfigError, 2),
    (e.AuthenticationError, 4),
    (e.PermissionDeniedError, 4),
    (e.RequestError, 3),
    (e.ContentFlaggedError, 3),
    (e.UpstreamBadInputError, 3),
    (e.NoCapacityError, 5),
    (e.QuotaExhaustedError, 5),
    (e.CapacityError, 5),
    (e.RateLimitedError, 5),
    (e.UpstreamError, 6),
)


def exit_code(exc: e.FluxRemixError) -> int:
    return next((code for cls, code in EXIT_CODES if isinstance(exc, cls)), 1)


def fail(exc: e.FluxRemixError) -> typer.Exit:
    err.print(f"[bold red]flux-remix:[/] {escape(exc.message)}", highlight=False)
    return typer.Exit(exit_code(exc))


WranglerOpt = Annotated[
    Path | None,
    typer.Option("--wrangler", help="Read the [vars] of an existing wrangler.toml (env wins)."),
]


def _settings(wrangler: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(wrangler_toml=wrangler, **overrides)
    except e.ConfigError as exc:
        raise fail(exc) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Run offline against the built-in emulator.")
    ] = False,
    wrangler: WranglerOpt = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Start the web app and APIs."""
    import uvicorn

    from flux_remix.web import create_app

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    settings = _settings(wrangler, demo=demo) if demo else _settings(wrangler)
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
        err.print("[yellow]Demo mode:[/] images come from the built-in emulator, not Cloudflare.")
    if not settings.auth_enabled:
        err.print("[yellow]Warning:[/] API_KEY is not set: every route is open to anyone.")
    err.print(f"flux-remix listening on http://{host}:{port}  (docs: /docs)")
    uvicorn.run(application, host=host, port=port, log_level=log_level.lower(), access_log=False)


def parse_size(size: str | None) -> tuple[int | None, int | None]:
    if not size:
        return None, None
    w, sep, h = size.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise typer.BadParameter("expected WIDTHxHEIGHT, e.g. 1024x768", param_hint="--size")
    return int(w), int(h)


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
    output: Annotated[Path, typer.Option("-o", "--output", help="Directory for images.")] = Path(),
    demo: Annotated[bool, typer.Option("--demo", help="Use the built-in emulator.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    wrangler: WranglerOpt = None,
) -> None:
    """Generate images in-process (settings from the environment) and write them to files."""
    from flux_remix.runtime import open_runtime
    from flux_remix.schemas import ImageRequest

    width, height = parse_size(size)
    mode: TranslateMode | None = None
    if translate is not None:
        mapping: dict[str, TranslateMode] = {
            "on": "always",
            "always": "always",
            "auto": "auto",
            "off": "off",
        }
        if translate.lower() not in mapping:
            raise typer.BadParameter("expected auto, on or off", param_hint="--translate")
        mode = mapping[translate.lower()]
    settings = _settings(wrangler, demo=True) if demo else _settings(wrangler)
    try:
        req = ImageRequest(
            prompt=prompt,
            model=model,
            n=n,
            width=width,
            height=height,
            seed=seed,
            steps=steps,
            guidance=guidance,
            negative_prompt=negative,
            translate=mode,
        )
    except ValueError as exc:
        raise fail(e.RequestError(str(exc).splitlines()[-1])) from None

    async def run() -> dict[str, Any]:
        async with open_runtime(settings) as runtime:
            with err.status(f"Generating with {runtime.service.resolve_model(model).name}…"):
                g = await runtime.service.generate(req)
        output.mkdir(parents=True, exist_ok=True)
        files = []
        for i, image in enumerate(g.images):
            ext = "jpg" if image.format == "jpeg" else "png"
            path = output / f"{g.id}-{i}.{ext}"
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(image.data)
            tmp.replace(path)
            files.append(
                {
                    "path": str(path),
                    "seed": image.seed,
                    "width": image.width,
                    "height": image.height,
                    "neurons": image.neurons,
                }
            )
        return {
            "id": g.id,
            "model": g.model_id,
            "prompt": g.prompt.original,
            "final_prompt": g.params["prompt"],
            "translator": g.prompt.translator,
            "params": g.params,
            "neurons": g.neurons,
            "files": files,
            "demo": g.demo,
            "errors": list(g.errors),
        }

    try:
        result = asyncio.run(run())
    except e.FluxRemixError as exc:
        raise fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return
    table = Table(show_header=False, box=None)
    for key in ("model", "final_prompt", "translator", "neurons"):
        table.add_row(key, escape(str(result[key])))
    for name, value in result["params"].items():
        if name not in ("model", "prompt"):
            table.add_row(name, escape(str(value)))
    out.print(table)
    for f in result["files"]:
        out.print(f"[green]wrote[/] {f['path']}  ({f['width']}x{f['height']}, seed {f['seed']})")


@app.command()
def models(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the models with their parameters, limits and prices."""
    from flux_remix.catalog import build_catalog
    from flux_remix.web.models_view import describe_models

    settings = _settings(None)
    try:
        catalog = build_catalog(settings.customer_model_map, settings.flux_num_steps)
    except e.ConfigError as exc:
        raise fail(exc) from None
    described = describe_models(catalog)
    if as_json:
        sys.stdout.write(json.dumps(described, ensure_ascii=False) + "\n")
        return
    table = Table(title="Workers AI image models")
    for col in ("model", "aliases", "size", "parameters", "neurons (default)"):
        table.add_column(col)
    for m in described:
        s = m["size"]
        size = (
            f"{s['default_width']}x{s['default_height']} fixed"
            if s["fixed"]
            else f"{s['min']}-{s['max']} (default {s['default_width']}x{s['default_height']})"
        )
        params = ", ".join(
            p["name"]
            + (
                f" {p['min']:g}-{p['max']:g}"
                if p["min"] is not None and p["max"] is not None and p["name"] != "seed"
                else ""
            )
            for p in m["params"]
        )
        cells = (f"{m['name']}\n{m['id']}", ", ".join(m["aliases"]), size, params)
        table.add_row(*(escape(c) for c in cells), f"{m['default_neurons']:g}")
    out.print(table)


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
