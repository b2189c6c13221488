"""The Cloudflare account pool: selection, failover and per-account health."""

from flux_remix.accounts.policy import Action, Decision, backoff, classify, next_utc_midnight
from flux_remix.accounts.pool import AccountPool, AccountStatus

__all__ = [
    "AccountPool",
    "AccountStatus",
    "Action",
    "Decision",
    "backoff",
    "classify",
    "next_utc_midnight",
]
