"""A waiting job's queue status: the entry every writer builds (with its reason code), and which changes are worth
an API write.

Every admission moves every later job up the queue, and the figures in a wait reason (prices, shares, jobs ahead,
even the cheapest class) drift every cycle; writing each change would cost one write per waiting job per cycle,
which at thousands of waiting jobs is most of what the operator sends the API server (measured: 6,468 queue writes
in 40 s with 1,000 jobs of 20 tenants, tests/integration/test_soak.py). So a waiting job's entry is rewritten:
- at once, when the job starts or stops waiting, or becomes or stops being next in line (position 0);
- when its position changes within the first EXACT_POSITIONS otherwise, at most every FRONT_REFRESH_SECONDS (not
  rationed): every admission from a tenant's queue moves each of its first few jobs up by one, so writing each such
  move at once cost up to EXACT_POSITIONS + 1 writes per tenant per cycle, for figures ("2 jobs ahead") that users
  read far less often than they change (position rewrites were 0.39 writes per admission in kueue_harness.py
  --scale 0.1, docs/benchmarks/scale.md);
- otherwise when its position moved by more than POSITION_SLACK of itself, at most every REFRESH_SECONDS (the
  entry's `updatedAt`), or when its reason changed in words, not just in figures, at most every
  REASON_REFRESH_SECONDS. The second limit is there because the cheapest class, and whether a tenant is over or
  under its share, flip from cycle to cycle while prices move: with 5,000 waiting jobs the 30-s limit alone still
  let through ~40,000 rewrites in 10 minutes.
- and those slow rewrites (a job that keeps waiting, its entry rewritten only because its position or reason moved)
  are rationed: at most REFRESHES_PER_CYCLE a cycle, the longest unwritten first (`ration_refreshes`). When a
  queue of thousands shrinks fast (all of it deleted, or a large class coming back) nearly every entry falls due at
  once: 5,000 queued jobs deleted 50 per cycle cost 5,497 such rewrites, about one per job, for positions that were
  gone a minute later (benchmarks/deletion_replay.py, docs/reliability.md). A due entry left out stays due, so it
  is written at a later cycle: no entry starves, and an entry at the front (EXACT_POSITIONS) is never rationed.
Figures, and away from the front even the kind of obstacle, in a stored reason can therefore lag the live ones;
`fairshare explain` computes them afresh. A change of reason code is a change of kind, under the same limit.

Every entry carries `reasonCode`, a stable CamelCase word for columns, alerts and scripts: the core's WAIT_CODES
for the jobs it queues, and the codes below for the jobs held back before the core sees them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from fairshare.api import QueueStatus
from fairshare.control import conditions as cond
from fairshare.control.actions import Action, PatchStatus

# Codes of waits decided outside the core (the core's own: fairshare.core.cycle.WAIT_CODES).
NO_TENANT = "NoTenant"  # no Tenant lists the job's namespace
NO_NODE_FITS = "NoNodeFits"  # no node of any acceptable class can hold one worker (cpu, memory, taints)
BACK_OFF = "BackOff"  # restarting after a worker failure, after a back-off delay
UNSCHEDULABLE = "Unschedulable"  # kube-scheduler could not place an admitted worker; requeued
FOREIGN_POD = "ForeignPod"  # pods the operator did not create took an admitted gang's GPUs; requeued
POD_NAME_TAKEN = "PodNameTaken"  # a pod the operator did not create has the name of a worker the gang needs
HELD_BACK_CODES = (NO_TENANT, NO_NODE_FITS, BACK_OFF, UNSCHEDULABLE, FOREIGN_POD, POD_NAME_TAKEN)

EXACT_POSITIONS = 3
FRONT_REFRESH_SECONDS = 30.0
POSITION_SLACK = 0.2
REFRESH_SECONDS = 30.0
REASON_REFRESH_SECONDS = 300.0
REFRESHES_PER_CYCLE = 20
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def queue_entry(code: str, reason: str, conditions: list[dict[str, Any]], position: int | None = None) \
        -> dict[str, Any]:
    """status.queue as every writer builds it, beside the `conditions` it writes: the reason code is required, so no
    wait is written without one; no position (null, to drop one an earlier wait left) for a job the core does not
    queue; `since`, when the current wait began, is when those conditions' Admitted turned False (a requeue after a
    preemption or a failure starts a new wait). `since` is a plain field so that the `Waiting-Since` printer column is
    a plain JSONPath: a filter over the conditions costs the API server a quarter of a Table's conversion
    (docs/benchmarks/queue.md)."""
    if not code:
        raise ValueError(f"a wait needs a reason code: {reason!r}")
    return QueueStatus.merge_patch(position=position, reason_code=code, reason=reason,
                                   since=cond.false_since(conditions, cond.ADMITTED))


def reason_kind(reason: str | None) -> str:
    """The reason with every number masked: what kind of obstacle it names, not its current figures."""
    return _NUMBER.sub("#", reason or "").replace(" jobs ahead", " job ahead")


def front_move_due(old: int | None, new: int | None, age: float) -> bool:
    """Rule (front moves coalesced): a move within the first EXACT_POSITIONS is written at once when the job becomes
    or stops being next (position 0), and otherwise once its entry is FRONT_REFRESH_SECONDS old (`age`, seconds
    since `updatedAt`), so that a front that moves every cycle costs a write per job every FRONT_REFRESH_SECONDS, not
    one per cycle."""
    return old == 0 or new == 0 or age >= FRONT_REFRESH_SECONDS


def position_moved(old: int | None, new: int | None) -> bool:
    """Whether a queue position changed enough to be written (see the module docstring)."""
    if old is None or new is None:
        return old != new
    if min(old, new) <= EXACT_POSITIONS:
        return old != new
    return abs(new - old) > POSITION_SLACK * old


def _written_at(entry: Mapping[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(entry.get("updatedAt"))).timestamp() if entry.get("updatedAt") else None
    except ValueError:
        return None


def queue_changed(old: Mapping[str, Any] | None, new: Mapping[str, Any], now: float) -> bool:
    """Whether the stored queue entry `old` ({position, reasonCode, reason, updatedAt}) should be replaced by the live
    `new`; an entry without a code (written before codes existed) is replaced at once."""
    return queue_write(old, new, now) is not None


AT_ONCE, REFRESH = "at-once", "refresh"


def queue_write(old: Mapping[str, Any] | None, new: Mapping[str, Any], now: float) -> str | None:
    """Why the stored entry `old` is to be replaced by `new`: AT_ONCE (the job starts or stops being queued by
    position, its entry has no code, or its position changed at the front and front_move_due: it becomes or stops
    being next, or the entry is FRONT_REFRESH_SECONDS old), REFRESH (a slow rewrite: its position or its reason
    moved enough, and the entry is old enough), or None (kept)."""
    if not old or not old.get("reasonCode"):
        return AT_ONCE
    before, after = old.get("position"), new.get("position")
    if (before is None) != (after is None):
        return AT_ONCE
    written = _written_at(old)
    age = now - written if written is not None else float("inf")
    if before != after and min(before or 0, after or 0) <= EXACT_POSITIONS:
        return AT_ONCE if front_move_due(before, after, age) else None
    if age < REFRESH_SECONDS:
        return None
    if not old.get("since"):  # written by an operator before `since` existed: filled in, rationed like any refresh
        return REFRESH
    kind_changed = (old.get("reasonCode") != new.get("reasonCode")
                    or reason_kind(old.get("reason")) != reason_kind(new.get("reason")))
    return REFRESH if position_moved(before, after) or (age >= REASON_REFRESH_SECONDS and kind_changed) else None


@dataclasses.dataclass(frozen=True)
class QueueRefresh(PatchStatus):
    """A waiting job's queue entry rewritten only because it moved (queue_write's REFRESH): rationed per cycle.
    `written_at` is when the entry it replaces was written (Unix seconds; 0 when unknown)."""

    written_at: float = 0.0


def written_at(entry: Mapping[str, Any] | None) -> float:
    """When a stored queue entry was written (its `updatedAt`), 0.0 when it does not say."""
    return (_written_at(entry) or 0.0) if entry else 0.0


def ration_refreshes(actions: Iterable[Action], budget: int = REFRESHES_PER_CYCLE) -> list[Action]:
    """Rule (queue refreshes are rationed): of a cycle's QueueRefresh writes, only the `budget` whose entries were
    written longest ago go out (then by position, front first); every other action is kept, in order. The others
    stay due and go out at a later cycle."""
    actions = list(actions)
    refreshes = sorted((a for a in actions if isinstance(a, QueueRefresh)),
                       key=lambda a: (a.written_at, (a.status.get("queue") or {}).get("position") or 0, a.key))
    kept = {id(a) for a in refreshes[:max(0, budget)]}
    return [a for a in actions if not isinstance(a, QueueRefresh) or id(a) in kept]
