"""Generation jobs: start one, follow its progress as Server-Sent Events, resume after a drop.

`POST /api/v1/jobs` takes the native request (and an optional `webhook_url`), checks it, and
queues it in the job store; it answers 202 with the job's id, place in the queue and wait.
Any replica's workers run it; any replica answers for it. `GET /api/v1/jobs/{id}/events`
streams its events with ids; a client that lost the stream reconnects with `Last-Event-ID`
(browsers' EventSource does so by itself) and gets only what it missed. The last event is
`result` (image URLs and every effective parameter) or `failure` (the native API's error
object; type `cancelled` after `DELETE /api/v1/jobs/{id}`). `GET /api/v1/jobs/{id}` is the
same as one snapshot. Jobs are visible only to the key that started them.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field

from flux_remix.errors import FluxRemixError, JobCancelledError, NotFoundError
from flux_remix.generation import JobContext
from flux_remix.ids import new_id
from flux_remix.jobs import JobEvent, JobRecord, JobStore, Runner
from flux_remix.jobs.follow import follow_batches
from flux_remix.jobs.store import first_event
from flux_remix.jobs.webhooks import check_target
from flux_remix.jobs.workers import Progress
from flux_remix.schemas import Generation, ImageRequest
from flux_remix.service import ImageService
from flux_remix.web.deps import CallerDep, RuntimeDep, ServiceDep, authenticate
from flux_remix.web.errors import problem_of
from flux_remix.web.event_stream import EventStream
from flux_remix.web.json_response import OrjsonResponse
from flux_remix.web.json_route import json_post
from flux_remix.web.urls import base_url, image_path

router = APIRouter(prefix="/api/v1", tags=["jobs"], dependencies=[Depends(authenticate)])


async def get_jobs(request: Request) -> JobStore:  # async: no thread-pool hop per request
    jobs: JobStore = request.app.state.jobs
    return jobs


JobsDep = Annotated[JobStore, Depends(get_jobs)]


class JobRequest(ImageRequest):
    webhook_url: str | None = Field(
        default=None,
        max_length=2048,
        description="POSTed the job's final JSON when it finishes (Standard Webhooks signed)",
    )


def describe_failure(exc: BaseException) -> dict[str, Any]:
    """A failed job's `failure` event: the native API's error object (no internals)."""
    if not isinstance(exc, FluxRemixError):
        return {"status": 500, "type": "internal_error", "message": "Internal error"}
    problem = problem_of(exc)
    out: dict[str, Any] = {
        "status": problem.status,
        "type": problem.type,
        "message": problem.message,
        "param": problem.param,
    }
    if problem.retry_after is not None:
        out["retry_after"] = round(problem.retry_after, 1)
    return out


def generation_result(g: Generation, base: str) -> dict[str, Any]:
    """A finished generation as the `result` event carries it: image URLs, not bytes."""
    return {
        "id": g.id,
        "created": int(g.created),
        "model": g.model_id,
        "model_name": g.model_name,
        "prompt": g.prompt.original,
        "translated_prompt": g.prompt.final,
        "final_prompt": g.params.get("prompt", g.prompt.final),
        "translator": g.prompt.translator,
        "translation_note": g.prompt.note,
        "enhanced": g.prompt.enhanced,
        "params": g.params,
        "images": [
            {
                "id": i.id,
                "url": base + image_path(i),
                "mime_type": i.mime,
                "width": i.width,
                "height": i.height,
                "seed": i.seed,
                "neurons": i.neurons,
                "cache": i.cache,
            }
            for i in g.images
        ],
        "errors": [{"seed": f.seed, "type": f.type, "message": f.message} for f in g.failures],
        "cache": g.cache,
        "neurons": g.neurons,
        "timings": g.timings.public(),
        "demo": g.demo,
        "seed_note": g.seed_note,
    }


def job_runner(service: ImageService) -> Runner:
    """What a worker runs for a job: the pipeline, its result shaped as the `result` event."""

    async def run(
        record: JobRecord, progress: Progress, checkpoint: Callable[[], Awaitable[None]]
    ) -> dict[str, Any]:
        req = ImageRequest.model_validate(record.request)
        generation = await service.generate(
            req, key_id=record.owner, progress=progress, job=JobContext(record.id, checkpoint)
        )
        return generation_result(generation, record.base_url)

    return run


class JobEventOut(BaseModel):
    id: int
    event: str
    data: dict[str, Any]


class JobOut(BaseModel):
    id: str
    status: str
    stage: str | None
    events_url: str
    events: list[JobEventOut]
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    position: int | None = Field(default=None, description="Place in the queue, while queued")
    wait_s: float | None = Field(default=None, description="Estimated seconds until it starts")
    attempts: int = 0
    created: float
    started: float | None = None
    finished: float | None = None
    webhook: dict[str, Any] | None = None


def job_out(job: JobRecord, events: list[JobEvent]) -> JobOut:
    return JobOut(
        id=job.id,
        status=job.status,
        stage=job.stage,
        events_url=f"/api/v1/jobs/{job.id}/events",
        events=[JobEventOut(id=e.id, event=e.kind, data=e.data) for e in events],
        result=job.result,
        error=job.error,
        position=job.position,
        wait_s=job.wait_s,
        attempts=job.attempts,
        created=job.created,
        started=job.started,
        finished=job.finished,
        webhook=job.webhook,
    )


def final_json(job: JobRecord) -> dict[str, Any]:
    """What a webhook delivers: the finished job as `GET /api/v1/jobs/{id}` shows it, without
    its progress events."""
    return job_out(job, []).model_dump(exclude={"events", "webhook"})


@json_post(router, "/jobs", status_code=202, response_model=JobOut)
async def create_job(
    req: JobRequest, request: Request, service: ServiceDep, caller: CallerDep
) -> OrjsonResponse:
    """Queue a generation and answer at once with its id; follow it at `events_url`.

    A request the model cannot take is refused here (422/404), before any job exists; a key
    with FLUX_REMIX_JOBS_PER_KEY jobs queued or running gets 429.
    """
    settings = request.app.state.runtime.settings
    jobs: JobStore = request.app.state.jobs
    image = ImageRequest.model_validate(req.model_dump(exclude={"webhook_url"}))
    spec = await service.admit(image, key_id=caller.key_id)
    webhook_url = None
    if req.webhook_url is not None:
        webhook_url = await check_target(req.webhook_url, settings.webhook_allow)
    record = JobRecord(
        id=new_id(),
        owner=caller.key_id,
        request=image.model_dump(exclude_none=True),
        base_url=base_url(request),
        created=time.time(),
        webhook_url=webhook_url,
        webhook={"state": "waiting", "attempts": 0} if webhook_url else None,
    )
    stored = await jobs.submit(
        record, {"model": spec.id}, per_key=settings.jobs_per_key, capacity=settings.jobs_max
    )
    answer = job_out(stored, [first_event(stored, {"model": spec.id})])
    return OrjsonResponse(answer.model_dump(mode="json", by_alias=True), status_code=202)


async def _find(
    jobs: JobStore, job_id: str, key_id: str | None, *, estimate: bool = True
) -> JobRecord:
    job = await jobs.get(job_id[:64], estimate=estimate) if job_id.isalnum() else None
    if job is None or job.owner != key_id:
        raise NotFoundError(f"No generation job '{job_id[:64]}' (jobs are kept for 15 minutes)")
    return job


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(job_id: str, caller: CallerDep, jobs: JobsDep) -> JobOut:
    """The job's status (with its place in the queue while queued), its events so far, and its
    result or error once finished."""
    job = await _find(jobs, job_id, caller.key_id)
    return job_out(job, await jobs.events(job.id))


@router.delete("/jobs/{job_id}", response_model=JobOut)
async def cancel_job(job_id: str, caller: CallerDep, jobs: JobsDep) -> JobOut:
    """Cancel the job: a queued one never starts; a running one stops at its next stage and
    stores nothing more. Its stream ends with a `failure` event of type `cancelled`.
    A finished job is a 409."""
    job = await _find(jobs, job_id, caller.key_id)
    failure = describe_failure(JobCancelledError("The job was cancelled by its owner"))
    cancelled = await jobs.cancel(job.id, failure)
    return job_out(cancelled, await jobs.events(job.id))


def sse(event: JobEvent) -> str:
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


@router.get(
    "/jobs/{job_id}/events",
    response_class=EventStream,
    responses={200: {"content": {"text/event-stream": {}}}, 204: {"description": "No more"}},
)
async def job_events(
    job_id: str,
    request: Request,
    caller: CallerDep,
    jobs: JobsDep,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0, description="Resume after this event id")] = None,
) -> Response:
    """Server-Sent Events: `stage` events (queued → translating → generating → done), then
    `result` or `failure`. Resume with `Last-Event-ID` (or `?after=`); 204 when nothing is left."""
    job = await _find(jobs, job_id, caller.key_id, estimate=False)
    start = after or 0
    if last_event_id and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    if job.done and not await jobs.events(job.id, start):
        return Response(status_code=204)  # EventSource stops reconnecting on 204

    async def stream() -> AsyncIterator[str]:
        head = "retry: 1000\n\n"  # sent with the first events (one write per batch read)
        keepalive = runtime.settings.sse_keepalive
        async for batch in follow_batches(jobs, job.id, start, heartbeat=keepalive):
            if await request.is_disconnected():
                return  # the client left (EventStream has no listener task): stop following
            if batch is None:
                yield head + ": keep-alive\n\n"
            else:
                yield head + "".join(sse(event) for event in batch)
            head = ""

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return EventStream(stream(), media_type="text/event-stream", headers=headers)
