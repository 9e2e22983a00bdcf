"""TrainingJobs read as the API server's Table of printer columns: the fields the queue view needs, not the objects.

A waiting job's object is 2.5 KB of JSON (half of it `managedFields`); the queue view reads 14 of its fields. The
TrainingJob CRD prints each of them as a column (`kubectl get tj -o wide` shows them), so a LIST asked for as a Table
with `includeObject=None` brings ~370 bytes a job, and each row's cells go through the same rules (`views`) as an
object's fields, straight into a queue row. The CRD also declares `.status.phase` selectable, so the API server leaves
out the jobs that no longer wait. A CRD older than these (the chart not yet upgraded) is met by reading what it serves:
the objects, every phase.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic_core import from_json

from fairshare.client import views
from fairshare.client.errors import ApiError
from fairshare.client.transport import Transport
from fairshare.client.views import QueueRow

# Every phase but Queued (fairshare.api.jobstatus.Phase; a unit test checks): the API server leaves these out. A job
# the operator has not seen yet has no phase, and an absent field selects as "", so it is kept.
SETTLED_PHASES = ("Admitted", "Running", "Preempted", "Succeeded", "Failed")
WAITING_SELECTOR = ",".join(f"status.phase!={phase}" for phase in SETTLED_PHASES)

# Printer column name -> where its value sits in a TrainingJob body (`rows_from_table` takes them in this order).
# `Name` is the column every Table starts with.
QUEUE_COLUMNS: dict[str, tuple[str, ...]] = {
    "Name": ("metadata", "name"),
    "Namespace": ("metadata", "namespace"),
    "Created": ("metadata", "creationTimestamp"),
    "Min-Workers": ("spec", "workers", "min"),
    "Max-Workers": ("spec", "workers", "max"),
    "GPUs/Worker": ("spec", "gpusPerWorker"),
    "Classes": ("spec", "gpuClasses"),
    "Bid": ("spec", "maxPricePerGPUHour"),
    "Tenant": ("status", "tenant"),
    "Phase": ("status", "phase"),
    "Position": ("status", "queue", "position"),
    "Reason": ("status", "queue", "reasonCode"),
    "Message": ("status", "queue", "reason"),
    "Waiting-Since": ("status", "queue", "since"),
}


def missing_columns(columns: Sequence[str]) -> list[str]:
    """The queue view's columns that a Table lacks (its CRD predates them), in QUEUE_COLUMNS' order."""
    have = set(columns)
    return [name for name in QUEUE_COLUMNS if name not in have]


def rows_from_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], now: datetime,
                    tenant: str | None = None) -> list[QueueRow]:
    """The queue rows of a TrainingJob Table's waiting jobs (of `tenant` only, when given), unordered: each row's
    cells go through the same rules as an object's fields in `views.pending_rows` (an empty cell is a null field).
    A ValueError names the columns the queue view needs that the Table lacks."""
    missing = missing_columns(columns)
    if missing:
        raise ValueError(f"the TrainingJob CRD prints no column {', '.join(missing)} (install the current CRDs)")
    pick = operator.itemgetter(*(columns.index(name) for name in QUEUE_COLUMNS))
    # Thousands of jobs share a few asks, and jobs queued within the same second have waited as long: each is worked
    # out once. The API server's cells are scalars or null (each is converted to its column's type), so they key a dict.
    asks: dict[tuple[Any, ...], str] = {}
    waits: dict[tuple[Any, Any], float | None] = {}
    out = []
    for cells in rows:
        (name, namespace, created, low, high, gpus, printed_classes, bid, job_tenant, phase, position, code, reason,
         since) = pick(cells)
        if not views.is_pending(phase, job_tenant, tenant):
            continue
        ask = asks.get(ask_key := (low, high, gpus, printed_classes, bid))
        if ask is None:
            gpu_classes = printed_class_list(printed_classes) if isinstance(printed_classes, str) else None
            ask = asks[ask_key] = views.ask(low, high, gpus, gpu_classes, bid)
        if (wait_key := (since, created)) not in waits:
            waits[wait_key] = views.waited(views.wait_start(since, created), now)
        out.append(QueueRow(namespace=str(namespace), name=str(name), tenant=job_tenant, position=position,
                            reason_code=code, reason=reason, ask=ask, waiting_seconds=waits[wait_key]))
    return out


def printed_class_list(printed: str) -> list[str]:
    """The `Classes` cell as a list: the API server prints the array as JSON; anything else it printed (a cell that
    is no JSON array of names) is shown as it was printed, never a failure of the whole view."""
    try:
        parsed = from_json(printed)
    except ValueError:
        return [printed]
    if isinstance(parsed, list):
        return [str(name) for name in parsed]
    return [str(parsed)]


def waiting_rows(api: Transport, path: str, now: datetime, tenant: str | None, limit: int) -> list[QueueRow]:
    """The queue rows of the TrainingJobs under `path` that wait (of `tenant` only, when given), unordered: read from
    the Table, or from each job's whole object, in pages of `limit`, where the CRD predates the queue columns. The
    Table comes in one piece (5.5 MB at 15,000 jobs): pages measured no faster (docs/benchmarks/queue.md)."""
    query: dict[str, str] | None = {"fieldSelector": WAITING_SELECTOR}
    try:
        columns, rows = api.table(path, query)
    except ApiError as err:
        if err.status != 400:  # 400: `field label not supported`, a CRD without selectableFields (Kubernetes < 1.31)
            raise
        query = None
        columns, rows = api.table(path, query)
    if missing_columns(columns):
        return views.pending_rows(api.list(path, query, limit), now, tenant)
    return rows_from_table(columns, rows, now, tenant)
