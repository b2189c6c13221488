"""Generation jobs that outlive a process: a durable queue, per-job event logs, workers.

The store (`store.JobStore`; SQLite embedded, or Redis Streams shared by every replica) holds
each job's record and numbered events; `Workers` run jobs under renewed leases; `follow`
reads a job's events from any id, on any replica. The store is also the webhooks' outbox,
which `webhooks.Webhooks` (in every process with workers) delivers from, so a pending delivery
survives its process and any replica makes it. See docs/deploy.md for operating it.
"""

from flux_remix.jobs.follow import follow, outcome
from flux_remix.jobs.records import Claim, JobEvent, JobRecord, QueueStats
from flux_remix.jobs.setup import open_job_store
from flux_remix.jobs.store import JobStore
from flux_remix.jobs.workers import Runner, Workers

__all__ = [
    "Claim",
    "JobEvent",
    "JobRecord",
    "JobStore",
    "QueueStats",
    "Runner",
    "Workers",
    "follow",
    "open_job_store",
    "outcome",
]
