"""`GET /images/{id}.{png|jpg}`: stored images, served with their sniffed type and an ETag.

An image URL is a capability: its id is 128 random bits, and chat clients and `<img>` tags
cannot send an API key, so serving needs none (listing, reading metadata and deleting do).
Only `{32 hex}.{png|jpg}` names reach storage; anything else is a 404, so no path can escape.
Stored bytes never change under an id, so they are cached for a year and marked immutable.
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Request, Response

from flux_remix.errors import NotFoundError
from flux_remix.upstream.decode import sniff_format
from flux_remix.web.deps import ServiceDep

log = logging.getLogger("flux_remix.web")
router = APIRouter(tags=["images"])

_NAME = re.compile(r"^([0-9a-f]{32})\.(png|jpg)$")
CACHE_CONTROL = "public, max-age=31536000, immutable"


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


@router.get(
    "/images/{name}",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}, "image/jpeg": {}}, "description": "The image"},
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        404: {"description": "No such image"},
    },
)
async def serve_image(name: str, request: Request, service: ServiceDep) -> Response:
    """The stored image `{id}.png` or `{id}.jpg` (the extension must match its format)."""
    match = _NAME.match(name)
    record = await service.store.get(match.group(1)) if match else None
    if match is None or record is None or record.ext != match.group(2):
        raise NotFoundError("No such image")
    etag = f'"{record.sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
    }
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    data = await service.store.read(record)
    if data is None:
        log.warning("image %s has a row but no stored bytes", record.id)
        raise NotFoundError("No such image")
    fmt = sniff_format(data) or record.format
    media_type = f"image/{fmt}"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(data))
        return Response(status_code=200, headers=headers, media_type=media_type)
    return Response(content=data, headers=headers, media_type=media_type)


router.add_api_route("/images/{name}", serve_image, methods=["HEAD"], include_in_schema=False)
