"""The web page's sign-in session: a signed, HttpOnly cookie, and CSRF protection.

The page asks for an API key once (`POST /signin`) and keeps a cookie holding only the key's id
(a hash, never the key), an expiry and a random nonce, signed with HMAC-SHA256. The key never
reaches page source, scripts, URLs or the cookie. `web/deps.authenticate` accepts the cookie
where no `Authorization` header is sent; a cookie-authenticated request that changes state must
carry the session's CSRF token (`X-CSRF-Token` header or a `csrf_token` form field) and must not
come from another site (`Sec-Fetch-Site: cross-site`).

A valid signature is not enough: each session also has a server-side record
(`session_store.py`), so signing out ends it for good, an idle session expires after
`FLUX_REMIX_SESSION_IDLE_TIMEOUT`, and revoking its key ends it.

The signing secret is `FLUX_REMIX_SESSION_SECRET` when set (give every replica the same one),
else a random one kept in `<data dir>/session-secret` so sessions survive restarts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response

from flux_remix.errors import PermissionDeniedError
from flux_remix.settings import Settings
from flux_remix.stored_secret import stored_secret
from flux_remix.web.session_store import MemorySessionStore, SessionStore

COOKIE = "flux_session"
LOGIN_COOKIE = "flux_login"  # double-submit token of the sign-in form (before any session)
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
MAX_AGE = 30 * 24 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Session:
    key_id: str
    nonce: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Signs and reads session cookies for one app."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._secret: bytes | None = None
        # replaced at start-up by the shared store when REDIS_URL is set (web/app.py)
        self.store: SessionStore = MemorySessionStore(settings.session_idle_timeout)

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            configured = self._settings.session_secret
            if configured is not None:
                self._secret = hashlib.sha256(configured.get_secret_value().encode()).digest()
            else:
                self._secret = stored_secret(self._settings.data_dir / "session-secret")
        return self._secret

    def _sign(self, purpose: str, payload: str) -> str:
        mac = hmac.new(self.secret, f"{purpose}|{payload}".encode(), hashlib.sha256)
        return _b64(mac.digest())

    def encode(self, session: Session) -> str:
        body = {"k": session.key_id, "n": session.nonce, "e": session.expires}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._sign('session', payload)}"

    def decode(self, value: str) -> Session | None:
        """The session in a cookie value, or None when it is forged, malformed or expired."""
        payload, _, signature = value.partition(".")
        if not payload or not hmac.compare_digest(signature, self._sign("session", payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
            session = Session(str(body["k"]), str(body["n"]), int(body["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > time.time() else None

    def new(self, key_id: str) -> Session:
        """A new session's cookie contents (`begin` also records it server-side)."""
        return Session(key_id, secrets.token_urlsafe(16), int(time.time()) + MAX_AGE)

    async def begin(self, key_id: str) -> Session:
        """A new session for `key_id`, recorded server-side."""
        session = self.new(key_id)
        await self.store.start(session.nonce, key_id)
        return session

    async def live(self, session: Session | None) -> Session | None:
        """`session` while its server-side record says it has not ended (its idle deadline
        renewed), else None."""
        if session is None:
            return None
        return session if await self.store.touch(session.nonce) == session.key_id else None

    async def end(self, session: Session) -> None:
        await self.store.end(session.nonce)

    def csrf_token(self, session: Session | None) -> str:
        """The token a page's scripts send back with state-changing requests."""
        return self._sign("csrf", session.nonce) if session else ""

    def login_token(self, nonce: str) -> str:
        return self._sign("login", nonce)


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


def read_session(request: Request) -> Session | None:
    """The request's valid session cookie, without any CSRF check (for rendering pages)."""
    value = request.cookies.get(COOKIE)
    return sessions_of(request).decode(value) if value else None


def cross_site(request: Request) -> bool:
    return request.headers.get("sec-fetch-site", "").lower() == "cross-site"


def session_of(request: Request) -> Session | None:
    """The session a request is authenticated by, checked against cross-site forgery.

    Raises `PermissionDeniedError` when a state-changing request rides on the cookie without
    the session's CSRF token or from another site.
    """
    session = read_session(request)
    if session is None or request.method in SAFE_METHODS:
        return session
    token = request.headers.get(CSRF_HEADER, "")
    expected = sessions_of(request).csrf_token(session)
    if cross_site(request) or not hmac.compare_digest(token, expected):
        raise PermissionDeniedError(
            "Cross-site request refused: this request rides on the page's sign-in cookie "
            "without its CSRF token"
        )
    return session


def is_https(request: Request, settings: Settings) -> bool:
    base = settings.public_base_url or ""
    return request.url.scheme == "https" or base.startswith("https://")


def set_session_cookie(
    response: Response, request: Request, settings: Settings, session: Session
) -> None:
    response.set_cookie(
        COOKIE,
        sessions_of(request).encode(session),
        max_age=MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request, settings),
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
