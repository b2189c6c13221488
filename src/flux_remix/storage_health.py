"""`StorageHealth`: whether image writes are failing, so no upstream call is paid for in vain.

The service reports each stored image (`succeeded`) and each storage failure (`failed`). While
writes are known to fail (a full disk, an object store refusing puts), a generation asks
`ensure()` before it calls Cloudflare and is refused with a `StorageError` (503) instead of paying
for an image it could not keep. `ensure()` and `/readyz` try a tiny write (`probe`, at most once
per `PROBE_EVERY` seconds from `ensure`) and clear the flag as soon as one succeeds.

It lives beside the storage package and only observes it: the stores themselves are unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from flux_remix.errors import StorageError

PROBE_EVERY = 1.0  # seconds between write probes made on a generation's behalf
PROBE_BLOB = "f" * 32 + ".png"  # a well-formed key no image has


class StorageHealth:
    def __init__(
        self,
        probe: Callable[[], Awaitable[None]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._clock = clock
        self.failing: str | None = None  # why writes fail; None while they work
        self._probed_at = float("-inf")

    def succeeded(self) -> None:
        self.failing = None

    def failed(self) -> None:
        self.failing = "the last image write failed"  # the store's own text names paths

    async def probe(self) -> bool:
        """Try a tiny write now; True (and the flag cleared) when it worked."""
        self._probed_at = self._clock()
        try:
            await self._probe()
        except (StorageError, OSError):
            self.failing = "a test write failed"
            return False
        self.failing = None
        return True

    async def ensure(self) -> None:
        """Before paying for an upstream call: `StorageError` while writes are known to fail."""
        if self.failing is None:
            return
        if self._clock() - self._probed_at >= PROBE_EVERY and await self.probe():
            return
        raise StorageError(
            f"Image storage is failing writes ({self.failing}); nothing was sent to Cloudflare. "
            "Try again once it is fixed"
        )
