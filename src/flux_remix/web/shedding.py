"""`Shedding`: while every generation slot is taken and the line is full (`admission.py`), a new
POST is answered 503 with `Retry-After` at once, in its path's API shape, before its body is read
or parsed. It is the outermost middleware, so a refusal costs next to nothing: no routing, no
`Request`, no key lookup, no request id or access-log line (a counter, `flux_remix_requests_shed`,
says how many), and the answers are encoded once, at start-up, per API shape. Under a flood the
event loop's time goes to the requests that are admitted. The caller learns that the server is
full and nothing else, so refusing before the key is checked tells a stranger nothing worth
knowing and saves the key's HMAC. New routes get it by construction; the sign-in form is never shed.

Served by `flux-remix serve` (httptools), the same rule runs one step earlier, in the HTTP
protocol itself (`EarlyRefusal`, mixed into `web/server.py`'s protocol): a refused POST is
answered from its request line and headers, with bytes prepared once, while the event loop is
still reading the burst it arrived in: no ASGI scope completed, no task, no turn of the loop to
wait for, so the refusals of a 1,000-request burst go out as the burst is read instead of after
it. The middleware is the rule for everything the protocol leaves to it (a pipelined request, h11,
an app driven in-process) and skips requests the protocol has already let in.
"""

from __future__ import annotations

import asyncio
from typing import Any, get_args

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from flux_remix.admission import ARRIVAL, Admission, Arrival, overloaded
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


LET_IN = "flux_remix.let_in"  # scope key: the `Arrival` of a request the protocol let in


def admission_of(app: Any, method: str, path: str) -> Admission | None:
    """The admission a request with this method and path is judged by, if any: POSTs outside
    the sign-in form, once the runtime is built."""
    if method != "POST" or path in OPEN_PATHS:
        return None
    runtime = getattr(app.state, "runtime", None)
    return None if runtime is None else runtime.service.admission


class Shedding:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.answers = refusals()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admission = self._admission(scope)
        if admission is None:
            await self.app(scope, receive, send)
            return
        arrival = scope.get(LET_IN)  # the protocol let it in (`EarlyRefusal`)
        if arrival is None:
            if admission.saturated:
                self.metrics.request_shed()
                start, body = self.answers[shape_of_path(scope["path"])]
                await send(start)
                await send(body)
                return
            arrival = Arrival(admission)
            await asyncio.sleep(0)  # the rest of this burst is judged in this turn
        token = ARRIVAL.set(arrival)
        try:
            await admission.pacer.turn()
            await self.app(scope, receive, send)
        finally:
            arrival.reached()  # or ended without a slot (refused, invalid, a job queued)
            ARRIVAL.reset(token)

    @staticmethod
    def _admission(scope: Scope) -> Admission | None:
        if scope["type"] != "http":
            return None
        return admission_of(scope.get("app"), scope["method"], scope["path"])


def wire_refusals() -> dict[Shape, bytes]:
    """`refusals()` as HTTP/1.1 bytes after the status line and the server's default headers
    (date, server), which are added per answer."""
    wire: dict[Shape, bytes] = {}
    for shape, (start, body) in refusals().items():
        lines = [name + b": " + value + b"\r\n" for name, value in start["headers"]]
        wire[shape] = b"".join(lines) + b"\r\n" + body["body"]
    return wire


class _NothingWaits:
    def set(self) -> None:
        """What uvicorn calls on a lost connection to wake the request's reader: none here."""


class _Answered:
    """Stands for a request the protocol answered itself: complete, with nothing to wake."""

    response_complete = True
    disconnected = False
    message_event = _NothingWaits()


ANSWERED = _Answered()


class EarlyRefusal:
    """Mixed into uvicorn's httptools protocol (`web/server.py`): the shedding rule applied
    as soon as a request's headers are parsed. `early_refusal` makes the class."""

    served: Any  # the FastAPI app (uvicorn's own `app` attribute is its wrapped ASGI app)
    wire: dict[Shape, bytes]

    def on_headers_complete(self) -> None:
        proto: Any = self
        path = self._judged_path(proto)
        admission = None if path is None else admission_of(self.served, "POST", path)
        if admission is None:
            super().on_headers_complete()  # type: ignore[misc]
        elif admission.saturated:
            self._refuse(proto, shape_of_path(path))  # type: ignore[arg-type]
        else:
            proto.scope[LET_IN] = Arrival(admission)
            super().on_headers_complete()  # type: ignore[misc]

    @staticmethod
    def _judged_path(proto: Any) -> str | None:
        """The path of a POST the shedding rule judges here, else None (left to uvicorn)."""
        parser = proto.parser
        if parser.get_method() != b"POST" or parser.should_upgrade():
            return None
        if proto.cycle is not None and not proto.cycle.response_complete:
            return None  # pipelined behind an unanswered request: answers keep their order
        path = proto.url.split(b"?", 1)[0]
        if b"%" in path or not path.startswith(b"/"):
            return None  # left to uvicorn's parsing and the middleware
        return str(path.decode("ascii", "replace"))

    def _refuse(self, proto: Any, shape: Shape) -> None:
        self.served.state.runtime.metrics.request_shed()
        parser = proto.parser
        keep_alive = (
            parser.get_http_version() != "1.0"
            and parser.should_keep_alive()
            and not proto.expect_100_continue  # its body would never come
        )
        head = [STATUS_LINE[503]]
        head += [n + b": " + v + b"\r\n" for n, v in proto.server_state.default_headers]
        if not keep_alive:
            head.append(b"connection: close\r\n")
        proto.cycle = ANSWERED  # the rest of this request's body is read and dropped
        proto.transport.write(b"".join(head) + self.wire[shape])
        if keep_alive:
            proto.on_response_complete()
        else:
            proto.transport.close()


def early_refusal(base: type[asyncio.Protocol], app: Any) -> type[asyncio.Protocol]:
    """`base` (uvicorn's protocol) refusing early for `app`, where `base` is httptools'; the
    middleware alone otherwise."""
    if not issubclass(base, HttpToolsProtocol):
        return base
    return type(
        "EarlyRefusalProtocol", (EarlyRefusal, base), {"served": app, "wire": wire_refusals()}
    )
