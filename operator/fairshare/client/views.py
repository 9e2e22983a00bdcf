"""What `fairshare queue` and `fairshare shares` show, from raw API bodies: pending jobs in queue order, and
per-tenant, per-class fair-share factors (as Slurm's squeue and sshare show them)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

PENDING_PHASES = frozenset({None, "Queued"})  # None: created, not yet seen by the operator


@dataclasses.dataclass(frozen=True)
class QueueRow:
    """One waiting job: where it stands in its tenant's queue, why it waits, what it asks for, and since when."""

    namespace: str
    name: str
    tenant: str | None
    position: int | None
    reason_code: str | None
    reason: str | None
    ask: str
    waiting_seconds: float | None


@dataclasses.dataclass(frozen=True)
class ShareRow:
    """One tenant and GPU class: entitlement and holdings per class, usage and spend per tenant."""

    tenant: str
    gpu_class: str
    weight: float | None
    guaranteed: int | None
    fair_share: float | None
    held: int
    share_ratio: float | None
    decayed_usage_gpu_hours: float | None
    spend: float | None
    credits_left: float | None


def timestamp(text: object) -> datetime | None:
    """An RFC 3339 time from the API (`...Z`), or None."""
    if not isinstance(text, str) or not text:
        return None
    return _parse_time(text)


@functools.lru_cache(maxsize=4096)  # thousands of jobs, created and requeued within the same few seconds
def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def waiting_since(job: Mapping[str, Any]) -> datetime | None:
    """When the job started its current wait, from its object (`wait_start`'s rule)."""
    queue = (job.get("status") or {}).get("queue")
    return wait_start(queue.get("since") if isinstance(queue, dict) else None,
                      (job.get("metadata") or {}).get("creationTimestamp"))


def wait_start(since: object, created: object) -> datetime | None:
    """A wait starts when the operator's queue entry says (`status.queue.since`: a requeue after a preemption starts a
    new wait), else, for a job it has not queued yet, at the job's creation."""
    return timestamp(since) or timestamp(created)


def ask_text(spec: Mapping[str, Any]) -> str:
    """`2x4 a100,h100 bid 2.5`: workers (a range when elastic) x GPUs per worker, the classes, the bid."""
    workers = spec.get("workers") or {}
    return ask(workers.get("min"), workers.get("max"), spec.get("gpusPerWorker"), spec.get("gpuClasses"),
               spec.get("maxPricePerGPUHour"))


def ask(low: object, high: object, gpus: object, classes: Iterable[str] | None, bid: object) -> str:
    """`ask_text` of the spec's fields: the workers' range, GPUs per worker, the classes (none = any), the bid."""
    return _ask(low, high, gpus, tuple(classes or ()), bid if isinstance(bid, int | float) else None)


@functools.lru_cache(maxsize=4096)  # a few distinct asks among thousands of jobs
def _ask(low: object, high: object, gpus: object, classes: tuple[str, ...], bid: float | None) -> str:
    size = f"{low}" if low == high else f"{low}-{high}"
    text = f"{size}x{gpus} {','.join(classes) or 'any'}"
    return text + (f" bid {bid:g}" if bid is not None else "")


def pending_rows(jobs: Iterable[Mapping[str, Any]], now: datetime, tenant: str | None = None) -> list[QueueRow]:
    """The waiting jobs among `jobs` (of `tenant` only, when given), in queue order (`in_queue_order`)."""
    rows = []
    for job in jobs:
        status = job.get("status") or {}
        if not is_pending(status.get("phase"), status.get("tenant"), tenant):
            continue
        meta, queue = job.get("metadata") or {}, status.get("queue") or {}
        rows.append(queue_row(meta.get("namespace"), meta.get("name"), status.get("tenant"), queue.get("position"),
                              queue.get("reasonCode"), queue.get("reason"), ask_text(job.get("spec") or {}),
                              waiting_since(job), now))
    return in_queue_order(rows)


def is_pending(phase: object, job_tenant: object, tenant: str | None) -> bool:
    """A job waits while its phase is Queued or not yet set; with `tenant`, only that tenant's jobs are shown."""
    return phase in PENDING_PHASES and (tenant is None or job_tenant == tenant)


def queue_row(namespace: object, name: object, job_tenant: Any, position: Any, code: Any, reason: Any, ask: str,
              since: datetime | None, now: datetime) -> QueueRow:
    """One waiting job's row; it has waited from `since` to `now` (never less than nothing)."""
    return QueueRow(namespace=str(namespace), name=str(name), tenant=job_tenant, position=position, reason_code=code,
                    reason=reason, ask=ask, waiting_seconds=waited(since, now))


