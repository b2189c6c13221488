"""`KeyRing`: every key this server accepts, looked up by digest, refreshed without a restart.

The ring holds the keys from `API_KEY` / `ADMIN_API_KEY` and a snapshot of the stored keys.
The snapshot is re-read from the database at most once per `REFRESH_SECONDS`, and at once after
a change made through this ring, so a key revoked on one replica (or with the CLI) stops working
everywhere within a second, and at once on the replica that revoked it. A key the snapshot does
not know re-reads it too (at most every `MISS_REFRESH_SECONDS`, so guessing keys cannot load the
database), so a key made elsewhere works here within `MISS_REFRESH_SECONDS`.

Auth is on while any key is configured or has ever been stored: revoking the last stored key
does not open the server to everyone (it stays locked, after a restart too: a key revoked because
it leaked must never leave the server open). `auth_state()` says which it is, in one line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from flux_remix.errors import NotFoundError, RequestError, StorageError
from flux_remix.keys.hashing import KeyHasher, env_key_id, new_key, new_key_id
from flux_remix.keys.records import ApiKey, KeyChanges
from flux_remix.keys.store import KeyStore
from flux_remix.settings import Settings

log = logging.getLogger("flux_remix.keys")
REFRESH_SECONDS = 1.0
MISS_REFRESH_SECONDS = 0.2  # an unknown key re-reads the list at most this often


def env_keys(settings: Settings, hasher: KeyHasher) -> list[ApiKey]:
    """The configured keys, hashed; a key in both lists is an admin key."""
    found: dict[str, ApiKey] = {}
    for secrets, admin in ((settings.admin_api_keys, True), (settings.api_keys, False)):
        for i, secret in enumerate(secrets, start=1):
            key = secret.get_secret_value()
            digest = hasher.digest(key)
            if digest in found:
                continue
            label = f"{'ADMIN_API_KEY' if admin else 'API_KEY'} #{i}"
            found[digest] = ApiKey(env_key_id(key), label, admin, digest, source="env")
    return list(found.values())


class KeyRing:
    def __init__(
        self,
        settings: Settings,
        store: KeyStore,
        hasher: KeyHasher,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._env = env_keys(settings, hasher)
        self._stored: list[ApiKey] = []
        self._by_digest: dict[str, ApiKey] = {k.digest: k for k in self._env}
        self._by_id: dict[str, ApiKey] = {k.id: k for k in self._env}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def auth_enabled(self) -> bool:
        """Keys are required: some are configured, or some were ever stored (even if revoked)."""
        return bool(self._env or self._stored)

    @property
    def usable(self) -> bool:
        """Some key works: one is configured, or a stored one is not revoked."""
        return bool(self._env) or any(not k.revoked for k in self._stored)

    def auth_state(self) -> str:
        """The true auth state in one line (the start-up log, `keys create`, `keys revoke`)."""
        if not self.auth_enabled:
            return (
                "auth is off: API_KEY is not set and no key is stored, so every route is open "
                "to anyone"
            )
        active = sum(1 for k in self._stored if not k.revoked)
        revoked = len(self._stored) - active
        stored = f"{active} active stored key(s)" + (f", {revoked} revoked" if revoked else "")
        configured = f"{len(self._env)} configured key(s) (API_KEY, ADMIN_API_KEY)"
        state = f"auth is on: {configured}; {stored}" if self._env else f"auth is on: {stored}"
        if not self.usable:
            state += (
                "; no key works, so every request is refused until `flux-remix keys create` "
                "makes one or API_KEY is set (revoking keys never opens a server)"
            )
        return state

    async def refresh(self, *, force: bool = False) -> None:
        """Re-read the stored keys when the snapshot is older than `REFRESH_SECONDS`."""
        if not force and self._clock() - self._loaded_at < REFRESH_SECONDS:
            return
        async with self._lock:
            if not force and self._clock() - self._loaded_at < REFRESH_SECONDS:
                return
            try:
                stored = await self._store.all()
            except StorageError as exc:
                log.warning("could not re-read the API keys (keeping the last list): %s", exc)
                self._loaded_at = self._clock()
                return
            self._install(stored)

    def _install(self, stored: list[ApiKey]) -> None:
        active = [k for k in stored if not k.revoked]
        self._stored = stored
        self._by_digest = {k.digest: k for k in (*active, *self._env)}
        self._by_id = {k.id: k for k in (*active, *self._env)}
        self._loaded_at = self._clock()

    async def identify(self, key: str) -> ApiKey | None:
        """The active key `key` is, or None."""
        digest = self._hasher.digest(key)
        await self.refresh()
        found = self._by_digest.get(digest)
        if found is None and await self._refresh_for_miss():
            found = self._by_digest.get(digest)
        return found

    async def active(self, key_id: str) -> ApiKey | None:
        """The active key with this id (a sign-in session's key), or None."""
        await self.refresh()
        found = self._by_id.get(key_id)
        if found is None and await self._refresh_for_miss():
            found = self._by_id.get(key_id)
        return found

    async def _refresh_for_miss(self) -> bool:
        """Re-read the stored keys for an unknown key, unless that was done just now."""
        if self._clock() - self._loaded_at < MISS_REFRESH_SECONDS:
            return False
        await self.refresh(force=True)
        return True

    def get(self, key_id: str) -> ApiKey | None:
        """The active key with this id from the current snapshot (no database read)."""
        return self._by_id.get(key_id)

    async def keys(self) -> list[ApiKey]:
        """Every key: the configured ones, then the stored ones (revoked too), oldest first."""
        await self.refresh(force=True)
        return [*self._env, *self._stored]

    async def create(
        self,
        label: str,
        *,
        admin: bool = False,
        rate_limit: int | None = None,
        daily_neurons: float | None = None,
    ) -> tuple[str, ApiKey]:
        """A new stored key: `(the key itself, shown only now; its record)`."""
        secret = new_key()
        record = ApiKey(
            id=new_key_id(),
            label=label,
            admin=admin,
            digest=self._hasher.digest(secret),
            rate_limit=rate_limit,
            daily_neurons=daily_neurons,
            created_us=time.time_ns() // 1000,
        )
        await self._store.insert(record)
        await self.refresh(force=True)
        return secret, record

    async def change(self, key_id: str, changes: KeyChanges) -> ApiKey:
        self._refuse_env(key_id, "changed; its limits are the server defaults")
        record = await self._store.change(key_id, changes)
        if record is None:
            raise NotFoundError(f"No stored key with id {key_id}")
        await self.refresh(force=True)
        return record

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke a stored key; it stops working at once here, within a second elsewhere."""
        self._refuse_env(key_id, "revoked here; remove it from API_KEY / ADMIN_API_KEY")
        record = await self._store.revoke(key_id, time.time_ns() // 1000)
        if record is None:
            raise NotFoundError(f"No stored key with id {key_id}")
        await self.refresh(force=True)
        log.info("API key %s (%s) revoked", record.id, record.label)
        return record

    def _refuse_env(self, key_id: str, what: str) -> None:
        if any(k.id == key_id for k in self._env):
            raise RequestError(f"Key {key_id} comes from the environment and cannot be {what}")
