"""The kopf registrations: startup (settings, initial LIST, metrics, the election that starts the loop on the
leader), cleanup (hand the Lease over), the liveness probe (the cycle watchdog), one event handler per kind."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from typing import Any

import kopf

from fairshare.api import SpecError, parse_training_job
from fairshare.api.constants import GROUP, PLURAL_GPU_CLASSES, PLURAL_TENANTS, PLURAL_TRAINING_JOBS, VERSION
from fairshare.control.loop import LoopSettings, SchedulingLoop
from fairshare.control.parsecache import ParseCache
from fairshare.control.snapshot import tracked_pod
from fairshare.control.store import GPU_CLASSES, KINDS, NODES, PODS, TENANTS, TRAINING_JOBS, Store, object_key
from fairshare.control.watchdog import CycleWatchdog, pending_jobs
from fairshare.feedback.collector import FeedbackCollector
from fairshare.feedback.prometheus import PrometheusSource
from fairshare.feedback.scrape import ScrapeSource
from fairshare.gcpauses import keep_tenuring, tenure_survivors
from fairshare.handlers.backoffs import EndlessBackoffs
from fairshare.handlers.diffbase import EventOnlyDiffBaseStorage, registers_no_changing_handlers
from fairshare.handlers.leadership import Leadership
from fairshare.k8s.applier import Applier
from fairshare.k8s.client import api_client
from fairshare.k8s.election import LeaderElector, campaign
from fairshare.k8s.lease import KubeLease, WriteGate
from fairshare.k8s.lister import list_all
from fairshare.k8s.metricsauth import ApiReviews, MetricsAuth
from fairshare.metrics import OperatorMetrics
from fairshare.metricsserver import start_metrics_server
from fairshare.settings import (
    api_timeouts_from_env,
    election_from_env,
    feedback_from_env,
    gc_tenure_seconds_from_env,
    lifecycle_from_env,
    metrics_auth_from_env,
    policy_from_env,
    protected_namespaces_from_env,
    render_from_env,
    watch_from_env,
    watchdog_periods_from_env,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Runtime:
    """What the handlers share: the store, and the leader's term of office (whose loop they wake). Set up once at
    startup."""

    store: Store
    leadership: Leadership | None = None
    watchdog: CycleWatchdog | None = None
    tasks: list[asyncio.Task[None]] = dataclasses.field(default_factory=list)

    @property
    def loop(self) -> SchedulingLoop | None:
        return self.leadership.loop if self.leadership is not None else None


RUNTIME = Runtime(store=Store())


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Progress and diff-base in our own annotations; handlers return nothing, so kopf never writes into status.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="fairshare.dev")
    event_only = registers_no_changing_handlers(kopf.get_default_registry())
    settings.persistence.diffbase_storage = (EventOnlyDiffBaseStorage if event_only
                                             else kopf.AnnotationsDiffBaseStorage)(prefix="fairshare.dev")
    settings.posting.level = logging.WARNING
    # Every call bounded (docs/reliability.md, "Bounded waits"): kopf's own requests and watches, and our client's.
    timeouts, watch = api_timeouts_from_env(os.environ), watch_from_env(os.environ)
    settings.networking.connect_timeout = timeouts.connect_seconds
    settings.networking.request_timeout = watch.request_seconds
    settings.watching.connect_timeout = timeouts.connect_seconds
    settings.watching.server_timeout = watch.server_seconds
    settings.watching.client_timeout = watch.server_seconds + timeouts.read_seconds
    settings.watching.inactivity_timeout = watch.inactivity_seconds
    settings.watching.reconnect_backoff = 1.0
    settings.networking.error_backoffs = EndlessBackoffs()

    metrics = OperatorMetrics()
    metrics.gc_pauses.install()
    api = api_client(timeouts=timeouts)
    port = int(os.environ.get("FAIRSHARE_METRICS_PORT", "8080"))
    if port:
        check = MetricsAuth(ApiReviews(api)).check if metrics_auth_from_env(os.environ) else None
        start_metrics_server(port, os.environ.get("FAIRSHARE_METRICS_ADDR", "0.0.0.0"), metrics.registry, check)
    store = RUNTIME.store

    def resync() -> None:
        """Level-triggered: bring the store to a fresh LIST of everything (newer bodies the watch brought stay)."""
        listed = list_all(api)
        for kind in KINDS:
            store.resync(kind, listed[kind].items, listed[kind].resource_version)
        log.info("resynced %d objects", len(store))

    policy = policy_from_env(os.environ)
    feedback = feedback_from_env(os.environ)
    render = render_from_env(os.environ)
    protected = protected_namespaces_from_env(os.environ)
    election = election_from_env(os.environ)
    lifecycle = lifecycle_from_env(os.environ)
    gc_tenure = gc_tenure_seconds_from_env(os.environ)
    loop_settings = LoopSettings(period_seconds=_env_float("FAIRSHARE_CYCLE_PERIOD_SECONDS", 10.0),
                                 debounce_seconds=_env_float("FAIRSHARE_CYCLE_DEBOUNCE_SECONDS", 0.2),
                                 protected_namespaces=protected)
    watchdog = RUNTIME.watchdog = CycleWatchdog(loop_settings.period_seconds, watchdog_periods_from_env(os.environ))
    jobs_parsed = ParseCache(parse_training_job, SpecError)  # kept across terms: a new term parses only what changed

    def term_work(gate: WriteGate) -> tuple[SchedulingLoop, list[Any]]:
        """One term of leadership: a loop whose writes go through `gate`, and the feedback collector."""
        collector: FeedbackCollector | None = None
        writes = gate.install(api_client(timeouts=timeouts))
        applier = Applier(writes, store, metrics)
        loop = SchedulingLoop(store, applier.apply, metrics, policy, render, loop_settings,
                              resync=resync, readings=lambda: collector.take() if collector else {},
                              warmup_seconds=feedback.warmup_seconds, lifecycle=lifecycle, watchdog=watchdog,
                              background=applier.apply)
        loop.jobs_parsed = jobs_parsed
        coroutines = [loop.run()]
        if feedback.source != "off":
            source = (PrometheusSource(feedback.prometheus_url) if feedback.source == "prometheus"
                      else ScrapeSource())
            collector = FeedbackCollector(source, lambda: loop.targets, metrics, feedback.period_seconds,
                                          on_readings=loop.poke)
            coroutines.append(collector.run())
        return loop, coroutines

    elector = LeaderElector(KubeLease(api_client(timeouts=timeouts), election), election)
    leadership = Leadership(elector, metrics, resync, term_work)
    RUNTIME.leadership = leadership
    # One attempt before the first LIST: a process that leads at once (the only one, or a restarted container that
    # holds the Lease under the same identity) then schedules from that LIST without listing twice.
    await asyncio.to_thread(elector.try_acquire_or_renew)
    await asyncio.to_thread(leadership.synced)
    if gc_tenure:  # the store just listed is the bulk of what lives on: out of the collector's scans from now on
        tenure_survivors()
        RUNTIME.tasks.append(asyncio.create_task(keep_tenuring(gc_tenure), name="fairshare-gc-tenure"))
    log.info("policy %s; throughput feedback: %s; worker pods: %s; protected namespaces: %s; %s; %s; %s", policy,
             feedback, render, ", ".join(sorted(protected)), lifecycle,
             f"leader election on Lease {election.namespace}/{election.name} as {election.identity}"
             + ("" if election.standby else " (no standby: election off)"),
             f"garbage-collector tenure every {gc_tenure:g} s" if gc_tenure else "garbage-collector tenure off")
    RUNTIME.tasks.append(asyncio.create_task(campaign(elector, leadership.start, leadership.stop),
                                             name="fairshare-election"))


@kopf.on.probe(id="scheduling")
async def scheduling_probe(**_: Any) -> dict[str, Any]:
    """Liveness: fails (HTTP 500 from kopf's /healthz) while the cycle watchdog finds the loop hung. A follower
    standing by while another replica holds the Lease is never expected to cycle."""
    leadership, watchdog = RUNTIME.leadership, RUNTIME.watchdog
    if leadership is None or watchdog is None:
        return {"leading": False}
    elector = leadership.elector
    leading = elector.still_leader()
    stall = watchdog.check(expected_to_cycle=leading or elector.held_by_another() is None,
                           pending=pending_jobs(RUNTIME.store.all(TRAINING_JOBS)))
    if stall is not None:
        log.error("liveness failing: %s", stall)
        raise kopf.PermanentError(str(stall))
    return {"leading": leading, "cycles": leadership.loop.cycles if leadership.loop is not None else 0}


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    for task in RUNTIME.tasks:
        task.cancel()
    if RUNTIME.leadership is not None:
        await RUNTIME.leadership.shutdown()


def _node_signature(body: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What scheduling reads from a Node; heartbeats change other fields and must not wake the loop."""
    if body is None:
        return None
    ready = [c.get("status") for c in body.get("status", {}).get("conditions") or [] if c.get("type") == "Ready"]
    return (tuple(sorted((body["metadata"].get("labels") or {}).items())),
            tuple(sorted((body.get("status", {}).get("allocatable") or {}).items())),
            bool(body.get("spec", {}).get("unschedulable")), tuple(ready))


def _observe(kind: str, event: dict[str, Any]) -> None:
    """Store the event's body and wake the loop if scheduling could see a difference. The handlers are async, so
    this runs on the event loop (kopf runs sync handlers in a thread pool): cheaper per event, and the loop's
    snapshot, built on the event loop too, never sees a watch event half applied."""
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
async def training_job_event(event: dict[str, Any], **_: Any) -> None:
    _observe(TRAINING_JOBS, event)


@kopf.on.event(GROUP, VERSION, PLURAL_TENANTS)
async def tenant_event(event: dict[str, Any], **_: Any) -> None:
    _observe(TENANTS, event)


@kopf.on.event(GROUP, VERSION, PLURAL_GPU_CLASSES)
async def gpu_class_event(event: dict[str, Any], **_: Any) -> None:
    _observe(GPU_CLASSES, event)


@kopf.on.event("", "v1", "nodes")
async def node_event(event: dict[str, Any], **_: Any) -> None:
    _observe(NODES, event)


@kopf.on.event("", "v1", "pods")
async def pod_event(event: dict[str, Any], **_: Any) -> None:
    # Every pod is watched, because other workloads' GPU pods occupy GPUs too; only those are stored.
    if tracked_pod(event.get("object") or {}) or event.get("type") == "DELETED":
        _observe(PODS, event)
