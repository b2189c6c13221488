"""The Redis job store: every replica's routes and workers share it (`REDIS_URL` set).

    P = REDIS_PREFIX + "jobs:"
    P rec:<id>     hash    the job record (status, owner, lease token, request, result …)
    P ev:<id>      stream  its events, stream ids 0-1, 0-2 … (the SSE ids; read from any id)
    P q:<owner>    list    the key's queued jobs, in order
    P ring         list    keys with queued jobs, in the order they get their next turn
    P stream       stream  work for the consumer group `workers`: one entry per running job
    P bell         stream  doorbells: one per submission or hand-back (capped), wakes idle workers
    P hub:<id>     stream  wakes one process's event hub (event_hub.py) when a follower comes
    P active[:<owner>] set queued + running jobs (the per-key limit and global capacity)
    P all          zset    every job by creation time (listing), P runs: recent run times
    P hooks        zset    the webhook outbox: jobs whose delivery is pending, by next attempt

Fair order: a submission queues the job on its key's list and rings the doorbell. A process
with free worker slots (woken by the doorbell, or looking after a job finished) runs one
script that moves the next jobs round robin by key from the lists onto the work stream and
reads them at once as its own (`XREADGROUP`), so the stream only ever holds work a worker
has taken.
A job entry stays pending in the group while it runs; its worker's heartbeat renews the
record's lease and resets the entry's idle time (`XCLAIM` to itself). A worker that dies stops
both, and another process's `XAUTOCLAIM` takes the entry, and with it the job, over once it has
been idle for a lease. Every write checks the lease token in a script, so a worker that was
taken over cannot add to the job after its successor started.
Finished jobs expire after the retention time (record and events).

Webhooks: the script that finishes a job with a `webhook_url` also adds it to `hooks`, due at
once, and keeps its record until the delivery settles (then it expires after the retention
time). A deliverer claims due ones in a script that moves each one's score to the end of its
lease and writes its token into the record (`hook_token`); recording the attempt's outcome
checks that token, so a deliverer whose lease lapsed (another took the delivery over) writes
nothing. The attempts and last outcome are the record's `webhook` state.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from flux_remix.errors import JobConflictError
from flux_remix.ids import new_id
from flux_remix.jobs.event_hub import EventHub
from flux_remix.jobs.fairness import wait_estimate
from flux_remix.jobs.records import LOST, Claim, EventKind, JobEvent, JobRecord, QueueStats, Status
from flux_remix.jobs.store import HookClaim, Renewal, job_limit, queue_full

GROUP = "workers"
MAX_EVENTS = 1000  # per job; older events are trimmed (a job has about n + 5)
RECENT_RUNS = 20
STATS_TTL = 2.0  # seconds the worker-slot and run-time figures are reused for estimates

# shared by the scripts: add an event; finish a job (final status, ack its work entry, expire)
_PRELUDE = """
local function add_event(rec, ev, kind, data, maxlen)
  local seq = redis.call('HINCRBY', rec, 'seq', 1)
  redis.call('XADD', ev, 'MAXLEN', maxlen, '0-' .. seq, 'k', kind, 'd', data)
  return seq
end
local function finish(rec, ev, stream, runs, p, id, kind, data, status, now, retention, maxlen)
  add_event(rec, ev, kind, data, maxlen)
  local field = 'error'
  if kind == 'result' then field = 'result' end
  redis.call('HSET', rec, 'status', status, 'finished', now, field, data)
  redis.call('HDEL', rec, 'token', 'lease')
  local entry = redis.call('HGET', rec, 'entry')
  if entry then
    redis.call('XACK', stream, 'workers', entry)
    redis.call('XDEL', stream, entry)
  end
  local owner = redis.call('HGET', rec, 'owner')
  redis.call('SREM', p .. 'active:' .. owner, id)
  redis.call('SREM', p .. 'active', id)
  local started = redis.call('HGET', rec, 'started')
  if status == 'succeeded' and started then
    redis.call('LPUSH', runs, tonumber(now) - tonumber(started))
    redis.call('LTRIM', runs, 0, 19)
  end
  redis.call('EXPIRE', rec, retention)
  redis.call('EXPIRE', ev, retention)
  if redis.call('HEXISTS', rec, 'webhook_url') == 1 then  -- into the webhook outbox
    redis.call('ZADD', p .. 'hooks', 'NX', now, id)
    redis.call('PERSIST', rec)
  end
