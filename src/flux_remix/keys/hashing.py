"""API keys as secrets: how they are made, and the only form in which they are kept.

A key is `fxr_` + 32 random bytes (base64url), made by `secrets`; the prefix lets secret
scanners and the log redactor recognise one. What is stored is HMAC-SHA256(pepper, key):

- The keys carry 256 bits of randomness, so a stolen digest cannot be reversed by guessing;
  a slow password hash (scrypt, Argon2) would only add ~50 ms of CPU to every request.
- The pepper is a per-deployment secret that is not in the database
  (`FLUX_REMIX_KEY_PEPPER`, else a random one kept in `<data dir>/key-pepper`). Someone who can
  read *or write* the database still cannot mint a key that passes: they would need the pepper.
- Checking a key is one HMAC and one dictionary lookup by digest. The digest is a keyed hash
  the caller cannot predict, so the lookup's timing says nothing about any stored key.

Keys from `API_KEY` / `ADMIN_API_KEY` are hashed the same way in memory at start-up; their
ids (`key_` + 12 hex of SHA-256) are the ones history rows have always carried.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flux_remix.settings import Settings
from flux_remix.stored_secret import stored_secret

PREFIX = "fxr_"
PEPPER_FILE = "key-pepper"


def new_key() -> str:
    """A fresh API key (shown once to whoever creates it, never stored)."""
    return PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    """A public id for a stored key (in URLs, history rows and logs); says nothing of the key."""
    return "key_" + secrets.token_hex(6)


def env_key_id(key: str) -> str:
    """The id of a key configured in `API_KEY` / `ADMIN_API_KEY`."""
    return "key_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


class KeyHasher:
    def __init__(self, pepper: bytes) -> None:
        self._pepper = pepper

    def digest(self, key: str) -> str:
        return hmac.new(self._pepper, key.encode("utf-8"), hashlib.sha256).hexdigest()


def load_pepper(settings: Settings) -> bytes:
    """`FLUX_REMIX_KEY_PEPPER`, else a random pepper kept in the data directory."""
    if settings.key_pepper is not None:
        return hashlib.sha256(settings.key_pepper.get_secret_value().encode()).digest()
    return stored_secret(settings.data_dir / PEPPER_FILE)
