"""Readiness: can this process take traffic now? Cheap checks only, never a model call.

Ready means: not shutting down, every configured store answers within a short timeout, a tiny
write to the image store succeeds (a full disk or a refusing object store is not ready), and at
least one Cloudflare account is usable (not exhausted, cooling down or disabled). Details name
the check and the error class only: a connection error's text can hold a URL with a password.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flux_remix.jobs import JobStore
    from flux_remix.runtime import Runtime

PROBE_TIMEOUT = 2.0
PROBE_BLOB = "0" * 32 + ".png"  # a well-formed key no image has: a cheap existence check


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Readiness:
    checks: list[Check] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    def public(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not_ready",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
        }


async def probe(name: str, ping: Callable[[], Awaitable[object]]) -> Check:
    """Run one store's ping with a timeout; any failure is reported by its class name only."""
    try:
        await asyncio.wait_for(ping(), timeout=PROBE_TIMEOUT)
    except TimeoutError:
        return Check(name, False, f"no answer within {PROBE_TIMEOUT:g} s")
    except Exception as exc:
        return Check(name, False, f"unreachable ({type(exc).__name__})")
    return Check(name, True, "reachable")


def accounts_check(states: list[str]) -> Check:
    usable = sum(1 for s in states if s == "healthy")
    detail = f"{usable} of {len(states)} usable"
    return Check("accounts", usable > 0, detail)


async def accounts_ready(runtime: Runtime) -> Check:
    try:
        statuses = await asyncio.wait_for(runtime.pool.status(), timeout=PROBE_TIMEOUT)
    except Exception as exc:
        return Check("accounts", False, f"account state unreadable ({type(exc).__name__})")
    return accounts_check([s.state for s in statuses])


async def writes_check(runtime: Runtime) -> Check:
    health = runtime.service.storage_health
    try:
        ok = await asyncio.wait_for(health.probe(), timeout=PROBE_TIMEOUT)
    except TimeoutError:
        return Check("writes", False, f"a test write took over {PROBE_TIMEOUT:g} s")
    return Check("writes", ok, "working" if ok else "failing")


async def check_ready(
    runtime: Runtime, *, draining: bool = False, jobs: JobStore | None = None
) -> Readiness:
    report = Readiness()
    report.checks.append(Check("process", not draining, "draining" if draining else "serving"))
    store = runtime.service.store
    report.checks.append(await probe("database", store.meta.applied_migrations))
    report.checks.append(await probe("blobs", lambda: store.blobs.exists(PROBE_BLOB)))
    report.checks.append(await writes_check(runtime))
    if runtime.redis is not None:
        report.checks.append(await probe("redis", runtime.redis.ping))
    if jobs is not None:
        report.checks.append(await probe("jobs", jobs.ping))
    report.checks.append(await accounts_ready(runtime))
    return report
