"""What a job is, stored: its record (owner, request, status, lease) and its numbered events.

    queued → running → succeeded | failed | cancelled

A job's events are numbered 1, 2, 3 … (the SSE event ids); the last one is `result` or
`failure`, written together with the final status. A running job is held by one worker under a
lease (`token`, renewed by heartbeats): a worker whose lease lapsed was taken over, and the
store refuses its later writes, so a job's events and outcome come from one attempt at a time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal["stage", "result", "failure"]
Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
ACTIVE: frozenset[str] = frozenset({"queued", "running"})

# the failure event of a job that a worker could not finish, after its last attempt
LOST = {
    "status": 500,
    "type": "worker_lost",
    "message": "The server running this job stopped, and no other took it over in time",
    "param": None,
}


@dataclass(frozen=True)
class JobEvent:
    id: int  # 1, 2, 3 … within its job; the SSE event id
    kind: EventKind
    data: dict[str, Any]


@dataclass
class JobRecord:
    """One job as stored. `request` is the native image request (JSON), `base_url` what its
    result's image URLs start with (the URL the job was submitted at)."""

    id: str
    owner: str | None  # the API key id that submitted it (None when keys are off)
    request: dict[str, Any]
    base_url: str
    created: float  # epoch seconds
    status: Status = "queued"
    stage: str | None = None
    started: float | None = None
    finished: float | None = None
    attempts: int = 0  # times a worker started it (more than 1 after a takeover or restart)
    worker: str | None = None  # the worker holding it while it runs (host-pid-tag), for operators
    cancel_requested: bool = False
    webhook_url: str | None = None
    webhook: dict[str, Any] | None = None  # delivery state, see jobs.webhooks
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    # while queued, read-time estimates (not stored)
    position: int | None = field(default=None, compare=False)
    wait_s: float | None = field(default=None, compare=False)

    @property
    def done(self) -> bool:
        return self.status in FINAL

    def public(self) -> dict[str, Any]:
        """The record as operators see it (`flux-remix jobs show`): no request images. (The API
        leaves `worker` out: host names are the operator's.)"""
        out = dataclasses.asdict(self)
        request = dict(self.request)
        for big in ("image", "mask", "input_images"):
            if request.get(big):
                request[big] = "(omitted)"
        out["request"] = request
        return out


@dataclass(frozen=True)
class Claim:
    """A job a worker now holds: write its events with `token` until it is finished."""

    record: JobRecord
    token: str
    takeover: bool = False  # taken over from a worker that stopped renewing its lease


@dataclass(frozen=True)
class QueueStats:
    by_status: dict[str, int]  # active jobs (queued, running) counted now
    workers: int  # worker slots seen recently across every process

    @property
    def depth(self) -> int:
        return self.by_status.get("queued", 0)
