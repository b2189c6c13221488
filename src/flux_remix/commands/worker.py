"""`flux-remix worker`: run jobs, no HTTP, for operators who scale workers apart from replicas.

It opens the same runtime and job store as `serve` (so it needs `REDIS_URL` to share the
queue with web replicas) and runs `FLUX_REMIX_WORKERS` jobs at a time. On SIGTERM or SIGINT
it stops claiming, lets running jobs finish for up to `FLUX_REMIX_SHUTDOWN_TIMEOUT` seconds,
and hands the rest back to the queue, where another worker takes them.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from flux_remix.jobs import open_job_store
from flux_remix.jobs.setup import open_workers
from flux_remix.runtime import open_runtime
from flux_remix.settings import Settings

log = logging.getLogger("flux_remix")


async def run_workers(settings: Settings, slots: int) -> None:
    from flux_remix.web.routes.jobs import describe_failure, final_json, job_runner

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with (
        open_runtime(settings) as runtime,
        open_job_store(settings, runtime.redis) as store,
        open_workers(
            settings,
            store,
            run=job_runner(runtime.service),
            describe=describe_failure,
            render=final_json,
            metrics=runtime.metrics,
            slots=slots,
        ) as workers,
    ):
        assert workers is not None
        log.info("worker %s running up to %d jobs at a time", workers.name, slots)
        await stop.wait()
        log.info(
            "stopping: no new jobs; finishing %d running (at most %d s)",
            workers.running,
            settings.shutdown_timeout,
        )
        workers.stop_claiming()
        await workers.wait_idle(settings.shutdown_timeout)
    log.info("worker stopped; unfinished jobs were handed back")
