"""`Shedding`: while every generation slot is taken and the line is full (`admission.py`), a new
POST is answered 503 with `Retry-After` at once, in its path's API shape, before its body is read
or parsed. It is the outermost middleware, so a refusal costs next to nothing: no routing, no
`Request`, no key lookup, no request id or access-log line (a counter, `flux_remix_requests_shed`,
says how many), and the answers are encoded once, at start-up, per API shape. Under a flood the
event loop's time goes to the requests that are admitted. The caller learns that the server is
full and nothing else, so refusing before the key is checked tells a stranger nothing worth
knowing and saves the key's HMAC. New routes get it by construction; the sign-in form is never shed.
"""

from __future__ import annotations

import asyncio
from typing import Any, get_args

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flux_remix.admission import Admission, overloaded
from flux_remix.metrics import Metrics
from flux_remix.web.auth_gate import OPEN_PATHS
from flux_remix.web.errors import Shape, problem_of, render, shape_of_path


def refusals() -> dict[Shape, tuple[Message, Message]]:
    """The 503 in each API shape, as the two ASGI messages that send it."""
    error = overloaded("every generation slot and the line are taken")
    answers: dict[Shape, tuple[Message, Message]] = {}
    for shape in get_args(Shape):
        response = render(problem_of(error, shape), shape)
        start = {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
        answers[shape] = (start, {"type": "http.response.body", "body": response.body})
    return answers


class Shedding:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.answers = refusals()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admission = self._admission(scope)
        if admission is None:
            await self.app(scope, receive, send)
        elif admission.saturated:
            self.metrics.request_shed()
            start, body = self.answers[shape_of_path(scope["path"])]
            await send(start)
            await send(body)
        else:
            # Requests that arrive together are started together: each one let in counts as
            # arriving for one turn of the event loop, so the others of its batch beyond the
            # bounds are refused in that same turn, before any admitted one parses its body.
            admission.arriving += 1
            try:
                await asyncio.sleep(0)
            finally:
                admission.arriving -= 1
            await self.app(scope, receive, send)

    @staticmethod
    def _admission(scope: Scope) -> Admission | None:
        """The admission a POST of this path is judged by, if any."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] in OPEN_PATHS:
            return None
        app: Any = scope.get("app")
        runtime = getattr(app.state, "runtime", None)
        return None if runtime is None else runtime.service.admission
