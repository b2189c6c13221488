"""The page's static files (one stylesheet, small JavaScript modules), served from memory with
cache-busting URLs.

Every file is read once when the app starts and named by a hash of its content
(`/static/app.css?v=1a2b3c4d5e`). A versioned URL is cached for a year; an unversioned one is
revalidated by ETag. JavaScript modules import each other by plain paths (`./api.js`); the page's
import map points those at the versioned URLs, so a changed module is fetched anew.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/static/"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    name: str
    data: bytes
    digest: str
    content_type: str

    @property
    def url(self) -> str:
        return f"{PREFIX}{self.name}?v={self.digest}"


class Assets:
    """The static files of one app, read once."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self._files: dict[str, Asset] = {}
        for path in sorted(directory.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            name = path.relative_to(directory).as_posix()
            data = path.read_bytes()
            content_type = _TYPES.get(path.suffix) or (
                mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            )
            digest = hashlib.sha256(data).hexdigest()[:10]
            self._files[name] = Asset(name, data, digest, content_type)

    def url(self, name: str) -> str:
        return self._files[name].url

    def import_map(self) -> str:
        """The page's import map: every module's plain path → its versioned URL."""
        imports = {
            f"{PREFIX}{a.name}": a.url for a in self._files.values() if a.name.endswith(".js")
        }
        return json.dumps({"imports": imports}, separators=(",", ":"))

    def get(self, name: str) -> Asset | None:
        return self._files.get(name)


def assets_of(request: Request) -> Assets:
    assets: Assets = request.app.state.assets
    return assets


router = APIRouter(include_in_schema=False)


@router.get("/static/{name:path}")
async def static_file(name: str, request: Request) -> Response:
    asset = assets_of(request).get(name)
    if asset is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    etag = f'"{asset.digest}"'
    if request.query_params.get("v") == asset.digest:
        cache = "public, max-age=31536000, immutable"
    else:
        cache = "no-cache"
    headers = {"ETag": etag, "Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.data, media_type=asset.content_type, headers=headers)
