"""History under `/api/v1/images`: list (cursor-paginated, searchable), metadata, delete.

Each key sees its own images; an admin key sees every key's (and may filter by `key`); with
auth off everything is visible. Another key's image answers 404, exactly like a missing one.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from flux_remix.errors import (
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    UnknownModelError,
)
from flux_remix.storage import HistoryQuery, ImageRecord
from flux_remix.web.deps import Caller, CallerDep, ServiceDep, authenticate
from flux_remix.web.urls import base_url, stored_path

router = APIRouter(prefix="/api/v1", tags=["history"], dependencies=[Depends(authenticate)])

MAX_PAGE = 200


class ImageMetadata(BaseModel):
    """One stored image's public metadata (account by label; the key as its id, never itself)."""

    id: str
    url: str
    created: datetime
    generation_id: str
    key_id: str | None
    model: str
    model_name: str
    prompt: str
    translated_prompt: str
    enhanced_prompt: str | None
    final_prompt: str
    translator: str
    params: dict[str, Any]
    seed: int | None = Field(description="null when the model takes no seed")
    width: int
    height: int
    mime_type: str
    bytes: int
    sha256: str
    account: str
    neurons: float
    timings: dict[str, float]
    cached_from: str | None = Field(description="The image this one was answered from, if any")
    demo: bool


class HistoryPage(BaseModel):
    images: list[ImageMetadata]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page")


class Deleted(BaseModel):
    id: str
    deleted: bool


def metadata(request: Request, r: ImageRecord) -> ImageMetadata:
    return ImageMetadata(
        id=r.id,
        url=base_url(request) + stored_path(r.id, r.ext),
        created=datetime.fromtimestamp(r.created, UTC),
        generation_id=r.generation_id,
        key_id=r.key_id,
        model=r.model,
        model_name=r.model_name,
        prompt=r.prompt,
        translated_prompt=r.translated_prompt,
        enhanced_prompt=r.enhanced_prompt,
        final_prompt=r.final_prompt,
        translator=r.translator,
        params=r.params,
        seed=r.seed,
        width=r.width,
        height=r.height,
        mime_type=r.mime,
        bytes=r.bytes,
        sha256=r.sha256,
        account=r.account,
        neurons=r.neurons,
        timings=r.timings,
        cached_from=r.source_id,
        demo=r.demo,
    )


def encode_cursor(cursor: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(f"{cursor[0]}:{cursor[1]}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        created, _, image_id = raw.partition(":")
        return int(created), image_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidParameterError(
            "cursor", "cursor is not one this API returned (use next_cursor as is)"
        ) from None


def _micros(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1_000_000)


def _visible(record: ImageRecord | None, caller: Caller) -> ImageRecord:
    if record is None or not (caller.admin or record.key_id == caller.key_id):
        raise NotFoundError("No such image")
    return record


@router.get("/images", response_model=HistoryPage)
async def list_images(
    request: Request,
    service: ServiceDep,
    caller: CallerDep,
    q: Annotated[str | None, Query(max_length=500, description="Text in any prompt")] = None,
    model: Annotated[str | None, Query(description="Alias, short id or model id")] = None,
    since: Annotated[datetime | None, Query(description="Created at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Created before (ISO 8601)")] = None,
    key: Annotated[str | None, Query(description="Only this key id's images (admin)")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> HistoryPage:
    """Stored images, newest first, filtered by prompt text, model, date range and key."""
    if caller.admin:
        key_id = key
    elif key is not None and key != caller.key_id:
        raise PermissionDeniedError("Only an admin key may list other keys' images")
    else:
        key_id = caller.key_id
    model_id = model
    if model:
        try:
            model_id = service.resolve_model(model).id
        except UnknownModelError:
            model_id = model  # a model no longer configured may still have history
    query = HistoryQuery(
        limit=limit,
        cursor=decode_cursor(cursor) if cursor else None,
        text=q.strip() or None if q else None,
        model=model_id,
        since_us=_micros(since),
        until_us=_micros(until),
        key_id=key_id,
    )
    page = await service.store.history(query)
    return HistoryPage(
        images=[metadata(request, r) for r in page.records],
        next_cursor=encode_cursor(page.next_cursor) if page.next_cursor else None,
    )


@router.get("/images/{image_id}", response_model=ImageMetadata)
async def get_image(
    image_id: str, request: Request, service: ServiceDep, caller: CallerDep
) -> ImageMetadata:
    """One stored image's metadata: prompts, model, every parameter, seed, size, timings."""
    return metadata(request, _visible(await service.store.get(image_id), caller))


@router.delete("/images/{image_id}", response_model=Deleted)
async def delete_image(image_id: str, service: ServiceDep, caller: CallerDep) -> Deleted:
    """Remove the image's row and, unless another row shares them, its stored bytes."""
    _visible(await service.store.get(image_id), caller)
    if await service.store.delete(image_id) is None:
        raise NotFoundError("No such image")
    return Deleted(id=image_id, deleted=True)
