"""A pure ASGI middleware (no body buffering): request id, demo marker, metrics, access log.

For each HTTP request it assigns an id (`X-Request-ID`), counts the request in flight, and when
the response is done records its route template, status and duration in the metrics and writes
one access-log line with what the pipeline noted (model, account label, cache hit).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flux_remix import facts
from flux_remix.ids import new_id
from flux_remix.metrics import UNMATCHED_ROUTE, Metrics
from flux_remix.web.errors import Problem, render, shape_of

log = logging.getLogger("flux_remix.access")
CLIENT_CLOSED = 499  # the client went away before a response started (nginx's convention)


def route_of(scope: Scope) -> str:
    """The matched route's template (`/images/{name}`), never the raw path."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


def draining(scope: Scope) -> bool:
    app: Any = scope.get("app")
    return bool(getattr(getattr(app, "state", None), "draining", False))


def shutting_down(scope: Scope, request_id: str) -> Response:
    """The answer for a request the shutdown deadline cut short: 503, try again elsewhere."""
    problem = Problem(503, "shutting_down", "The server is shutting down; try again", None, 5)
    return render(problem, shape_of(Request(scope)), request_id)


class RequestContext:
    def __init__(self, app: ASGIApp, *, demo: bool, metrics: Metrics) -> None:
        self.app = app
        self.demo = demo
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id(8)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status: int | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if self.demo:
                    headers.append((b"x-flux-remix-demo", b"true"))
                message["headers"] = headers
            await send(message)

        with facts.collecting() as noted, self.metrics.request_in_flight():
            state["facts"] = noted
            try:
                await self.app(scope, receive, send_wrapper)
            except asyncio.CancelledError:
                if status is not None or not draining(scope):
                    status = status or 500
                    raise
                # the server's shutdown deadline passed before this request finished
                status = 503
                await shutting_down(scope, request_id)(scope, receive, send_wrapper)
            except BaseException:
                status = status or 500
                raise
            finally:
                self._done(scope, request_id, status or CLIENT_CLOSED, started, noted)

    def _done(
        self,
        scope: Scope,
        request_id: str,
        status: int,
        started: float,
        noted: facts.RequestFacts,
    ) -> None:
        seconds = time.perf_counter() - started
        route = route_of(scope)
        method = str(scope.get("method", ""))
        raw = scope.get("raw_path")  # still percent-encoded: no newline can reach the log
        path = raw.decode("latin-1") if isinstance(raw, bytes) else str(scope.get("path"))
        self.metrics.request(route, method, status, seconds)
        extra = {k: v for k, v in noted.fields().items() if v is not None}
        shown = " ".join(f"{k}={v}" for k, v in extra.items())
        log.info(
            "%s %s %s %.1fms id=%s%s",
            method,
            path,
            status,
            seconds * 1000,
            request_id,
            f" {shown}" if shown else "",
            extra={
                "request_id": request_id,
                "method": method,
                "route": route,
                "path": path,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
                **extra,
            },
        )
