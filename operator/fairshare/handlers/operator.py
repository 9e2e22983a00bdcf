"""The kopf registrations: startup (settings, initial LIST, metrics, the loop), one event handler per kind."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from typing import Any

import kopf
from prometheus_client import start_http_server

from fairshare.api.constants import GROUP, PLURAL_GPU_CLASSES, PLURAL_TENANTS, PLURAL_TRAINING_JOBS, VERSION
from fairshare.control.loop import LoopSettings, SchedulingLoop
from fairshare.control.snapshot import tracked_pod
from fairshare.control.store import GPU_CLASSES, KINDS, NODES, PODS, TENANTS, TRAINING_JOBS, Store, object_key
from fairshare.core.config import PolicyConfig
from fairshare.k8s.applier import Applier
from fairshare.k8s.client import api_client
from fairshare.k8s.lister import list_all
from fairshare.metrics import OperatorMetrics
from fairshare.render import RenderSettings

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Runtime:
    """What the handlers share: the store and the loop to wake. Set up once at startup."""

    store: Store
    loop: SchedulingLoop | None = None
    task: asyncio.Task[None] | None = None


RUNTIME = Runtime(store=Store())


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Progress and diff-base in our own annotations; handlers return nothing, so kopf never writes into status.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="fairshare.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="fairshare.dev")
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = int(_env_float("FAIRSHARE_WATCH_TIMEOUT_SECONDS", 300))
    settings.watching.client_timeout = int(_env_float("FAIRSHARE_WATCH_TIMEOUT_SECONDS", 300)) + 30
    settings.watching.reconnect_backoff = 1.0

    metrics = OperatorMetrics()
    port = int(os.environ.get("FAIRSHARE_METRICS_PORT", "8080"))
    if port:
        start_http_server(port, addr=os.environ.get("FAIRSHARE_METRICS_ADDR", "0.0.0.0"), registry=metrics.registry)
    api = api_client()
    store = RUNTIME.store

    def resync() -> None:
        """Level-triggered: replace the store with a fresh LIST of everything."""
        listed = list_all(api)
        for kind in KINDS:
            keep = {object_key(body) for body in listed[kind]}
            for body in listed[kind]:
                store.put(kind, body)
            for gone in [b for b in store.all(kind) if object_key(b) not in keep]:
                store.delete(kind, gone)
        log.info("resynced %d objects", len(store))

    await asyncio.to_thread(resync)
    loop = SchedulingLoop(
        store, Applier(api, store, metrics).apply, metrics, PolicyConfig(), RenderSettings(),
        LoopSettings(period_seconds=_env_float("FAIRSHARE_CYCLE_PERIOD_SECONDS", 10.0),
                     debounce_seconds=_env_float("FAIRSHARE_CYCLE_DEBOUNCE_SECONDS", 0.2)),
        resync=resync)
    RUNTIME.loop = loop
    RUNTIME.task = asyncio.create_task(loop.run(), name="fairshare-scheduling-loop")
    loop.poke()


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if RUNTIME.task is not None:
        RUNTIME.task.cancel()


def _node_signature(body: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What scheduling reads from a Node; heartbeats change other fields and must not wake the loop."""
    if body is None:
        return None
    ready = [c.get("status") for c in body.get("status", {}).get("conditions") or [] if c.get("type") == "Ready"]
    return (tuple(sorted((body["metadata"].get("labels") or {}).items())),
            tuple(sorted((body.get("status", {}).get("allocatable") or {}).items())),
            bool(body.get("spec", {}).get("unschedulable")), tuple(ready))


def _observe(kind: str, event: dict[str, Any]) -> None:
    body = event.get("object")
    if not body:
        return
    store = RUNTIME.store
    before = _node_signature(store.get(kind, object_key(body))) if kind == NODES else None
    changed = store.delete(kind, body) if event.get("type") == "DELETED" else store.put(kind, body)
    if kind == NODES and changed and event.get("type") != "DELETED":
        changed = before != _node_signature(store.get(kind, object_key(body)))
    if changed and RUNTIME.loop is not None:
        RUNTIME.loop.poke()


@kopf.on.event(GROUP, VERSION, PLURAL_TRAINING_JOBS)
def training_job_event(event: dict[str, Any], **_: Any) -> None:
    _observe(TRAINING_JOBS, event)


@kopf.on.event(GROUP, VERSION, PLURAL_TENANTS)
def tenant_event(event: dict[str, Any], **_: Any) -> None:
    _observe(TENANTS, event)


@kopf.on.event(GROUP, VERSION, PLURAL_GPU_CLASSES)
def gpu_class_event(event: dict[str, Any], **_: Any) -> None:
    _observe(GPU_CLASSES, event)


@kopf.on.event("", "v1", "nodes")
def node_event(event: dict[str, Any], **_: Any) -> None:
    _observe(NODES, event)


@kopf.on.event("", "v1", "pods")
def pod_event(event: dict[str, Any], **_: Any) -> None:
    # Every pod is watched, because other workloads' GPU pods occupy GPUs too; only those are stored.
    if tracked_pod(event.get("object") or {}) or event.get("type") == "DELETED":
        _observe(PODS, event)
