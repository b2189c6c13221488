"""The Cloudflare account pool: selection, failover, per-account health and the neuron ledger.

policy.py       classify(error) -> Decision, backoff(): pure retry/failover rules
selection.py    pick(): the healthy account with the most neurons left; no_capacity()
state.py        the AccountState interface (health + daily ledger)
memory.py       MemoryState: in-process, persisted to SQLite (default)
redis_state.py  RedisState: shared by replicas through REDIS_URL
pool.py         AccountPool.run(): call, fail over, charge
"""

from flux_remix.accounts.memory import MemoryState
from flux_remix.accounts.policy import Action, Decision, backoff, classify, next_utc_midnight
from flux_remix.accounts.pool import AccountPool, AccountStatus
from flux_remix.accounts.redis_state import RedisState
from flux_remix.accounts.state import AccountState, DayUsage, Failure, Health, state_key

__all__ = [
    "AccountPool",
    "AccountState",
    "AccountStatus",
    "Action",
    "DayUsage",
    "Decision",
    "Failure",
    "Health",
    "MemoryState",
    "RedisState",
    "backoff",
    "classify",
    "next_utc_midnight",
    "state_key",
]
