"""Public URLs of stored images: `PUBLIC_BASE_URL` when set, else the request's own base."""

from __future__ import annotations

from fastapi import Request

from flux_remix.schemas import GeneratedImage


def base_url(request: Request) -> str:
    configured: str | None = request.app.state.runtime.settings.public_base_url
    return configured or str(request.base_url).rstrip("/")


def image_path(image: GeneratedImage) -> str:
    return f"/images/{image.id}.{image.ext}"


def image_url(request: Request, image: GeneratedImage) -> str:
    return base_url(request) + image_path(image)
