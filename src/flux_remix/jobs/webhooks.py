"""Webhooks: POST a finished job's JSON to the URL its request named, signed the Standard
Webhooks way, retried until it is taken.

Each delivery carries `webhook-id` (the same on every attempt, so a receiver can drop repeats),
`webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`),
signed by the `standardwebhooks` package with `FLUX_REMIX_WEBHOOK_SECRET` (or a secret
generated once in the data directory). A non-2xx answer or none is retried soon, then after
about 5 s, 30 s, and backing off to an hour, up to `FLUX_REMIX_WEBHOOK_ATTEMPTS` tries; each
try's outcome is kept in the job's `webhook` state.

Deliveries are durable and any replica makes them: the job store is the outbox (a job that
ends with a webhook gets its delivery in the same write, see `store.JobStore.claim_webhooks`),
and `Webhooks`, the deliverer that runs in every process with workers, claims due deliveries
under a lease, sends them and records each outcome and the next attempt's time. A process
that stops (or dies) leaves its pending deliveries in the outbox: another process's deliverer,
or its own after a restart, takes them up when they are due (or, for one it held when it died,
once its lease lapsed), with the same `webhook-id`; two deliverers never send the same attempt
at once.

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
from flux_remix.jobs.store import HookClaim, JobStore
from flux_remix.jobs.workers import worker_name
from flux_remix.settings import Settings
from flux_remix.stored_secret import stored_secret

log = logging.getLogger("flux_remix.jobs")

SECRET_FILE = "webhook-secret"  # noqa: S105 (a file name)
SCHEDULE = (1.0, 5.0, 30.0, 300.0, 1800.0, 3600.0)  # seconds before try 2, 3, 4 …; then hourly
TIMEOUT = 10.0  # seconds for one attempt's answer
LEASE = 60.0  # seconds a claimed delivery is held: well above an attempt's TIMEOUT
POLL = 2.0  # seconds between looks at the outbox for deliveries due (or left by others)
CONCURRENCY = 16  # attempts under way at once per process
GRACE = 3.0  # seconds attempts under way may finish at shutdown


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
    """The deliverer: sends the outbox's due deliveries, a few at a time, and records each
    attempt's outcome and the next one's time in the store. `wake` it when a delivery was
    added in this process; otherwise it looks every `poll` seconds (sooner when the next
    retry it knows of is due sooner). `aclose` gives attempts under way `grace` seconds and
    hands the rest back to the outbox, due at once, for the next deliverer."""

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
        lease: float = LEASE,
        poll: float = POLL,
        concurrency: int = CONCURRENCY,
        grace: float = GRACE,
    ) -> None:
        self.name = worker_name()
        self._store = store
        self._render = render
        self._signer = Webhook(secret)
        self._attempts = attempts
        self._schedule = schedule
        self._observer = observer
        self._lease = lease
        self._poll = poll
        self._concurrency = concurrency
        self._grace = grace
        self._http = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, transport=transport)
        self._bell = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False

    async def __aenter__(self) -> Webhooks:
        self._store.on_webhook(self.wake)
        self._loop = asyncio.create_task(self._deliver_due(), name="webhooks")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def wake(self) -> None:
        """A delivery was added: look at the outbox now."""
        self._bell.set()

    def sign(self, msg_id: str, at: datetime, body: str) -> dict[str, str]:
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": self._signer.sign(msg_id, at, body),
            "content-type": "application/json",
            "user-agent": "flux-remix-webhooks",
        }

    async def _deliver_due(self) -> None:
        while not self._stopping:
            self._bell.clear()
            free = self._concurrency - len(self._sending)
            if free <= 0:
                await self._bell.wait()  # rung when an attempt ends
                continue
            try:
                claims, upcoming = await self._store.claim_webhooks(
                    self.name, free, lease=self._lease
                )
            except Exception as exc:  # the store is unreachable: look again shortly
                log.warning("claiming webhook deliveries failed (%s)", type(exc).__name__)
                await self._nap(self._poll)
                continue
            for claim in claims:
                task = asyncio.create_task(self._send(claim), name=f"webhook-{claim.record.id[:8]}")
                self._sending.add(task)
                task.add_done_callback(self._sent)
            if self._stopping:
                break
            wait = self._poll if upcoming is None else upcoming - time.time()
            await self._nap(min(self._poll, max(0.0, wait)))

    async def _nap(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._bell.wait(), seconds)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        self._bell.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook delivery failed", exc_info=task.exception())

    async def _send(self, claim: HookClaim) -> None:
        record = claim.record
        before = record.webhook or {"state": "waiting", "attempts": 0}
        try:
            await self._attempt(claim, before)
        except asyncio.CancelledError:  # shutdown: the delivery stays in the outbox, due now
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    self._store.record_webhook(record.id, claim.token, before, time.time())
                )
            raise

    async def _attempt(self, claim: HookClaim, before: dict[str, Any]) -> None:
        record = claim.record
        if not record.webhook_url:
            await self._store.record_webhook(record.id, claim.token, before, None)
            return
        msg_id = f"msg_{record.id}"
        attempt = int(before.get("attempts", 0)) + 1
        body = json.dumps(self._render(record), ensure_ascii=False, separators=(",", ":"))
        headers = self.sign(msg_id, datetime.now(tz=UTC), body)
        try:
            async with asyncio.timeout(TIMEOUT):  # in all: a try must end well within its lease
                response = await self._http.post(record.webhook_url, content=body, headers=headers)
            answer: int | str = response.status_code
            taken = response.is_success
        except (httpx.HTTPError, TimeoutError) as exc:
            answer, taken = f"no answer ({type(exc).__name__})", False
        last = attempt >= self._attempts
        state = "delivered" if taken else ("failed" if last else "retrying")
        due = None if taken or last else time.time() + retry_delay(attempt, self._schedule)
        outcome = {
            "id": msg_id,
            "state": state,
            "attempts": attempt,
            "last_answer": answer,
            "next_attempt_at": round(due, 3) if due else None,
        }
        if not await self._store.record_webhook(record.id, claim.token, outcome, due):
            log.warning("job %s: webhook attempt %d outlasted its lease", record.id[:8], attempt)
        if self._observer is not None:
            self._observer.webhook_delivery("delivered" if taken else "failed_attempt")
        if state == "failed":
            log.warning("job %s: webhook not taken after %d tries", record.id[:8], attempt)
            if self._observer is not None:
                self._observer.webhook_delivery("gave_up")

    async def aclose(self) -> None:
        self._stopping = True
        self._bell.set()
        if self._loop is not None:
            await asyncio.wait({self._loop}, timeout=TIMEOUT)
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=self._grace)
        sending = list(self._sending)
        for task in sending:
            task.cancel()
        await asyncio.gather(*sending, return_exceptions=True)
        await self._http.aclose()
