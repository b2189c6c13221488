"""API keys: hashed and revocable (stored ones) or configured (`API_KEY`), each with a role and
its own limits (requests per minute, neurons per UTC day)."""

from flux_remix.keys.hashing import env_key_id
from flux_remix.keys.quota import KeyLimiter
from flux_remix.keys.records import ApiKey, KeyChanges
from flux_remix.keys.ring import KeyRing
from flux_remix.keys.setup import Keys, open_keys

__all__ = ["ApiKey", "KeyChanges", "KeyLimiter", "KeyRing", "Keys", "env_key_id", "open_keys"]
