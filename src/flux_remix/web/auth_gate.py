"""`AuthGate`: a request that carries a body is authenticated before a byte of it is read.

A pure ASGI middleware in front of `BodyLimit` and the routes. For every request whose method may
carry a body (anything but GET, HEAD and OPTIONS), on any path but the sign-in form's, it runs the
same check as every route's `CallerDep` (`deps.credentials`: the `Authorization` / `X-API-Key`
header, else the live session cookie, with failed attempts throttled) from the headers alone.
Without valid credentials the answer (401, 403 or 429, in the path's API shape) is sent at once
and the body is never read or parsed: an unauthenticated caller costs a dictionary lookup, whatever
it sends. With valid credentials the key found is left in `request.state` for `authenticate`, so
it is not looked up twice.

New routes get this by construction: any POST/PUT/PATCH/DELETE is gated. A route that must take
a body from anyone (only the sign-in form, whose body is the key) is listed in `OPEN_PATHS`, and
its body may declare at most `OPEN_BODY_BYTES` (a form of a key and a token needs far less).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from flux_remix.errors import FluxRemixError
from flux_remix.web.body_limit import declared_length
from flux_remix.web.deps import CHECKED, credentials
from flux_remix.web.errors import Problem, problem_of, render, shape_of

OPEN_PATHS = frozenset({"/signin", "/signout"})  # the form carries the key / ends a session
OPEN_BODY_BYTES = 64 * 1024
BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuthGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app: Any = scope.get("app")
        open_path = scope["type"] == "http" and scope["path"] in OPEN_PATHS
        if open_path and (declared_length(scope) or 0) > OPEN_BODY_BYTES:
            problem = Problem(413, "payload_too_large", "A sign-in form is never this large")
            response = render(problem, shape_of(Request(scope)))
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        if (
            scope["type"] != "http"
            or scope["method"] in BODILESS
            or scope["path"] in OPEN_PATHS
            or getattr(app.state, "runtime", None) is None
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)  # no `receive`: nothing here can read the body
        try:
            found = await credentials(request)
        except FluxRemixError as exc:
            shape = shape_of(request)
            await render(problem_of(exc, shape), shape)(scope, receive, send)
            return
        scope.setdefault("state", {})[CHECKED] = found
        await self.app(scope, receive, send)
