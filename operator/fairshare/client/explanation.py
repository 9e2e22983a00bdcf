"""A TrainingJob's placement, wait or preemption in words, from its status, its tenant's and its Events (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _line(label: str, value: object) -> str:
    return f"  {label + ':':<18}{value}"


def explain_text(job: Mapping[str, Any], tenant: Mapping[str, Any] | None, events: Sequence[Mapping[str, Any]]) -> str:
    """The explanation from the job's status, its tenant's status and the job's Events (newest last)."""
    meta, spec, status = job["metadata"], job.get("spec") or {}, job.get("status") or {}
    workers = spec.get("workers") or {}
    size = f"{workers.get('min')}" if workers.get("min") == workers.get("max") else \
        f"{workers.get('min')}-{workers.get('max')}"
    lines = [f"TrainingJob {meta['namespace']}/{meta['name']}: {status.get('phase') or 'not yet seen by the operator'}",
             _line("asks for", f"{size} worker(s) x {spec.get('gpusPerWorker')} GPU(s) on "
                               f"{', '.join(spec.get('gpuClasses') or []) or 'any class'}"
                               + (f", bid {spec['maxPricePerGPUHour']} credits/GPU-hour"
                                  if spec.get("maxPricePerGPUHour") is not None else ""))]
    if status.get("tenant"):
        lines.append(_line("tenant", status["tenant"]))
    queue, alloc = status.get("queue") or {}, status.get("allocation") or {}
    if queue.get("reason"):
        code = f"{queue['reasonCode']}: " if queue.get("reasonCode") else ""
        ahead = queue.get("position")
        position = "" if ahead is None else \
            f"{ahead} job{'' if ahead == 1 else 's'} ahead in its tenant's queue (0 = next); "
        lines.append(_line("waiting", code + position + queue["reason"]))
    if alloc.get("gpuClass") and status.get("phase") in ("Admitted", "Running"):
        how = "on idle capacity (preemptible)" if alloc.get("opportunistic") else "within its tenant's share"
        starting = "; not charged until every worker runs" if status.get("phase") == "Admitted" else ""
        lines.append(_line("holds", f"{alloc.get('workers')} x {alloc.get('gpuClass')} ({alloc.get('gpus')} GPUs) "
                                    f"on {', '.join(alloc.get('nodes') or [])}, {how}, at "
                                    f"{alloc.get('pricePerGPUHour')} credits/GPU-hour since {alloc.get('admittedAt')}"
                                    + starting))
    elif alloc.get("gpuClass") and status.get("phase") == "Preempted":
        lines.append(_line("releasing", f"{alloc.get('gpus')} {alloc.get('gpuClass')} GPUs: its workers are stopping "
                                        f"(it holds nothing in the accounting)"))
    failure = status.get("lastFailure") or {}
    if failure.get("reason"):
        retry = f"; not admitted again before {failure['retryAfter']}" if failure.get("retryAfter") else ""
        lines.append(_line("last failure", f"{failure['reason']}: {failure.get('message', '')} (worker "
                                           f"{failure.get('worker')}, at {failure.get('at')}){retry}"))
    if status.get("restarts") is not None or failure.get("reason"):
        limit = ((spec.get("runPolicy") or {}).get("backoffLimit"))
        lines.append(_line("restarts", f"{status.get('restarts') or 0} of runPolicy.backoffLimit "
                                       f"{3 if limit is None else limit}"))
    if (status.get("progress") or {}).get("totalSteps"):
        lines.append(_line("progress", progress_text(status["progress"])))
    for sample in status.get("throughput") or []:
        lines.append(_line("measured", f"{sample['samplesPerSecond']} samples/s on {sample['workers']} x "
                                       f"{sample['gpuClass']} (at {sample['measuredAt']})"))
    cost = status.get("cost") or {}
    if cost.get("credits") is not None:
        lines.append(_line("cost", f"{cost['credits']} credits, {cost.get('gpuHours')} GPU-hours, "
                                   f"{cost.get('energyKWh')} kWh"))
    for condition in status.get("conditions") or []:
        lines.append(_line(f"{condition['type']}={condition['status']}",
                           f"{condition.get('reason', '')}: {condition.get('message', '')}"))
    tstatus = (tenant or {}).get("status") or {}
    if tenant is not None:
        share = ", ".join(f"{c} {v}" for c, v in sorted((tstatus.get("fairShare") or {}).items())) or "none"
        held = ", ".join(f"{c} {v}" for c, v in sorted((tstatus.get("allocated") or {}).items())) or "nothing"
        ratio = tstatus.get("shareRatio")
        lines.append(_line("tenant share", f"{share} GPUs; holds {held}"
                                           + (f" (at {ratio:.2f}x its fair share)" if ratio is not None else "")
                                           + (f"; {tstatus['creditsLeft']} credits left this period"
                                              if tstatus.get("creditsLeft") is not None else "")))
    for event in events[-5:]:
        lines.append(_line(f"event {event.get('reason', '')}", event.get("message", "")))
    return "\n".join(lines)


def progress_text(progress: Mapping[str, Any]) -> str:
    """'42.5% (step 850 of 2000), 1.30 steps/s, about 14m25s left (until ...)' from status.progress."""
    text = f"{progress.get('percent')}% (step {progress.get('step')} of {progress.get('totalSteps')})"
    if progress.get("stepsPerSecond"):
        text += f", {progress['stepsPerSecond']} steps/s"
    if progress.get("remaining"):
        text += f", about {progress['remaining']} left (until {progress.get('estimatedCompletionTime')})"
    return text + f"; read at {progress.get('updatedAt')}"
