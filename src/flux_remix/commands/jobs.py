"""`flux-remix jobs`: list, show and cancel generation jobs, and print the webhook secret.

Opens the job store `serve` uses (Redis when `REDIS_URL` is set, else the data directory's
SQLite file), so an operator sees every replica's jobs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flux_remix import errors as e
from flux_remix.commands.exits import emit, fail
from flux_remix.jobs import JobRecord, JobStore
from flux_remix.settings import Settings, load_settings

T = TypeVar("T")

jobs_app = typer.Typer(
    help="Generation jobs: list, show, cancel (every replica's, from the job store).",
    no_args_is_help=True,
)
out = Console()
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _settings() -> Settings:
    try:
        return load_settings()
    except e.ConfigError as exc:
        raise fail(exc) from None


def with_store(settings: Settings, action: Callable[[JobStore], Awaitable[T]]) -> T:
    from flux_remix.jobs import open_job_store
    from flux_remix.redis_client import open_redis

    async def run() -> T:
        async with open_redis(settings) as redis, open_job_store(settings, redis) as store:
            return await action(store)

    return asyncio.run(run())


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@jobs_app.command("list")
def list_jobs(
    status: Annotated[
        str | None, typer.Option(help="queued, running, succeeded, failed or cancelled")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Only this API key id's jobs.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The newest jobs first, with their status, stage, owner key and times."""
    settings = _settings()
    try:
        records = with_store(
            settings, lambda s: s.list_jobs(status=status, owner=owner, limit=limit)
        )
    except e.FluxRemixError as exc:
        raise fail(exc, as_json=as_json) from None
    body = {"jobs": [r.public() for r in records]}

    def show(_: dict[str, Any]) -> None:
        table = Table("id", "status", "stage", "owner", "created", "attempts")
        for r in records:
            table.add_row(
                r.id,
                r.status,
                escape(r.stage or "-"),
                escape(r.owner or "-"),
                _when(r.created),
                str(r.attempts),
            )
        out.print(table)

    emit(body, as_json, show)


def _one(settings: Settings, job_id: str, action: Callable[[JobStore], Awaitable[T]]) -> T:
    async def found(store: JobStore) -> T:
        if await store.get(job_id) is None:
            raise e.NotFoundError(f"No job '{job_id[:64]}' (finished jobs are kept for a while)")
        return await action(store)

    return with_store(settings, found)


def _show_record(record: dict[str, Any]) -> None:
    for name in ("id", "status", "stage", "owner", "attempts", "position", "wait_s"):
        out.print(f"[bold]{name}[/]: {escape(str(record.get(name)))}")
    for name in ("created", "started", "finished"):
        out.print(f"[bold]{name}[/]: {_when(record.get(name))}")
    for name in ("error", "webhook"):
        if record.get(name):
            out.print(f"[bold]{name}[/]: {escape(str(record[name]))}")


@jobs_app.command("show")
def show_job(job_id: str, as_json: JsonOpt = False) -> None:
    """One job's record and its events."""
    settings = _settings()

    async def read(store: JobStore) -> dict[str, Any]:
        record = await store.get(job_id)
        assert record is not None
        events = await store.events(job_id)
        shown = record.public()
        shown["events"] = [{"id": ev.id, "event": ev.kind, "data": ev.data} for ev in events]
        return shown

    try:
        body = _one(settings, job_id, read)
    except e.FluxRemixError as exc:
        raise fail(exc, as_json=as_json) from None
    emit(body, as_json, _show_record)


@jobs_app.command("cancel")
def cancel_job(job_id: str, as_json: JsonOpt = False) -> None:
    """Cancel a job (any owner's): queued, it never starts; running, it stops at its next
    stage. A finished job cannot be cancelled (exit code of a refused request)."""
    from flux_remix.web.routes.jobs import describe_failure

    settings = _settings()
    failure = describe_failure(e.JobCancelledError("The job was cancelled by an operator"))

    async def cancel(store: JobStore) -> JobRecord:
        return await store.cancel(job_id, failure)

    try:
        record = _one(settings, job_id, cancel)
    except e.FluxRemixError as exc:
        raise fail(exc, as_json=as_json) from None
    emit(record.public(), as_json, _show_record)


@jobs_app.command("webhook-secret")
def webhook_secret_command() -> None:
    """The secret webhook receivers verify signatures with (`whsec_…`; generated once and kept
    in the data directory unless FLUX_REMIX_WEBHOOK_SECRET is set)."""
    from flux_remix.jobs.webhooks import webhook_secret

    out.print(webhook_secret(_settings()), highlight=False)
