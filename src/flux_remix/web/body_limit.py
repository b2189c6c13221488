"""A pure ASGI middleware that refuses request bodies over `FLUX_REMIX_MAX_BODY_BYTES` with 413,
and JSON bodies deeper or bigger in values than `FLUX_REMIX_MAX_JSON_DEPTH` /
`FLUX_REMIX_MAX_JSON_VALUES` with 413 too (see `json_shape.py`), before any parser sees them.

Nothing is buffered: a declared `Content-Length` over the limit is answered before the app runs
or a byte of the body is read; a body without one (chunked) is counted as it streams through,
and once it passes the limit the app is told the client went away and its answer is replaced
by the 413 (the connection is closed, so the rest of the body is never read). A JSON body's
structure is followed chunk by chunk the same way, so a body of millions of tiny values is
refused after its first few kilobytes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flux_remix.web.errors import Problem, render, shape_of
from flux_remix.web.json_shape import JsonShape, ShapeLimits


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "payload_too_large",
        f"The request body is larger than {limit} bytes (FLUX_REMIX_MAX_BODY_BYTES)",
    )


def is_json(scope: Scope) -> bool:
    """A body a JSON parser may read: declared JSON, or declared as nothing at all."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind: bytes = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return True


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    def __init__(self, app: ASGIApp, *, limit: int, json: ShapeLimits) -> None:
        self.app = app
        self.limit = limit
        self.json = json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(too_large(self.limit), scope, receive, send)
            return

        seen = 0
        over: Problem | None = None
        started = False
        shape = JsonShape(self.json) if is_json(scope) else None

        async def counting_receive() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.limit:
                    over = too_large(self.limit)
                elif shape is not None:
                    over = shape.feed(chunk)
                if over:
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the app's answer to a body it never got whole is replaced below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over or started:
                raise  # a route that gave up on the cut body (ClientDisconnect) is answered here
        if over and not started:
            await self._refuse(over, scope, receive, send)

    async def _refuse(self, problem: Problem, scope: Scope, receive: Receive, send: Send) -> None:
        shape = shape_of(Request(scope))
        response = render(problem, shape)  # RequestContext adds the request id
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
