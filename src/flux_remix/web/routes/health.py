"""Liveness: cheap, no upstream call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from flux_remix import __version__
from flux_remix.web.deps import RuntimeDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> dict[str, Any]:
    return {"status": "ok", "version": __version__, "demo": runtime.settings.demo}
