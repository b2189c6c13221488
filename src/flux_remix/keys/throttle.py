"""`AuthThrottle`: failed authentication is rate limited per client address and per key prefix.

Each failure (a wrong API key, a wrong key on the sign-in page) takes a cell from two GCRA
buckets (the same algorithm and counters as the per-key rate limit, `quota.py`): one for the
client's address and one for the first `PREFIX_CHARS` characters of the key it tried. After a
burst of `FLUX_REMIX_AUTH_FAILURES_PER_MINUTE` failures a bucket allows one more failure every
`60 / limit` seconds; while either bucket is empty every attempt from that address or with that
prefix, right or wrong, is answered 429 with `Retry-After` before the key is even looked at, so
guessing gains nothing from speed. Successful requests count nothing: other clients, and the
same client with its right key before it started failing, are unaffected.

The prefix is kept only as a hash. With `REDIS_URL` the buckets are shared by every replica.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from flux_remix.errors import AuthThrottledError
from flux_remix.keys.quota import Counters

PREFIX_CHARS = 8


def _buckets(address: str | None, key: str | None) -> list[str]:
    names = [f"auth-fail:addr:{address or '-'}"]
    if key:
        digest = hashlib.sha256(key[:PREFIX_CHARS].encode("utf-8", "replace")).hexdigest()[:16]
        names.append(f"auth-fail:prefix:{digest}")
    return names


class AuthThrottle:
    def __init__(
        self, counters: Counters, per_minute: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._counters = counters
        self._per_minute = per_minute
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self._per_minute > 0

    async def check(self, address: str | None, key: str | None) -> None:
        """Before checking a key: `AuthThrottledError` while this address or prefix is resting."""
        if not self.enabled:
            return
        now = self._clock()
        for bucket in _buckets(address, key):
            wait = await self._counters.peek(bucket, self._per_minute, now)
            if wait > 0:
                raise _throttled(wait)

    async def failed(self, address: str | None, key: str | None) -> None:
        """After a failed attempt: count it; `AuthThrottledError` when it emptied a bucket."""
        if not self.enabled:
            return
        now = self._clock()
        waits = [
            await self._counters.take(bucket, self._per_minute, now)
            for bucket in _buckets(address, key)
        ]
        if max(waits) > 0:
            raise _throttled(max(waits))


def _throttled(wait: float) -> AuthThrottledError:
    return AuthThrottledError(
        f"Too many failed authentication attempts; try again in {math.ceil(wait)} s",
        retry_after=wait,
    )
