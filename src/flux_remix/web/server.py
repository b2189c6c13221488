"""Serving the app with uvicorn, with a bounded graceful shutdown.

On SIGTERM or SIGINT the server stops accepting connections, marks itself draining (`/readyz`
answers 503 to a proxy still holding a keep-alive connection), lets in-flight requests finish
for up to `FLUX_REMIX_SHUTDOWN_TIMEOUT` seconds, cancels what is left, and then runs the app's
lifespan shutdown, which flushes and closes the stores. A second Ctrl+C forces the exit.

Slow and idle clients: a connection must deliver a request's headers within
`FLUX_REMIX_HEADER_TIMEOUT` seconds of opening (or of its previous answer), else it is closed
(`header_deadline`; uvicorn itself waits forever for the first request on a connection), and the
process may hold as many open connections as its hard file limit allows, so thousands of idle
or half-open connections neither pile up nor stop new ones from being accepted.

While generations fill every slot and the line, a new POST is refused by the protocol as soon
as its headers are parsed (`web/shedding.py`'s `early_refusal`).

The garbage collector is tuned for a server (see `tune_gc`): what start-up built is frozen out
of its sweeps, and its youngest generation is collected every 7,000 allocations, not 700.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
import signal
import socket
import time
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from flux_remix.metrics import Metrics
from flux_remix.settings import Settings
from flux_remix.web.shedding import early_refusal

log = logging.getLogger("flux_remix")

# Objects allocated (minus freed) before the youngest generation is collected: CPython's 700
# makes an image request, which allocates thousands of short-lived objects, pay for several
# collections. Measured at c=64 (docs/performance.md): 10-15% more images per second and a
# lower p99. An image request leaves no reference cycles (see upstream.client.unbind), so
# garbage waiting longer for a collection holds no image bodies.
GC_YOUNG_THRESHOLD = 7_000


def tune_gc() -> None:
    """Collect once, then freeze everything start-up built (modules, the app, the prompt
    dictionary) so later collections stop walking it, and collect the young less often."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def header_deadline(timeout: float, base: type[asyncio.Protocol] = AutoHTTPProtocol) -> type:
    """uvicorn's HTTP protocol, closing a connection that has no request in progress and has
    not completed a new request's headers within `timeout` seconds (checked every `timeout`:
    a silent or crawling connection is gone after at most twice that)."""

    class HeaderDeadline(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._deadline_check(None, first=True)

        def _deadline_check(self, armed_cycle: object, *, first: bool = False) -> None:
            cycle = getattr(self, "cycle", None)
            transport = getattr(self, "transport", None)
            if transport is None or transport.is_closing():
                return
            idle = cycle is None or getattr(cycle, "response_complete", False)
            if not first and cycle is armed_cycle and idle:
                transport.close()  # no new request's headers since the last check
                return
            loop = asyncio.get_running_loop()
            loop.call_later(timeout, self._deadline_check, cycle)

    return HeaderDeadline


def raise_open_files_limit() -> None:
    """Let the process hold as many connections as the system allows it (soft = hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI, timeout: int) -> None:
        super().__init__(config)
        self.app = app
        self.timeout = timeout

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        tune_gc()  # after the lifespan start-up: the runtime is built and loaded

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            self.app.state.draining = True
            self.app.state.drain_deadline = time.monotonic() + self.timeout
            runtime = getattr(self.app.state, "runtime", None)
            in_flight = runtime.metrics.requests_in_flight if runtime is not None else 0
            log.info(
                "%s received: no new connections; finishing %d in-flight request(s) (at most %d s)",
                signal.Signals(sig).name,
                in_flight,
                self.timeout,
            )
        super().handle_exit(sig, frame)


def serve(app: FastAPI, settings: Settings, *, host: str, port: int, log_level: str) -> None:
    """Run `app` until a signal, then shut down gracefully (blocks)."""
    raise_open_files_limit()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        log_config=None,  # logging is configured by flux_remix.logs (redacted, JSON or text)
        access_log=False,  # the RequestContext middleware writes one line per request
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_timeout,
        http=header_deadline(settings.header_timeout, early_refusal(AutoHTTPProtocol, app)),
    )
    GracefulServer(config, app, settings.shutdown_timeout).run()


async def finish_generations(app: FastAPI, metrics: Metrics, grace: int) -> None:
    """At lifespan shutdown, wait for generations still running outside any request (a stream
    whose reader left, a background job) until the shutdown deadline; then let them go."""
    running = metrics.generations_in_flight
    if not running:
        return
    deadline = getattr(app.state, "drain_deadline", None) or time.monotonic() + grace
    log.info("waiting for %d generation(s) still running", running)
    try:
        await asyncio.wait_for(
            metrics.generations_finished(), max(0.0, deadline - time.monotonic())
        )
    except TimeoutError:
        log.warning(
            "shutdown deadline reached: %d generation(s) abandoned", metrics.generations_in_flight
        )
