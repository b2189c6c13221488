"""Dependencies named once: the runtime, the caller's identity, and role checks."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from flux_remix.errors import AuthenticationError, PermissionDeniedError
from flux_remix.runtime import Runtime
from flux_remix.service import ImageService
from flux_remix.settings import Settings
from flux_remix.web.session import session_of


@dataclass(frozen=True)
class Caller:
    """Who is calling: a key id (a short hash, never the key) and whether it is an admin."""

    key_id: str | None
    admin: bool


def key_id_of(key: str) -> str:
    return "key_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_service(runtime: RuntimeDep) -> ImageService:
    return runtime.service


ServiceDep = Annotated[ImageService, Depends(get_service)]


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    key = request.headers.get("x-api-key")
    return key.strip() if key else None


def _matches(key: str, candidates: tuple[str, ...]) -> bool:
    found = False
    for candidate in candidates:  # compare with every key, in constant time
        found |= hmac.compare_digest(key.encode("utf-8"), candidate.encode("utf-8"))
    return found


def authenticate(request: Request, runtime: RuntimeDep) -> Caller:
    settings = runtime.settings
    if not settings.auth_enabled:
        return Caller(key_id=None, admin=True)
    key = presented_key(request)
    if key is None:
        session = session_of(request)  # the web page's signed cookie, CSRF-checked
        caller = caller_of(session.key_id, settings) if session else None
        if caller is None:
            raise AuthenticationError("Missing API key: send it as 'Authorization: Bearer <key>'")
        return caller
    return identify(key, settings)


def identify(key: str, settings: Settings) -> Caller:
    """The caller a presented key stands for; `AuthenticationError` when it is no key of ours."""
    admins = tuple(k.get_secret_value() for k in settings.admin_api_keys)
    users = tuple(k.get_secret_value() for k in settings.api_keys)
    if _matches(key, admins):
        return Caller(key_id=key_id_of(key), admin=True)
    if _matches(key, users):
        return Caller(key_id=key_id_of(key), admin=False)
    raise AuthenticationError("Invalid API key")


def caller_of(key_id: str, settings: Settings) -> Caller | None:
    """The caller a sign-in session's key id stands for, while that key is still configured."""
    for keys, admin in ((settings.admin_api_keys, True), (settings.api_keys, False)):
        ids = (key_id_of(k.get_secret_value()) for k in keys)
        if any(hmac.compare_digest(key_id, i) for i in ids):
            return Caller(key_id=key_id, admin=admin)
    return None


CallerDep = Annotated[Caller, Depends(authenticate)]


def require_admin(caller: CallerDep) -> Caller:
    if not caller.admin:
        raise PermissionDeniedError("This route needs an admin key (ADMIN_API_KEY)")
    return caller


AdminDep = Annotated[Caller, Depends(require_admin)]
