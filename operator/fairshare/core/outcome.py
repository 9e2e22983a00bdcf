"""Step 9: the cycle's outcome as ordered decisions (waits with reasons and positions) and per-job charges."""

from __future__ import annotations

from collections.abc import Callable

from fairshare.core import explain
from fairshare.core.cycle import WAIT_CODES, Cause, Cycle, TenantState
from fairshare.core.decisions import Decision, Wait
from fairshare.core.rules import ranked_options


def decisions(cycle: Cycle, status: Callable[[TenantState], str]) -> tuple[Decision, ...]:
    """Preemptions, shrinks, admissions, grows and migrations (each by job key), then waits by tenant and queue
    position; each wait reads '<tenant status>; <n> jobs ahead; <obstacle>'.

    That is also the order to apply them in: capacity is freed before it is handed out.
    """
    preempts = sorted((r.preempted for r in cycle.running if r.preempted), key=lambda d: d.job_key)
    before = {r.job.key: (r.job.allocation.workers if r.job.allocation else 0) for r in cycle.running}
    resizes = [r.resized for r in cycle.running if r.resized and r.preempted is None]
    shrinks = sorted((d for d in resizes if d.workers < before[d.job_key]), key=lambda d: d.job_key)
    grows = sorted((d for d in resizes if d.workers > before[d.job_key]), key=lambda d: d.job_key)
    admits = sorted((p.admitted for p in cycle.pending if p.admitted), key=lambda d: d.job_key)
    migrations = sorted((r.migrated for r in cycle.running if r.migrated), key=lambda d: d.job_key)
    waits: list[Wait] = []
    texts: dict[tuple[object, ...], str] = {}  # waiting jobs mostly wait for the same few reasons
    per_tenant = (Cause.LIMIT, Cause.NONPREEMPTIBLE)  # obstacles whose text reads the tenant's usage
    bid, no_class = Cause.BID, Cause.NO_CLASS
    codes = WAIT_CODES
    for ts in cycle.tenants.values():
        if not ts.queue:
            continue
        line = status(ts)
        position = -1
        for p in ts.queue:
            if p.admitted is not None:
                continue
            position += 1  # jobs ahead of it: 0 = next
            cause = p.cause
            if cause is None:
                cause = Cause.CAPACITY if p.options else Cause.NO_CLASS
                p.note(cause, None)
            if p.cause_class is None and p.options:
                ranked = cycle.ranked.get(p.options) if p.curves is None else None
                p.cause_class = (ranked or ranked_options(cycle, p))[0]
            job = p.job
            # What the obstacle's text reads: always the cause, class and gang; some causes read more.
            key: tuple[object, ...]
            if cause is bid:
                key = (cause, p.cause_class, p.workers, p.gpw, job.max_price_per_gpu_hour)
            elif cause is no_class:
                key = (cause, p.cause_class, p.workers, p.gpw, job.gpu_classes)
            elif cause in per_tenant:
                key = (cause, p.cause_class, p.workers, p.gpw, ts)
            else:
                key = (cause, p.cause_class, p.workers, p.gpw)
            text = texts.get(key)
            if text is None:
                text = texts[key] = explain.cause_text(p)
            if position == 1:
                waits.append(Wait(job.key, f"{line}; 1 job ahead; {text}", position, codes[cause]))
            else:
                waits.append(Wait(job.key, f"{line}; {position} jobs ahead; {text}", position, codes[cause]))
    return (*preempts, *shrinks, *admits, *grows, *migrations, *waits)


def charges(cycle: Cycle) -> dict[str, float]:
    """Price per GPU-hour each job holding GPUs after the cycle pays until the next one, by job key."""
    out = {}
    for r in cycle.running:
        if r.preempted is None and r.nodes:
            if r.resized is not None:
                out[r.job.key] = r.resized.price_per_gpu_hour
            else:
                out[r.job.key] = r.cls.floor if r.opportunistic else r.cls.price
    for p in cycle.pending:
        if p.admitted is not None:
            out[p.job.key] = p.admitted.price_per_gpu_hour
    return dict(sorted(out.items()))