def waited(since: datetime | None, now: datetime) -> float | None:
    """Seconds from `since` to `now`, never less than nothing (None: not known)."""
    return None if since is None else max(0.0, (now - since).total_seconds())


def in_queue_order(rows: list[QueueRow]) -> list[QueueRow]:
    """By tenant, then position (jobs without one last), then age: positions count within a tenant's queue, as the
    operator writes them."""
    rows.sort(key=lambda r: (r.tenant is None, r.tenant or "", r.position is None, r.position or 0,
                             -(r.waiting_seconds or 0.0), r.namespace, r.name))
    return rows


def share_rows(tenants: Iterable[Mapping[str, Any]], gpu_classes: Iterable[Mapping[str, Any]]) -> list[ShareRow]:
    """One row per tenant and class it has a guarantee, a fair share or GPUs in (every class when it has none)."""
    class_names = sorted(str((c.get("metadata") or {}).get("name")) for c in gpu_classes)
    rows = []
    for tenant in sorted(tenants, key=lambda t: str((t.get("metadata") or {}).get("name"))):
        spec, status = tenant.get("spec") or {}, tenant.get("status") or {}
        guaranteed, fair, held = (spec.get("guaranteed") or {}), (status.get("fairShare") or {}), \
            (status.get("allocated") or {})
        named = sorted(set(guaranteed) | {c for c, v in fair.items() if v} | {c for c, v in held.items() if v})
        for gpu_class in named or class_names:
            rows.append(ShareRow(
                tenant=str(tenant["metadata"]["name"]), gpu_class=gpu_class, weight=spec.get("weight", 1.0),
                guaranteed=guaranteed.get(gpu_class), fair_share=fair.get(gpu_class),
                held=int(held.get(gpu_class) or 0), share_ratio=status.get("shareRatio"),
                decayed_usage_gpu_hours=status.get("decayedUsageGPUHours"), spend=status.get("spendThisPeriod"),
                credits_left=status.get("creditsLeft")))
    return rows


def duration(seconds: float | None) -> str:
    """A wait as kubectl prints ages: 45s, 12m, 3h20m, 2d4h."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60}m" if s % 3600 >= 60 else f"{s // 3600}h"
    return f"{s // 86400}d{s % 86400 // 3600}h"


def _num(value: float | int | None, fmt: str = "g") -> str:
    return "-" if value is None else format(value, fmt)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell, as kubectl prints them."""
    cells = [headers, *rows]
    widths = [max(map(len, column)) for column in zip(*cells, strict=True)]
    line = "   ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(line.format(*row).rstrip() for row in cells)


def queue_table(rows: Sequence[QueueRow], wide: bool = False, namespaces: bool = True) -> str:
    """`fairshare queue`'s output; REASON is the reason code, or the reason's words where the operator writes no
    code; `wide` adds the full reason."""
    headers = [*(["NAMESPACE"] if namespaces else []), "NAME", "TENANT", "POSITION", "REASON", "ASK", "WAITING"]
    if wide:
        headers.append("MESSAGE")
    out = []
    for r in rows:
        short = r.reason_code or (r.reason or "-")
        if not r.reason_code and not wide and len(short) > 60:
            short = short[:57] + "..."
        line = [*([r.namespace] if namespaces else []), r.name, r.tenant or "-", _num(r.position), short, r.ask,
                duration(r.waiting_seconds)]
        if wide:
            line.append(r.reason or "-")
        out.append(line)
    return table(headers, out)


def shares_table(rows: Sequence[ShareRow]) -> str:
    """`fairshare shares`'s output: HELD/FAIRSHARE per class; RATIO, USAGE, SPEND and CREDITS-LEFT per tenant."""
    headers = ["TENANT", "CLASS", "WEIGHT", "GUARANTEED", "FAIRSHARE", "HELD", "RATIO", "USAGE-GPUH", "SPEND",
               "CREDITS-LEFT"]
    return table(headers, ([r.tenant, r.gpu_class, _num(r.weight), _num(r.guaranteed), _num(r.fair_share, ".2f"),
                            str(r.held), _num(r.share_ratio, ".2f"), _num(r.decayed_usage_gpu_hours, ".1f"),
                            _num(r.spend, ".2f"), _num(r.credits_left, ".2f")] for r in rows))


def now_utc() -> datetime:
    return datetime.now(UTC)
