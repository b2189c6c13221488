"""`flux-remix generate`: in-process through `ImageService.generate`, or against `--server`.

Both paths end in the same result (effective parameters plus the files written, each named by
its image id), printed as a table or, with `--json`, as one JSON object for scripts.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from flux_remix import errors as e
from flux_remix.commands.remote import RemoteServer
from flux_remix.schemas import Generation, ImageRequest
from flux_remix.service import Progress as ProgressCallback
from flux_remix.settings import Settings, TranslateMode

TRANSLATE_MODES: dict[str, TranslateMode] = {
    "auto": "auto",
    "on": "always",
    "always": "always",
    "off": "off",
}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg"}


def parse_size(size: str | None) -> tuple[int | None, int | None]:
    """`1024x768` → (1024, 768); None → (None, None)."""
    if not size:
        return None, None
    w, sep, h = size.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise e.InvalidParameterError("size", "--size: expected WIDTHxHEIGHT, e.g. 1024x768")
    return int(w), int(h)


def build_request(fields: dict[str, Any]) -> ImageRequest:
    """The native request from the command's options; a bad value is a `RequestError`."""
    try:
        return ImageRequest.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "request"
        raise e.InvalidParameterError(where, f"{where}: {first.get('msg')}") from None


# --- progress ---------------------------------------------------------------------------------


@contextmanager
def stage_progress(console: Console, n: int, *, enabled: bool) -> Iterator[ProgressCallback]:
    """A Rich progress line fed by the service's stages: queued → translating → generating →
    stored (once per image) → done."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=not enabled) as bar:
        task = bar.add_task("Starting", total=n)

        async def on_stage(stage: str, info: dict[str, Any]) -> None:
            if stage == "queued":
                bar.update(task, description=f"Queued for {info.get('model', 'the model')}")
            elif stage == "translating":
                bar.update(task, description="Preparing the prompt")
            elif stage == "generating":
                bar.update(task, description=f"Generating {n} image{'s' if n > 1 else ''}")
            elif stage == "stored":
                bar.update(task, advance=1, description="Generating, storing")
            elif stage == "done":
                bar.update(task, completed=n, description="Done")

        yield on_stage


# --- running ----------------------------------------------------------------------------------


def write_image(output: Path, image_id: str, ext: str, data: bytes) -> Path:
    """Write `{id}.{ext}` atomically (a `.part` file renamed into place)."""
    output.mkdir(parents=True, exist_ok=True)
    path = output / f"{image_id}.{ext}"
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def local_result(g: Generation, output: Path) -> dict[str, Any]:
    files = [
        {
            "path": str(write_image(output, i.id, i.ext, i.data)),
            "id": i.id,
            "seed": i.seed,
            "width": i.width,
            "height": i.height,
            "neurons": i.neurons,
            "cache": i.cache,
        }
        for i in g.images
    ]
    return {
        "id": g.id,
        "model": g.model_id,
        "model_name": g.model_name,
        "prompt": g.prompt.original,
        "final_prompt": g.params.get("prompt", g.prompt.final),
        "translator": g.prompt.translator,
        "params": g.params,
        "neurons": g.neurons,
        "cache": g.cache,
        "demo": g.demo,
        "errors": list(g.errors),
        "seed_note": g.seed_note,
        "files": files,
        "server": None,
    }


def run_local(
    settings: Settings, req: ImageRequest, output: Path, console: Console, *, show: bool
) -> dict[str, Any]:
    """Generate in this process (settings from the environment) and write the files."""
    from flux_remix.runtime import open_runtime

    async def run() -> Generation:
        async with open_runtime(settings) as runtime:
            with stage_progress(console, req.n, enabled=show) as on_stage:
                return await runtime.service.generate(req, progress=on_stage)

    return local_result(asyncio.run(run()), output)


def remote_result(body: dict[str, Any], output: Path, server: str) -> dict[str, Any]:
    files = []
    for image in body.get("images", []):
        data = base64.b64decode(image["b64_json"])
        ext = EXTENSIONS.get(image.get("mime_type", ""), "png")
        files.append(
            {
                "path": str(write_image(output, image["id"], ext, data)),
                "id": image["id"],
                "url": image.get("url"),
                "seed": image["seed"],
                "width": image["width"],
                "height": image["height"],
                "neurons": image["neurons"],
                "cache": image.get("cache", "miss"),
            }
        )
    return {
        "id": body["id"],
        "model": body["model"],
        "model_name": body.get("model_name"),
        "prompt": body["prompt"],
        "final_prompt": body["final_prompt"],
        "translator": body["translator"],
        "params": body["params"],
        "neurons": body["neurons"],
        "cache": body.get("cache", "miss"),
        "demo": body.get("demo", False),
        "errors": [
            f"seed {f['seed']}: {f['message']}" if f.get("seed") is not None else f["message"]
            for f in body.get("errors", [])
        ],
        "seed_note": body.get("seed_note"),
        "files": files,
        "server": server,
    }


def run_remote(
    server: str, key: str | None, req: ImageRequest, output: Path, console: Console, *, show: bool
) -> dict[str, Any]:
    """Ask a running flux-remix (`POST /api/v1/images`) and write the files."""
    body = req.model_dump(exclude_none=True, exclude={"response_format"})
    with RemoteServer(server, key) as remote:
        with console.status(f"Generating on {remote.url}…") if show else _quiet():
            answer = remote.generate(body)
        return remote_result(answer, output, remote.url)


@contextmanager
def _quiet() -> Iterator[None]:
    yield


# --- output -----------------------------------------------------------------------------------


def print_result(console: Console, result: dict[str, Any]) -> None:
    """The effective parameters, then one line per file written."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, Any]] = [
        ("id", result["id"]),
        ("model", f"{result['model_name'] or ''} ({result['model']})".strip()),
        ("prompt", result["prompt"]),
        ("final prompt", result["final_prompt"]),
        ("translator", result["translator"]),
    ]
    rows += [(k, v) for k, v in result["params"].items() if k not in ("model", "prompt")]
    rows += [("neurons", result["neurons"]), ("cache", result["cache"])]
    if result["server"]:
        rows.append(("server", result["server"]))
    for name, value in rows:
        table.add_row(name, escape(str(value)))
    console.print(table)
    for f in result["files"]:
        seed = "no seed" if f["seed"] is None else f"seed {f['seed']}"
        console.print(
            f"[green]wrote[/] {escape(f['path'])}  ({f['width']}x{f['height']}, {seed})",
            highlight=False,
        )
    if result["seed_note"]:
        console.print(f"[yellow]note:[/] {escape(result['seed_note'])}", highlight=False)
    for problem in result["errors"]:
        console.print(f"[yellow]not made:[/] {escape(problem)}", highlight=False)
    if result["demo"]:
        console.print("[yellow]Demo mode:[/] drawn by the built-in emulator, not by Cloudflare.")
