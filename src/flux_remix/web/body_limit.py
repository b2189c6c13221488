"""A pure ASGI middleware that refuses request bodies over `FLUX_REMIX_MAX_BODY_BYTES` with 413.

Nothing is buffered: a declared `Content-Length` over the limit is answered before the app runs
or a byte of the body is read; a body without one (chunked) is counted as it streams through,
and once it passes the limit the app is told the client went away and its answer is replaced
by the 413 (the connection is closed, so the rest of the body is never read).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flux_remix.web.errors import Problem, render, shape_of


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "payload_too_large",
        f"The request body is larger than {limit} bytes (FLUX_REMIX_MAX_BODY_BYTES)",
    )


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, receive, send)
            return

        seen = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the app's answer to a body it never got whole is replaced below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)
        if over and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        shape = shape_of(Request(scope))
        response = render(too_large(self.limit), shape)  # RequestContext adds the request id
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
