"""`Shedding`: while every generation slot is taken and the line is full (`admission.py`), a new
POST is answered 503 with `Retry-After` at once, in its path's API shape, before its body is read
or parsed: under a flood, refusing costs next to nothing. It sits behind `AuthGate` (an unknown
caller still gets 401). New routes get it by construction; the sign-in form is never shed.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from flux_remix.admission import overloaded
from flux_remix.web.auth_gate import OPEN_PATHS
from flux_remix.web.errors import problem_of, render, shape_of


class Shedding:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and self._full(scope):
            shape = shape_of(Request(scope))
            error = overloaded("every generation slot and the line are taken")
            await render(problem_of(error, shape), shape)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _full(scope: Scope) -> bool:
        app: Any = scope.get("app")
        runtime = getattr(app.state, "runtime", None)
        return (
            runtime is not None
            and runtime.service.admission.saturated
            and scope["path"] not in OPEN_PATHS
        )