end
"""

# KEYS: rec ev q ring bell; ARGV: id owner per_key capacity prefix event_head slots mean_run
#       created maxlen field value …
_SUBMIT = """
local p = ARGV[5]
if redis.call('SCARD', p .. 'active:' .. ARGV[2]) >= tonumber(ARGV[3]) then return -1 end
if redis.call('SCARD', p .. 'active') >= tonumber(ARGV[4]) then return -2 end
redis.call('HSET', KEYS[1], unpack(ARGV, 11))
local n = redis.call('RPUSH', KEYS[3], ARGV[1])
if n == 1 then redis.call('RPUSH', KEYS[4], ARGV[2]) end
redis.call('SADD', p .. 'active:' .. ARGV[2], ARGV[1])
redis.call('SADD', p .. 'active', ARGV[1])
redis.call('ZADD', p .. 'all', ARGV[9], ARGV[1])
local turns = n
local pos = turns
for _, o in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do
  if o ~= ARGV[2] then pos = pos + math.min(redis.call('LLEN', p .. 'q:' .. o), turns) end
end
local wait = 'null'
if ARGV[8] ~= '' then
  local rounds = math.ceil(pos / tonumber(ARGV[7]))
  wait = tostring(math.floor(rounds * tonumber(ARGV[8]) * 10 + 0.5) / 10)
end
local data = ARGV[6] .. '"position":' .. pos .. ',"wait_s":' .. wait .. '}'
add_event(KEYS[1], KEYS[2], 'stage', data, ARGV[10])
redis.call('HSET', KEYS[1], 'stage', 'queued')
redis.call('XADD', KEYS[5], 'MAXLEN', '~', 100, '*', 'bell', '1')
return {pos, wait}
"""

# KEYS: ring stream; ARGV: prefix slots lease_until now consumer token… — one round trip from
# free slots to held jobs: move the next jobs round robin by key onto the work stream, read
# them as this consumer (they stay pending in the group while they run) and hold them.
# Answers token, record (HGETALL) pairs.
_CLAIM = """
local p, slots = ARGV[1], tonumber(ARGV[2])
local fed = 0
while fed < slots do
  local owner = redis.call('LMOVE', KEYS[1], KEYS[1], 'LEFT', 'RIGHT')
  if not owner then break end
  local q = p .. 'q:' .. owner
  local id = redis.call('LPOP', q)
  if redis.call('LLEN', q) == 0 then redis.call('LREM', KEYS[1], -1, owner) end
  if id then
    redis.call('XADD', KEYS[2], '*', 'job', id)
    fed = fed + 1
  end
end
local out = {}
if fed == 0 then return out end
local reply = redis.call('XREADGROUP', 'GROUP', 'workers', ARGV[5], 'COUNT', fed,
                         'STREAMS', KEYS[2], '>')
