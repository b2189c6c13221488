"""Dependencies named once: the runtime, the caller's identity, and role checks."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from flux_remix.errors import AuthenticationError, PermissionDeniedError
from flux_remix.keys.records import ApiKey
from flux_remix.runtime import Runtime
from flux_remix.service import ImageService
from flux_remix.web.session import session_of, sessions_of

CHECKED = "credentials"  # request.state: the key AuthGate found (None: keys are off)
_UNCHECKED = object()


@dataclass(frozen=True)
class Caller:
    """Who is calling: a key id (a short hash, never the key) and whether it is an admin."""

    key_id: str | None
    admin: bool


async def get_runtime(request: Request) -> Runtime:  # async: no thread-pool hop per request
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_service(request: Request) -> ImageService:
    # from the request, not through RuntimeDep: each level of dependencies costs FastAPI time
    # on every request, and generation routes ask for the service and the caller
    service: ImageService = request.app.state.runtime.service
    return service


ServiceDep = Annotated[ImageService, Depends(get_service)]


def presented_key(request: Request) -> str | None:
    """The API key: `Authorization: Bearer <key>`, HTTP Basic with the key as the password (any
    user name; A1111 clients' `--api-auth`), or `X-API-Key`."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        if scheme.lower() == "basic" and value.strip():
            return basic_password(value.strip())
        return None
    key = request.headers.get("x-api-key")
    return key.strip() if key else None


def basic_password(credentials: str) -> str | None:
    """The password of HTTP Basic credentials (`base64(user:password)`), if well formed."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    _, colon, password = decoded.partition(":")
    return password if colon and password else None


def client_address(request: Request) -> str | None:
    """The client's address (from `X-Forwarded-For` only behind a trusted proxy: uvicorn's
    `FORWARDED_ALLOW_IPS`), the unit failed authentication is throttled by."""
    return request.client.host if request.client else None


async def credentials(request: Request) -> ApiKey | None:
    """The key a request is made with, or None when keys are off: by `Authorization: Bearer`,
    HTTP Basic or `X-API-Key` (`presented_key`), else by the web page's session cookie
    (CSRF-checked, and still live on the server). `AuthenticationError` (or
    `AuthThrottledError`) otherwise.

    `AuthGate` calls it before a body is read; `authenticate` reuses what it found."""
    runtime: Runtime = request.app.state.runtime  # not RuntimeDep: see get_service
    keys = runtime.keys
    await keys.ring.refresh()
    if not keys.ring.auth_enabled:
        return None
    key = presented_key(request)
    if key is not None:
        return await check_key(key, runtime, client_address(request))
    session = await sessions_of(request).live(session_of(request))
    record = await keys.ring.active(session.key_id) if session else None
    if record is None:
        raise AuthenticationError("Missing API key: send it as 'Authorization: Bearer <key>'")
    return record


async def check_key(key: str, runtime: Runtime, address: str | None) -> ApiKey:
    """The active key `key` is; failures are counted per address and key prefix, and while
    either has failed too often nothing is checked (`AuthThrottledError`, 429)."""
    throttle = runtime.keys.throttle
    await throttle.check(address, key)
    record = await runtime.keys.ring.identify(key)
    if record is None:
        await throttle.failed(address, key)
        raise AuthenticationError("Invalid API key")
    return record


async def authenticate(request: Request) -> Caller:
    """The caller of an API route (see `credentials`), counted against the key's requests per
    minute."""
    checked = getattr(request.state, CHECKED, _UNCHECKED)
    record = await credentials(request) if checked is _UNCHECKED else checked
    if record is None:
        return Caller(key_id=None, admin=True)
    assert isinstance(record, ApiKey)
    await request.app.state.runtime.keys.limiter.admit(record)
    return Caller(key_id=record.id, admin=record.admin)


async def identify(key: str, runtime: Runtime, address: str | None) -> Caller:
    """The caller a presented key stands for; `AuthenticationError` when it is no key of ours
    (or a revoked one), `AuthThrottledError` after too many of those."""
    record = await check_key(key, runtime, address)
    return Caller(key_id=record.id, admin=record.admin)


async def caller_of(key_id: str, runtime: Runtime) -> Caller | None:
    """The caller a sign-in session's key id stands for, while that key is still active."""
    record = await runtime.keys.ring.active(key_id)
    return Caller(key_id=record.id, admin=record.admin) if record else None


CallerDep = Annotated[Caller, Depends(authenticate)]


def require_admin(caller: CallerDep) -> Caller:
    if not caller.admin:
        raise PermissionDeniedError("This route needs an admin key (ADMIN_API_KEY)")
    return caller


AdminDep = Annotated[Caller, Depends(require_admin)]
