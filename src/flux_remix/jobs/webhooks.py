"""Webhooks: POST a finished job's JSON to the URL its request named, signed the Standard
Webhooks way, retried until it is taken.

Each delivery carries `webhook-id` (the same on every attempt, so a receiver can drop repeats),
`webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`),
signed by the `standardwebhooks` package with `FLUX_REMIX_WEBHOOK_SECRET` (or a secret
generated once in the data directory). A non-2xx answer or none is retried soon, then after
about 5 s, 30 s, and backing off to an hour, up to `FLUX_REMIX_WEBHOOK_ATTEMPTS` tries; each
try's outcome is kept in the job's `webhook` state.

Targets are the operator's to allow: with `FLUX_REMIX_WEBHOOK_ALLOW` set, only URLs under
those prefixes; without it, only http(s) URLs whose host resolves to public addresses, so a
key cannot make flux-remix call into the operator's own network (loopback, private,
link-local, reserved).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from standardwebhooks import Webhook

from flux_remix.errors import InvalidParameterError
from flux_remix.jobs.records import JobRecord
from flux_remix.jobs.store import JobStore
from flux_remix.settings import Settings
from flux_remix.stored_secret import stored_secret

log = logging.getLogger("flux_remix.jobs")

SECRET_FILE = "webhook-secret"  # noqa: S105 (a file name)
SCHEDULE = (1.0, 5.0, 30.0, 300.0, 1800.0, 3600.0)  # seconds before try 2, 3, 4 …; then hourly
TIMEOUT = 10.0


def retry_delay(attempt: int, schedule: tuple[float, ...] = SCHEDULE) -> float:
    """Seconds to wait after failed try number `attempt` (1-based)."""
    return schedule[min(attempt, len(schedule)) - 1]


def webhook_secret(settings: Settings) -> str:
    """The signing secret as receivers configure it: `whsec_` and base64."""
    if settings.webhook_secret is not None:
        value = settings.webhook_secret.get_secret_value()
        return value if value.startswith("whsec_") else "whsec_" + value
    raw = stored_secret(settings.data_dir / SECRET_FILE)[:32]
    return "whsec_" + base64.b64encode(raw).decode()


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _under(url: str, prefix: str) -> bool:
    if url == prefix:
        return True
    return url.startswith(prefix if prefix.endswith(("/", "?", "=")) else prefix + "/")


async def check_target(url: str, allow: tuple[str, ...]) -> str:
    """`url` when flux-remix may deliver to it, else `InvalidParameterError` (422)."""

    def refuse(why: str) -> InvalidParameterError:
        return InvalidParameterError("webhook_url", f"webhook_url is not allowed: {why}")

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refuse("expected an http:// or https:// URL")
    if parts.username or parts.password:
        raise refuse("credentials in the URL are not accepted")
    if allow:
        if not any(_under(url, prefix) for prefix in allow):
            raise refuse("it is not under a prefix in FLUX_REMIX_WEBHOOK_ALLOW")
        return url
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname,
            parts.port or (443 if parts.scheme == "https" else 80),
            type=socket.SOCK_STREAM,
        )
    except OSError:
        raise refuse("its host does not resolve") from None
    if not infos or not all(_public(str(info[4][0])) for info in infos):
        raise refuse(
            "its host is a loopback, private or link-local address "
            "(an operator can allow it with FLUX_REMIX_WEBHOOK_ALLOW)"
        )
    return url


class WebhookObserver(Protocol):
    def webhook_delivery(self, outcome: str) -> None: ...


class Webhooks:
    """Delivers finished jobs' webhooks in background tasks; `aclose` stops pending retries."""

    def __init__(
        self,
        store: JobStore,
        render: Callable[[JobRecord], dict[str, Any]],
        secret: str,
        *,
        attempts: int,
        schedule: tuple[float, ...] = SCHEDULE,
        observer: WebhookObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._store = store
        self._render = render
        self._signer = Webhook(secret)
        self._attempts = attempts
        self._schedule = schedule
        self._observer = observer
        self._http = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, transport=transport)
        self._tasks: set[asyncio.Task[None]] = set()

    async def finished(self, record: JobRecord) -> None:
        """Start delivering `record`'s webhook, if it asked for one."""
        if not record.webhook_url:
            return
        task = asyncio.create_task(self._deliver(record), name=f"webhook-{record.id[:8]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def sign(self, msg_id: str, at: datetime, body: str) -> dict[str, str]:
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": self._signer.sign(msg_id, at, body),
            "content-type": "application/json",
            "user-agent": "flux-remix-webhooks",
        }

    async def _deliver(self, record: JobRecord) -> None:
        assert record.webhook_url
        msg_id = f"msg_{record.id}"
        body = json.dumps(self._render(record), ensure_ascii=False, separators=(",", ":"))
        done_before = int((record.webhook or {}).get("attempts", 0))
        for attempt in range(done_before + 1, self._attempts + 1):
            headers = self.sign(msg_id, datetime.now(tz=UTC), body)
            try:
                response = await self._http.post(record.webhook_url, content=body, headers=headers)
                answer: int | str = response.status_code
                taken = response.is_success
            except httpx.HTTPError as exc:
                answer, taken = f"no answer ({type(exc).__name__})", False
            last = attempt == self._attempts
            state = "delivered" if taken else ("failed" if last else "retrying")
            wait = 0.0 if taken or last else retry_delay(attempt, self._schedule)
            await self._store.set_webhook(
                record.id,
                {
                    "id": msg_id,
                    "state": state,
                    "attempts": attempt,
                    "last_answer": answer,
                    "next_attempt_at": round(time.time() + wait, 3) if wait else None,
                },
            )
            if self._observer is not None:
                self._observer.webhook_delivery("delivered" if taken else "failed_attempt")
            if taken:
                return
            if last:
                log.warning("job %s: webhook not taken after %d tries", record.id[:8], attempt)
                if self._observer is not None:
                    self._observer.webhook_delivery("gave_up")
                return
            await asyncio.sleep(wait)

    async def resume(self, records: list[JobRecord], *, overdue: float = 60.0) -> int:
        """Take up the deliveries of finished jobs that nobody is delivering any more (the
        process that was retrying them stopped): those waiting or retrying for more than
        `overdue` seconds past their due time. Returns how many were taken up. Two processes
        that both take one up send the same `webhook-id`, which receivers use to drop repeats."""
        now = time.time()
        taken = 0
        for record in records:
            state = record.webhook or {}
            if not record.done or state.get("state") not in ("waiting", "retrying"):
                continue
            due = state.get("next_attempt_at") or record.finished or now
            if now - float(due) > overdue:
                await self.finished(record)
                taken += 1
        return taken

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._http.aclose()