if not reply then return out end
for _, entry in ipairs(reply[1][2]) do
  local eid, id = entry[1], entry[2][2]
  local rec = p .. 'rec:' .. id
  if redis.call('HGET', rec, 'status') == 'queued' then
    local token = ARGV[6 + #out / 2]
    redis.call('HSET', rec, 'status', 'running', 'token', token, 'lease', ARGV[3], 'entry', eid)
    redis.call('HSETNX', rec, 'started', ARGV[4])
    redis.call('HINCRBY', rec, 'attempts', 1)
    out[#out + 1] = token
    out[#out + 1] = redis.call('HGETALL', rec)
  else
    redis.call('XACK', KEYS[2], 'workers', eid)
    redis.call('XDEL', KEYS[2], eid)
  end
end
return out
"""

# KEYS: rec ev stream runs; ARGV: token lease_until now entry max_attempts failure retention
#       prefix id maxlen takeover — start a delivered job, or take over one whose lease lapsed
_HOLD = """
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'running' and ARGV[11] == '1' then
  if tonumber(redis.call('HGET', KEYS[1], 'lease') or '0') >= tonumber(ARGV[3]) then
    return 'busy'
  end
  if tonumber(redis.call('HGET', KEYS[1], 'attempts')) >= tonumber(ARGV[5]) then
    finish(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[8], ARGV[9], 'failure', ARGV[6], 'failed',
           ARGV[3], ARGV[7], ARGV[10])
    return 'failed'
  end
elseif status ~= 'queued' then
  return 'gone'
end
redis.call('HSET', KEYS[1], 'status', 'running', 'token', ARGV[1], 'lease', ARGV[2],
           'entry', ARGV[4])
redis.call('HSETNX', KEYS[1], 'started', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return redis.call('HGETALL', KEYS[1])
"""

# KEYS: rec stream; ARGV: token lease_until consumer
_RENEW = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 'lost' end
redis.call('HSET', KEYS[1], 'lease', ARGV[2])
local entry = redis.call('HGET', KEYS[1], 'entry')
if entry then redis.call('XCLAIM', KEYS[2], 'workers', ARGV[3], 0, entry, 'JUSTID') end
if redis.call('HGET', KEYS[1], 'cancel') == '1' then return 'cancel' end
return 'ok'
"""

# KEYS: rec ev stream runs; ARGV: token kind data status now retention prefix id maxlen stage
#       [before_data before_stage]… — stage events written first
_APPEND = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 'lost' end
for i = 11, #ARGV, 2 do
  add_event(KEYS[1], KEYS[2], 'stage', ARGV[i], ARGV[9])
  redis.call('HSET', KEYS[1], 'stage', ARGV[i + 1])
end
if ARGV[4] ~= '' then
  finish(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[7], ARGV[8], ARGV[2], ARGV[3], ARGV[4],
         ARGV[5], ARGV[6], ARGV[9])
  return 'ok'
end
add_event(KEYS[1], KEYS[2], ARGV[2], ARGV[3], ARGV[9])
if ARGV[2] == 'stage' then redis.call('HSET', KEYS[1], 'stage', ARGV[10]) end
if redis.call('HGET', KEYS[1], 'cancel') == '1' then return 'cancel' end
return 'ok'
"""

# KEYS: rec ev q ring stream bell; ARGV: token owner data maxlen
_HAND_BACK = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
local entry = redis.call('HGET', KEYS[1], 'entry')
if entry then
  redis.call('XACK', KEYS[5], 'workers', entry)
  redis.call('XDEL', KEYS[5], entry)
end
redis.call('HSET', KEYS[1], 'status', 'queued', 'stage', 'queued')
redis.call('HDEL', KEYS[1], 'token', 'lease', 'entry')
add_event(KEYS[1], KEYS[2], 'stage', ARGV[3], ARGV[4])
local id = redis.call('HGET', KEYS[1], 'id')
if redis.call('LPUSH', KEYS[3], id) == 1 then redis.call('LPUSH', KEYS[4], ARGV[2]) end
redis.call('XADD', KEYS[6], 'MAXLEN', '~', 100, '*', 'bell', '1')
return 1
"""

# KEYS: rec ev q ring stream runs; ARGV: failure now retention prefix id maxlen owner
_CANCEL = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'queued' and status ~= 'running' then return status end
redis.call('HSET', KEYS[1], 'cancel', '1')
if status == 'queued' then
  redis.call('LREM', KEYS[3], 0, ARGV[5])
  if redis.call('LLEN', KEYS[3]) == 0 then redis.call('LREM', KEYS[4], 0, ARGV[7]) end
  finish(KEYS[1], KEYS[2], KEYS[5], KEYS[6], ARGV[4], ARGV[5], 'failure', ARGV[1], 'cancelled',
         ARGV[2], ARGV[3], ARGV[6])
end
return 'ok'
"""


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _owner(owner: str | None) -> str:
    return owner or "-"


class RedisJobStore:
    """`redis` is the shared client; `blocking` a second client for reads that wait (the event
    hub's, an idle worker's), so that they never hold up the shared pool."""

    def __init__(self, redis: Redis, blocking: Redis, prefix: str, *, retention: float) -> None:
        # redis-py's reply types are unions of every shape; the replies here are bytes
        self._r: Any = redis
        self._block: Any = blocking
        self._p = prefix + "jobs:"
        self._retention = int(retention)
        self._stream = self._p + "stream"
        self._bell = self._p + "bell"
        self._bell_seen = "0-0"  # the last doorbell this process woke on
        self._submit = redis.register_script(_PRELUDE + _SUBMIT)
        self._claim = redis.register_script(_CLAIM)
        self._hold = redis.register_script(_PRELUDE + _HOLD)
        self._renew = redis.register_script(_RENEW)
        self._append = redis.register_script(_PRELUDE + _APPEND)
        self._hand_back = redis.register_script(_PRELUDE + _HAND_BACK)
        self._cancel = redis.register_script(_PRELUDE + _CANCEL)
        self._figures: tuple[float, int, list[float]] = (0.0, 1, [])
        self._claimed_at = 0.0
        self._drained = False  # the last claim left nothing queued
        # followers wait through one read per process (P hub:<id> is its wake stream)
        self._hub = EventHub(blocking.client(), redis, f"{self._p}hub:{new_id(8)}")

    async def open(self) -> RedisJobStore:
        try:
            await self._r.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        return self

    def _rec(self, job_id: str) -> str:
        return f"{self._p}rec:{job_id}"

    def _ev(self, job_id: str) -> str:
        return f"{self._p}ev:{job_id}"

    def _q(self, owner: str | None) -> str:
        return f"{self._p}q:{_owner(owner)}"

    # --- reading -----------------------------------------------------------------------------

    async def get(self, job_id: str, *, estimate: bool = True) -> JobRecord | None:
        raw = await self._r.hgetall(self._rec(job_id))
        if not raw:
            return None
        record = _record(raw)
        if record.status == "queued" and estimate:
            await self._estimate(record)
        return record

    async def _estimate(self, record: JobRecord) -> None:
        queues: dict[str, list[bytes]] = {}
        ring = await self._r.lrange(self._p + "ring", 0, -1)
        async with self._r.pipeline(transaction=False) as pipe:
            for owner in ring:
                pipe.lrange(f"{self._p}q:{owner.decode()}", 0, -1)
            lists = await pipe.execute()
        for owner, ids in zip(ring, lists, strict=True):
            queues[owner.decode()] = ids
        own = queues.get(_owner(record.owner), [])
        mine = record.id.encode()
        index = own.index(mine) if mine in own else 0
        turns = index + 1
        record.position = turns + sum(
            min(len(ids), turns) for o, ids in queues.items() if o != _owner(record.owner)
        )
        _, slots, runs = await self._figures_now()
        record.wait_s = wait_estimate(record.position, slots, runs)

    async def _figures_now(self) -> tuple[float, int, list[float]]:
        at = self._figures[0]
        now = time.monotonic()
        if now - at < STATS_TTL:
            return self._figures
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._p + "workers")
            pipe.lrange(self._p + "runs", 0, RECENT_RUNS - 1)
            workers, recent = await pipe.execute()
        seen = time.time() - 60
        slots = sum(
            int(v.split(b":")[0]) for v in workers.values() if float(v.split(b":")[1]) > seen
        )
        gone = [w for w, v in workers.items() if float(v.split(b":")[1]) < seen - 3600]
        if gone:  # processes that stopped an hour ago and more
            await self._r.hdel(self._p + "workers", *gone)
        self._figures = (now, max(1, slots), [float(r) for r in recent])
        return self._figures

    async def events(self, job_id: str, after: int = 0) -> list[JobEvent]:
        entries = await self._r.xrange(self._ev(job_id), min=f"({_sid(after)}")
        return [_event(eid, fields) for eid, fields in entries]

    async def wait(self, job_id: str, after: int, block: float) -> list[JobEvent]:
        if block <= 0:
            return await self.events(job_id, after)
        # the hub's read answers at once when the stream already holds newer events
        entries = await self._hub.wait(self._ev(job_id), max(0, after), block)
        return [_event(eid, fields) for eid, fields in entries]

    async def list_jobs(
        self, *, status: str | None = None, owner: str | None = None, limit: int = 50
    ) -> list[JobRecord]:
        ids = await self._r.zrevrange(self._p + "all", 0, max(limit * 10, 200))
        async with self._r.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(self._rec(job_id.decode()))
            rows = await pipe.execute()
        gone = [job_id for job_id, row in zip(ids, rows, strict=True) if not row]
        if gone:
            await self._r.zrem(self._p + "all", *gone)
        records = [_record(row) for row in rows if row]
        matching = [
            r
            for r in records
            if (status is None or r.status == status) and (owner is None or r.owner == owner)
        ]
        return matching[:limit]

    async def stats(self) -> QueueStats:
        ring = await self._r.lrange(self._p + "ring", 0, -1)
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.scard(self._p + "active")
            for owner in ring:
                pipe.llen(f"{self._p}q:{owner.decode()}")
            active, *lengths = await pipe.execute()
        queued = sum(lengths)
        _, slots, _ = await self._figures_now()
        return QueueStats({"queued": queued, "running": max(0, active - queued)}, slots)

    # --- writing -----------------------------------------------------------------------------

    async def submit(
        self, record: JobRecord, queued: dict[str, Any], *, per_key: int, capacity: int
    ) -> JobRecord:
        _, slots, runs = await self._figures_now()
        mean = f"{sum(runs) / len(runs):.3f}" if runs else ""  # the script estimates the wait
        head = dumps({"stage": "queued", **queued})[:-1] + ","
        fields = {
            "id": record.id,
            "owner": _owner(record.owner),
            "status": "queued",
            "request": dumps(record.request),
            "base_url": record.base_url,
            "created": repr(record.created),
            "attempts": "0",
            "seq": "0",
            "cancel": "0",
        }
        if record.webhook_url:
            fields["webhook_url"] = record.webhook_url
        if record.webhook:
            fields["webhook"] = dumps(record.webhook)
        flat = [part for pair in fields.items() for part in pair]
        owner = _owner(record.owner)
        keys = [self._rec(record.id), self._ev(record.id), self._q(record.owner)]
        keys += [self._p + "ring", self._bell]
        args: list[str | int] = [record.id, owner, per_key, capacity, self._p, head, slots, mean]
        answer = await self._submit(
            keys=keys, args=[*args, repr(record.created), MAX_EVENTS, *flat]
        )
        if answer == -1:
            raise job_limit(per_key)
        if answer == -2:
            raise queue_full()
        position, wait = answer  # as the queued event says them
        return dataclasses.replace(
            record,
            status="queued",
            stage="queued",
            position=position,
            wait_s=None if wait == b"null" else float(wait),
        )

    async def claim(
        self, worker: str, slots: int, *, block: float, lease: float, max_attempts: int
    ) -> list[Claim]:
        claims: list[Claim] = []
        now = time.monotonic()
        if now - self._claimed_at > lease / 2:  # look for work whose worker stopped
            self._claimed_at = now
            _, entries, _ = await self._r.xautoclaim(
                self._stream, GROUP, worker, int(lease * 1000), "0-0", count=slots
            )
            claims += await self._take(entries, worker, lease, max_attempts, takeover=True)
        if len(claims) < slots and (not self._drained or block <= 0):
            claims += await self._claim_now(worker, slots - len(claims), lease)
        if not claims and block > 0:  # wait for a doorbell: a submission or a hand-back
            reply = await self._block.xread(
                {self._bell: self._bell_seen}, count=100, block=int(block * 1000)
            )
            rung = [eid for _, entries in reply or [] for eid, _ in entries]
            if rung:
                self._bell_seen = rung[-1].decode()
                claims += await self._claim_now(worker, slots, lease)
        return claims

    async def _claim_now(self, worker: str, slots: int, lease: float) -> list[Claim]:
        tokens = [f"{worker}:{new_id(6)}" for _ in range(slots)]
        now = time.time()
        args: list[str | int] = [self._p, slots, repr(now + lease), repr(now), worker, *tokens]
        out = await self._claim(keys=[self._p + "ring", self._stream], args=args)
        # fewer than asked: the queue was empty, so the next claim waits for a doorbell first
        # (any submission since the last one this process read rings it: nothing is missed)
        self._drained = len(out) < 2 * slots
        return [
            Claim(_record(dict(zip(flat[::2], flat[1::2], strict=True))), token.decode())
            for token, flat in zip(out[::2], out[1::2], strict=True)
        ]

    async def _take(
        self,
        entries: list[tuple[bytes, dict[bytes, bytes]]],
        worker: str,
        lease: float,
        max_attempts: int,
        *,
        takeover: bool,
    ) -> list[Claim]:
        claims: list[Claim] = []
        for eid, fields in entries:
            job = fields.get(b"job")
            if job is None:  # a doorbell, or an entry deleted meanwhile
                await self._done_with(eid)
                continue
            job_id = job.decode()
            token = f"{worker}:{new_id(6)}"
            now = time.time()
            outcome = await self._hold(
                keys=[self._rec(job_id), self._ev(job_id), self._stream, self._p + "runs"],
                args=[
                    token,
                    repr(now + lease),
                    repr(now),
                    eid,
                    max_attempts,
                    dumps(LOST),
                    self._retention,
                    self._p,
                    job_id,
                    MAX_EVENTS,
                    "1" if takeover else "0",
                ],
            )
            if isinstance(outcome, list):  # held: the record, as a flat field/value list
                record = _record(dict(zip(outcome[::2], outcome[1::2], strict=True)))
                claims.append(Claim(record, token, takeover))
            elif outcome == b"gone":
                await self._done_with(eid)
        return claims

    async def _done_with(self, eid: bytes) -> None:
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.xack(self._stream, GROUP, eid)
            pipe.xdel(self._stream, eid)
            await pipe.execute()

    def wake(self) -> None:
        return None  # a blocked XREADGROUP returns within its block time (CLAIM_WAIT)

    async def renew(self, job_id: str, token: str, lease: float) -> Renewal:
        worker = token.rsplit(":", 1)[0]
        outcome = await self._renew(
            keys=[self._rec(job_id), self._stream], args=[token, repr(time.time() + lease), worker]
        )
        return cast(Renewal, outcome.decode())

    async def append(
        self,
        job_id: str,
        token: str,
        kind: EventKind,
        data: dict[str, Any],
        status: Status | None = None,
        *,
        before: Sequence[dict[str, Any]] = (),
    ) -> Renewal:
        outcome = await self._append(
            keys=[self._rec(job_id), self._ev(job_id), self._stream, self._p + "runs"],
            args=[
                token,
                kind,
                dumps(data),
                status or "",
                repr(time.time()),
                self._retention,
                self._p,
                job_id,
                MAX_EVENTS,
                str(data.get("stage", "")),
                *(part for e in before for part in (dumps(e), str(e.get("stage", "")))),
            ],
        )
        return cast(Renewal, outcome.decode())

    async def hand_back(self, job_id: str, token: str, reason: str) -> bool:
        record = await self.get(job_id)
        if record is None:
            return False
        keys = [self._rec(job_id), self._ev(job_id), self._q(record.owner)]
        keys += [self._p + "ring", self._stream, self._bell]
        data = dumps({"stage": "queued", "reason": reason})
        done = await self._hand_back(
            keys=keys, args=[token, _owner(record.owner), data, MAX_EVENTS]
        )
        return bool(done)

    async def cancel(self, job_id: str, failure: dict[str, Any]) -> JobRecord:
        record = await self.get(job_id)
        if record is None:
            raise JobConflictError("No such job")
        keys = [self._rec(job_id), self._ev(job_id), self._q(record.owner)]
        keys += [self._p + "ring", self._stream, self._p + "runs"]
        outcome = await self._cancel(
            keys=keys,
            args=[
                dumps(failure),
                repr(time.time()),
                self._retention,
                self._p,
                job_id,
                MAX_EVENTS,
                _owner(record.owner),
            ],
        )
        if outcome != b"ok":
            raise JobConflictError(f"The job has already {outcome.decode()}; nothing to cancel")
        if record.webhook_url and record.status == "queued" and self._webhook_wake:
            self._webhook_wake()  # it ended here: its delivery is due now
        updated = await self.get(job_id)
        assert updated is not None
        return updated

    async def set_webhook(self, job_id: str, state: dict[str, Any]) -> None:
        await self._r.hset(self._rec(job_id), "webhook", dumps(state))

    async def register(self, worker: str, slots: int) -> None:
        await self._r.hset(self._p + "workers", worker, f"{slots}:{time.time():.0f}")

    async def recover(self) -> None:
        return None  # another process's XAUTOCLAIM takes over what a dead one held

    async def ping(self) -> None:
        await self._r.xinfo_groups(self._stream)

    async def close(self) -> None:
        await self._hub.close()
        await self._block.aclose()

    # --- the webhook outbox (scripts at the end of the module) ---------------------------------

    _webhook_wake: Callable[[], None] | None = None

    @cached_property
    def _claim_hooks(self) -> Any:
        return self._r.register_script(_CLAIM_HOOKS)

    @cached_property
    def _record_hook(self) -> Any:
        return self._r.register_script(_RECORD_HOOK)

    async def claim_webhooks(
        self, deliverer: str, limit: int, *, lease: float
    ) -> tuple[list[HookClaim], float | None]:
        now = time.time()
        tokens = [f"{deliverer}:{new_id(6)}" for _ in range(limit)]
        args: list[str | int] = [self._p, repr(now), repr(now + lease), limit, *tokens]
        held, upcoming = await self._claim_hooks(keys=[self._p + "hooks"], args=args)
        claims = [
            HookClaim(_record(dict(zip(flat[::2], flat[1::2], strict=True))), token.decode())
            for token, flat in zip(held[::2], held[1::2], strict=True)
        ]
        return claims, float(upcoming) if upcoming else None

    async def record_webhook(
        self, job_id: str, token: str, state: dict[str, Any], due: float | None
    ) -> bool:
        keys = [self._p + "hooks", self._rec(job_id), self._ev(job_id)]
        args = [job_id, token, dumps(state), "" if due is None else repr(due), self._retention]
        return bool(await self._record_hook(keys=keys, args=args))

    def on_webhook(self, wake: Callable[[], None]) -> None:
        self._webhook_wake = wake  # called on cancels; jobs that workers finish wake it too


def _sid(event_id: int) -> str:
    return f"0-{max(0, event_id)}"


def _event(eid: bytes, fields: dict[bytes, bytes]) -> JobEvent:
    kind = cast(EventKind, fields[b"k"].decode())
    return JobEvent(int(eid.split(b"-")[1]), kind, json.loads(fields[b"d"]))


def _record(raw: dict[bytes, bytes]) -> JobRecord:
    row = {k.decode(): v.decode() for k, v in raw.items()}

    def number(name: str) -> float | None:
        value = row.get(name)
        return float(value) if value else None

    def loaded(name: str) -> Any:
        value = row.get(name)
        return json.loads(value) if value else None

    owner = row["owner"]
    return JobRecord(
        id=row["id"],
        owner=None if owner == "-" else owner,
        request=json.loads(row["request"]),
        base_url=row["base_url"],
        created=float(row["created"]),
        status=cast(Status, row["status"]),
        stage=row.get("stage") or None,
        started=number("started"),
        finished=number("finished"),
        attempts=int(row.get("attempts", "0")),
        worker=row["token"].rsplit(":", 1)[0] if row.get("token") else None,
        cancel_requested=row.get("cancel") == "1",
        webhook_url=row.get("webhook_url") or None,
        webhook=loaded("webhook"),
        result=loaded("result"),
        error=loaded("error"),
    )


# --- the webhook outbox ----------------------------------------------------------------------

# KEYS: hooks; ARGV: prefix now lease_until limit token… — hold the due deliveries (score: the
# lease's end; the record's hook_token: the holder); answers {token, record…}, next due score
_CLAIM_HOOKS = """
local out = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(due) do
  local rec = ARGV[1] .. 'rec:' .. id
  if redis.call('EXISTS', rec) == 0 then
    redis.call('ZREM', KEYS[1], id)
  else
    local token = ARGV[5 + #out / 2]
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    redis.call('HSET', rec, 'hook_token', token)
    out[#out + 1] = token
    out[#out + 1] = redis.call('HGETALL', rec)
  end
end
local upcoming = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {out, upcoming[2] or false}
"""

# KEYS: hooks rec ev; ARGV: id token state due retention — an attempt's outcome, by its holder;
# due '' settles the delivery: out of the outbox, and the job expires after the retention time
_RECORD_HOOK = """
if redis.call('HGET', KEYS[2], 'hook_token') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], 'webhook', ARGV[3])
redis.call('HDEL', KEYS[2], 'hook_token')
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  redis.call('EXPIRE', KEYS[3], ARGV[5])
else
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
end
return 1
"""
