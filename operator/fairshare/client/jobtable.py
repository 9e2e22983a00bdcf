"""TrainingJobs read as the API server's Table of printer columns: the fields the queue view needs, not the objects.

A waiting job's object is 2.5 KB of JSON (half of it `managedFields`); the queue view reads 15 of its fields. The
TrainingJob CRD prints each of them as a column (`kubectl get tj -o wide` shows them), so a LIST asked for as a Table
with `includeObject=None` brings ~370 bytes a job, and each row becomes a job body of those fields for `views`. The
CRD also declares `.status.phase` selectable, so the API server leaves out the jobs that no longer wait. A CRD older
than these (the chart not yet upgraded) is met by reading what it serves: the objects, every phase.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic_core import from_json

from fairshare.client.errors import ApiError
from fairshare.client.transport import Transport

ADMITTED = "Admitted"
# Every phase but Queued (fairshare.api.jobstatus.Phase; a unit test checks): the API server leaves these out. A job
# the operator has not seen yet has no phase, and an absent field selects as "", so it is kept.
SETTLED_PHASES = ("Admitted", "Running", "Preempted", "Succeeded", "Failed")
WAITING_SELECTOR = ",".join(f"status.phase!={phase}" for phase in SETTLED_PHASES)

# Printer column name -> where its value sits in a TrainingJob body (`job_from_cells` takes them in this order).
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
    "Admitted": ("status", "conditions", ADMITTED, "status"),
    "Since": ("status", "conditions", ADMITTED, "lastTransitionTime"),
}


def missing_columns(columns: Sequence[str]) -> list[str]:
    """The queue view's columns that a Table lacks (its CRD predates them), in QUEUE_COLUMNS' order."""
    have = set(columns)
    return [name for name in QUEUE_COLUMNS if name not in have]


def job_from_cells(cells: Sequence[Any], classes: dict[str, list[str]]) -> dict[str, Any]:
    """One row, its cells in QUEUE_COLUMNS' order, as a TrainingJob body of the printed fields; an empty cell is a
    null field (`views` reads null and absent alike), and the Admitted condition's cells become a `conditions`
    entry. `classes` caches the parsed `Classes` lists (a few distinct ones among thousands of jobs)."""
    (name, namespace, created, low, high, gpus, printed_classes, bid, tenant, phase, position, code, reason,
     admitted, since) = cells
    gpu_classes = None
    if isinstance(printed_classes, str):
        if printed_classes not in classes:
            classes[printed_classes] = from_json(printed_classes)
        gpu_classes = list(classes[printed_classes])
    condition = [] if admitted is None and since is None else [
        {"type": ADMITTED, "status": admitted, "lastTransitionTime": since}]
    return {"metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
            "spec": {"workers": {"min": low, "max": high}, "gpusPerWorker": gpus, "gpuClasses": gpu_classes,
                     "maxPricePerGPUHour": bid},
            "status": {"tenant": tenant, "phase": phase, "conditions": condition,
                       "queue": {"position": position, "reasonCode": code, "reason": reason}}}


def jobs_from_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Each row of a TrainingJob Table as a job body of the printed fields; a ValueError naming the missing columns
    when the Table lacks some the queue view needs."""
    missing = missing_columns(columns)
    if missing:
        raise ValueError(f"the TrainingJob CRD prints no column {', '.join(missing)} (install the current CRDs)")
    pick = operator.itemgetter(*(columns.index(name) for name in QUEUE_COLUMNS))
    classes: dict[str, list[str]] = {}
    return [job_from_cells(pick(cells), classes) for cells in rows]


def waiting_jobs(api: Transport, path: str, limit: int) -> list[dict[str, Any]]:
    """The TrainingJobs under `path` that may be waiting, as bodies of the printed fields read from the Table (each
    job's whole object, in pages of `limit`, where the CRD predates the queue columns); `views.pending_rows` makes
    the final choice. The Table comes in one piece (5.5 MB at 15,000 jobs): pages measured no faster
    (docs/benchmarks/queue.md)."""
    query: dict[str, str] | None = {"fieldSelector": WAITING_SELECTOR}
    try:
        columns, rows = api.table(path, query)
    except ApiError as err:
        if err.status != 400:  # 400: `field label not supported`, a CRD without selectableFields (Kubernetes < 1.31)
            raise
        query = None
        columns, rows = api.table(path, query)
    if missing_columns(columns):
        return [dict(job) for job in api.list(path, query, limit)]
    return jobs_from_table(columns, rows)
