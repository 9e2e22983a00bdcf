"""Throughput feedback, pure: which trainers to read, and how a reading becomes the job's smoothed status.

A reading counts only for the allocation it was read for (same generation and GPU class) and only once the
allocation is past its warm-up (start-up, data loading and the first compiled steps are not its speed). The
status keeps one smoothed sample per (class, workers): the core's performance model for that job.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from fairshare.api import Phase, ThroughputSample, TrainingJobStatus
from fairshare.control import conditions as cond
from fairshare.control.actions import Action, PatchStatus
from fairshare.control.progress import progress_status
from fairshare.control.snapshot import JobView, World
from fairshare.control.store import TRAINING_JOBS
from fairshare.core.throughput import estimate, index_throughputs, smooth
from fairshare.feedback.readings import Reading, Target

METRICS_PORT_NAME = "metrics"


def pod_metrics_endpoint(pod: Mapping[str, Any]) -> str | None:
    """Rule: the operator reads a trainer only at the IP its pod was given (status.podIP, which only the kubelet
    writes) and the `metrics` port the operator itself put in the pod's spec, and only for pods it created (the
    caller passes JobView.current_pods). No label or annotation ever names a host to read."""
    ip = (pod.get("status") or {}).get("podIP")
    for container in pod.get("spec", {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == METRICS_PORT_NAME and ip:
                return f"{ip}:{port['containerPort']}"
    return None


def job_target(view: JobView) -> Target | None:
    """The rank-0 trainer of a Running job whose whole gang is running, else None."""
    status = view.model.status if view.model else None
    alloc = status.allocation if status else None
    if view.phase is not Phase.RUNNING or alloc is None or not alloc.gpu_class or not alloc.admitted_at:
        return None
    pods = view.current_pods()
    if not pods or len(pods) != (alloc.workers or 0):
        return None
    if any((p.get("status") or {}).get("phase") != "Running" for p in pods):
        return None
    return Target(job_key=view.key, generation=view.generation, gpu_class=alloc.gpu_class, workers=alloc.workers or 0,
                  admitted_at=alloc.admitted_at.timestamp(), endpoint=pod_metrics_endpoint(pods[0]))


def feedback_targets(world: World) -> list[Target]:
    """Every job to read, with what its readings are checked against (core.throughput.implausible_throughput)."""
    classes = {c.name: c for c in world.snapshot.classes}
    curves = index_throughputs(world.snapshot.throughputs)
    targets = []
    for _, view in sorted(world.jobs.items()):
        try:
            target = job_target(view)
        except Exception:  # a job the plan cannot read either: it sets the job aside and reports it
            continue
        if target is None:
            continue
        job_curves = curves.get(target.job_key)
        smoothed = dict((job_curves or {}).get(target.gpu_class, ())).get(target.workers)
        gpu_class = classes.get(target.gpu_class)
        expected = estimate(job_curves, gpu_class, target.workers, classes) if job_curves and gpu_class else None
        targets.append(dataclasses.replace(target, smoothed=smoothed, expected=expected))
    return targets


def usable(view: JobView, reading: Reading, warmup_seconds: float) -> Target | None:
    """The target a reading speaks for, if it still describes the job's current allocation past its warm-up."""
    target = job_target(view)
    if target is None or reading.generation != target.generation:
        return None
    if reading.gpu_class is not None and reading.gpu_class != target.gpu_class:
        return None
    if reading.observed_at < target.admitted_at + warmup_seconds or not math.isfinite(reading.samples_per_second):
        return None
    return target


def smoothed_samples(previous: Iterable[Mapping[str, Any]], target: Target, reading: Reading,
                     alpha: float) -> tuple[list[dict[str, Any]], float] | None:
    """The status.throughput list with this reading folded into its (class, workers) entry, and the new value;
    None when that entry already holds this reading or a newer one."""
    samples = [dict(s) for s in previous]
    for sample in samples:
        if sample.get("gpuClass") == target.gpu_class and sample.get("workers") == target.workers:
            measured_at = datetime.fromisoformat(str(sample["measuredAt"]).replace("Z", "+00:00")).timestamp()
            if measured_at >= math.floor(reading.observed_at):
                return None
            value = smooth(float(sample["samplesPerSecond"]), reading.samples_per_second, alpha)
            sample.update(ThroughputSample.merge_patch(samples_per_second=round(value, 4),
                                                      measured_at=cond.rfc3339(reading.observed_at)))
            return samples, value
    value = reading.samples_per_second
    samples.append(ThroughputSample.merge_patch(gpu_class=target.gpu_class, workers=target.workers,
                                                samples_per_second=round(value, 4),
                                                measured_at=cond.rfc3339(reading.observed_at)))
    samples.sort(key=lambda s: (s["gpuClass"], s["workers"]))
    return samples, value


def feedback_actions(world: World, readings: Mapping[str, Reading], alpha: float, warmup_seconds: float,
                     skip: set[str]) -> list[Action]:
    """Status patches folding fresh readings into each job's measured throughput, its progress (control/progress.py)
    and its checkpoint time."""
    actions: list[Action] = []
    for key, reading in sorted(readings.items()):
        view = world.jobs.get(key)
        if key in skip or view is None or view.model is None or view.model.status is None:
            continue
        target = usable(view, reading, warmup_seconds)
        if target is None:
            continue
        current = view.body.get("status") or {}
        folded = smoothed_samples(current.get("throughput") or [], target, reading, alpha)
        if folded is None:
            continue
        samples, value = folded
        patch = TrainingJobStatus.merge_patch(throughput=samples, samples_per_second=round(value, 4))
        progress = progress_status(current.get("progress") if isinstance(current.get("progress"), dict) else None,
                                   reading.step, reading.total_steps, reading.observed_at, target.admitted_at, alpha)
        if progress is not None:
            patch.update(TrainingJobStatus.merge_patch(progress=progress))
        if reading.last_checkpoint_step is not None and reading.last_checkpoint_step >= 0 \
                and reading.checkpoint_age_seconds is not None:
            patch.update(TrainingJobStatus.merge_patch(
                last_checkpoint_time=cond.rfc3339(reading.observed_at - reading.checkpoint_age_seconds)))
        actions.append(PatchStatus(TRAINING_JOBS, key, patch, view.body["metadata"].get("resourceVersion")))
    return actions
