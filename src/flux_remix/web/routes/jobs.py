"""Generation jobs: start one, follow its progress as Server-Sent Events, resume after a drop.

`POST /api/v1/jobs` takes the native request, checks it, starts `ImageService.generate` as a
job and answers 202 with the job's id. `GET /api/v1/jobs/{id}/events` streams its events with
ids; a client that lost the stream reconnects with `Last-Event-ID` (browsers' EventSource does
so by itself) and gets only what it missed. The last event is `result` (image URLs and every
effective parameter) or `failure` (the native API's error object). `GET /api/v1/jobs/{id}` is the
same as one snapshot. Jobs are visible only to the key that started them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from flux_remix.errors import FluxRemixError, NotFoundError, RequestError
from flux_remix.jobs import Job, JobEvent, JobRegistry
from flux_remix.schemas import Generation, ImageRequest
from flux_remix.service import Progress
from flux_remix.web.deps import CallerDep, RuntimeDep, ServiceDep, authenticate
from flux_remix.web.errors import problem_of
from flux_remix.web.urls import base_url, image_path

router = APIRouter(prefix="/api/v1", tags=["jobs"], dependencies=[Depends(authenticate)])


def get_jobs(request: Request) -> JobRegistry:
    jobs: JobRegistry = request.app.state.jobs
    return jobs


JobsDep = Annotated[JobRegistry, Depends(get_jobs)]


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


def job_out(job: Job) -> JobOut:
    failure = next((e.data for e in job.events if e.kind == "failure"), None)
    return JobOut(
        id=job.id,
        status=job.status,
        stage=job.stage,
        events_url=f"/api/v1/jobs/{job.id}/events",
        events=[JobEventOut(id=e.id, event=e.kind, data=e.data) for e in job.events],
        result=job.result,
        error=failure,
    )


@router.post("/jobs", status_code=202, response_model=JobOut)
async def create_job(
    req: ImageRequest, request: Request, service: ServiceDep, caller: CallerDep, jobs: JobsDep
) -> JobOut:
    """Start a generation and answer at once with its id; follow it at `events_url`.

    A request the model cannot take is refused here (422/404), before any job exists.
    """
    base = base_url(request)

    async def run(progress: Progress) -> dict[str, Any]:
        generation = await service.generate(req, key_id=caller.key_id, progress=progress)
        return generation_result(generation, base)

    job = jobs.start(run, owner=caller.key_id)
    first = await job.first_event()
    if first.kind == "failure" and isinstance(job.error, RequestError):
        raise job.error
    return job_out(job)


def _find(jobs: JobRegistry, job_id: str, key_id: str | None) -> Job:
    job = jobs.get(job_id, key_id)
    if job is None:
        raise NotFoundError(f"No generation job '{job_id[:64]}' (jobs are kept for 15 minutes)")
    return job


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(job_id: str, caller: CallerDep, jobs: JobsDep) -> JobOut:
    """The job's status, its events so far, and its result or error once finished."""
    return job_out(_find(jobs, job_id, caller.key_id))


def sse(event: JobEvent) -> str:
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
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
    job = _find(jobs, job_id, caller.key_id)
    start = after or 0
    if last_event_id and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    if job.status != "running" and start >= len(job.events):
        return Response(status_code=204)  # EventSource stops reconnecting on 204

    async def stream() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        async for event in job.follow(start, heartbeat=runtime.settings.sse_keepalive):
            if event is None:
                if await request.is_disconnected():
                    return
                yield ": keep-alive\n\n"
                continue
            yield sse(event)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
