"""The landing page (the full web app builds on it)."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from flux_remix import __version__
from flux_remix.web.deps import RuntimeDep

router = APIRouter(include_in_schema=False)

_DEMO_BANNER = (
    '<p class="demo" role="status">Demo mode: images come from the built-in Workers AI '
    "emulator, not from Cloudflare. They are drawn procedurally and are not AI output.</p>"
)


@router.get("/", response_class=HTMLResponse)
async def index(runtime: RuntimeDep) -> HTMLResponse:
    models = "".join(
        f"<li><code>{escape(m.id)}</code> {escape(m.name)}</li>" for m in runtime.catalog
    )
    banner = _DEMO_BANNER if runtime.settings.demo else ""
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>flux-remix</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}}
.demo{{background:#fff3cd;border:1px solid #e0b800;padding:.75rem;border-radius:.5rem}}</style>
</head><body>{banner}
<h1>flux-remix {escape(__version__)}</h1>
<p>Text-to-image through Cloudflare Workers AI. API: <code>POST /api/image</code>,
<code>POST /api/v1/images</code>; documentation at <a href="/docs">/docs</a>.</p>
<h2>Models</h2><ul>{models}</ul></body></html>"""
    return HTMLResponse(html)
