"""Operations: liveness, readiness and Prometheus metrics. All cheap: no upstream model call."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from flux_remix import __version__
from flux_remix.metrics import CONTENT_TYPE
from flux_remix.readiness import check_ready
from flux_remix.web.deps import RuntimeDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> dict[str, Any]:
    """The process is up and serving (liveness)."""
    return {"status": "ok", "version": __version__, "demo": runtime.settings.demo}


@router.get("/readyz")
async def readyz(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Ready for traffic: stores reachable and at least one account usable (503 otherwise)."""
    draining = bool(getattr(request.app.state, "draining", False))
    report = await check_ready(runtime, draining=draining, jobs=request.app.state.jobs)
    return JSONResponse(report.public(), status_code=200 if report.ready else 503)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    """Prometheus text format: requests, latency, upstream calls, neurons, cache, queue depth,
    jobs."""
    jobs = getattr(request.app.state, "jobs", None)
    if jobs is not None:
        with contextlib.suppress(Exception):  # an unreachable store shows in /readyz
            runtime.metrics.job_queue((await jobs.stats()).by_status)
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE)
