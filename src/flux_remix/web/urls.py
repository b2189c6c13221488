"""Public URLs of stored images: `PUBLIC_BASE_URL` when set, else the request's own base."""

from __future__ import annotations

from fastapi import Request

from flux_remix.schemas import GeneratedImage


def base_url(request: Request) -> str:
    configured: str | None = request.app.state.runtime.settings.public_base_url
    return configured or str(request.base_url).rstrip("/")


def image_path(image: GeneratedImage) -> str:
    return stored_path(image.id, image.ext)


def stored_path(image_id: str, ext: str) -> str:
    """The path of a stored image by id and extension (`png` or `jpg`)."""
    return f"/images/{image_id}.{ext}"


def image_url(request: Request, image: GeneratedImage) -> str:
    return base_url(request) + image_path(image)
