"""Every Prometheus metric the operator exports, in one place: `fairshare_` prefix, base units, bounded labels.

Labels are bounded by tenant and GPU class (and a handful of fixed step/reason names), never by job name, so
series count grows with the platform's configuration, not with its workload.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fairshare.gcpauses import GcPauses

# Queue waits range from seconds (free capacity) to days (a starved tenant): log-spaced buckets cover both.
QUEUE_WAIT_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 24 * 3600, 72 * 3600)
CYCLE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
API_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class OperatorMetrics:
    """The operator's metrics, registered on their own registry so tests and multiple instances never collide."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.admissions = Counter("fairshare_admissions", "Jobs admitted, by tenant and GPU class.",
                                  ["tenant", "gpu_class"], registry=r)
        self.preemptions = Counter("fairshare_preemptions", "Jobs preempted, by tenant, GPU class and cause "
                                   "(guarantee|fair-share|idle-yield|service: fairshare.core.decisions.PreemptCause; "
                                   "node-loss: a node under the gang was deleted or NotReady past its grace).",
                                   ["tenant", "gpu_class", "cause"], registry=r)
        self.resizes = Counter("fairshare_resizes", "Elastic jobs resized, by tenant and direction (grow|shrink).",
                               ["tenant", "direction"], registry=r)
        self.migrations = Counter("fairshare_migrations", "Running jobs moved to another GPU class for throughput.",
                                  ["tenant", "from_class", "to_class"], registry=r)
        self.completions = Counter("fairshare_job_completions", "Jobs that reached a terminal phase.",
                                   ["tenant", "phase"], registry=r)
        self.queue_wait = Histogram("fairshare_queue_wait_seconds",
                                    "Time from a job's latest entry to the queue (its submission, or its requeue "
                                    "after a preemption, a restart or an unschedulable gang) to its admission.",
                                    ["tenant"], buckets=QUEUE_WAIT_BUCKETS, registry=r)
        self.pending_jobs = Gauge("fairshare_pending_jobs", "Jobs still waiting for admission after the last cycle's "
                                  "decisions, by tenant.",
                                  ["tenant"], registry=r)
        self.running_jobs = Gauge("fairshare_running_jobs", "Jobs holding GPUs after the last cycle's decisions "
                                  "(admitted this cycle included, preempted ones not), by tenant.",
                                  ["tenant"], registry=r)
        self.capacity_gpus = Gauge("fairshare_gpu_capacity", "A class's capacity, as GPUClass status.capacity: the "
                                   "allocatable GPUs of its Ready, uncordoned nodes, plus, on a cordoned or NotReady "
                                   "node, only the GPUs its gangs still hold after the last cycle; a node counts for "
                                   "the oldest GPUClass whose nodeSelector matches it. By class.",
                                   ["gpu_class"], registry=r)
        self.allocated_gpus = Gauge("fairshare_gpus_allocated", "GPUs jobs hold after the last cycle's decisions, by "
                                    "tenant and class (Tenant status.allocated; summed, GPUClass status.allocated).",
                                    ["tenant", "gpu_class"], registry=r)
        self.idle_gpus = Gauge("fairshare_gpus_idle", "GPUs of a class's capacity held by no job and no foreign pod "
                               "after the last cycle's decisions (GPUClass status.idle).",
                               ["gpu_class"], registry=r)
        self.foreign_gpus = Gauge("fairshare_gpus_foreign", "GPUs of a class held by pods the operator did not "
                                  "create (control/ownership.py), by class.", ["gpu_class"], registry=r)
        self.fair_share = Gauge("fairshare_fair_share_gpus", "A tenant's entitlement (fair share) of a class, in GPUs.",
                                ["tenant", "gpu_class"], registry=r)
        self.share_ratio = Gauge("fairshare_tenant_share_ratio",
                                 "A tenant's share ratio after the last cycle: credits per hour its full-price GPUs "
                                 "cost at current prices over its entitlement (1 = exactly its fair share); the "
                                 "figure queue reasons and Tenant status.shareRatio quote.", ["tenant"], registry=r)
        self.guaranteed = Gauge("fairshare_guaranteed_gpus", "A tenant's guaranteed GPUs of a class.",
                                ["tenant", "gpu_class"], registry=r)
        self.price = Gauge("fairshare_price_credits_per_gpu_hour", "A class's market price after the last cycle (its "
                           "list price until the core prices it), as GPUClass status.currentPricePerGPUHour.",
                           ["gpu_class"], registry=r)
        self.spend = Counter("fairshare_spend_credits", "Credits charged to a tenant.", ["tenant"], registry=r)
        self.budget_remaining = Gauge("fairshare_budget_remaining_credits",
                                      "Credits a tenant has left this period (absent when it has no budget).",
                                      ["tenant"], registry=r)
        self.decayed_usage = Gauge("fairshare_decayed_usage_gpu_hours", "A tenant's half-life-decayed GPU usage.",
                                   ["tenant"], registry=r)
        self.throughput = Gauge("fairshare_throughput_samples_per_second",
                                "Measured training throughput summed over a tenant's running jobs on a class.",
                                ["tenant", "gpu_class"], registry=r)
        self.feedback_dropped = Counter("fairshare_feedback_readings_dropped", "Throughput readings dropped as "
                                        "outside physical bounds, by reason (invalid|above-expected|jump: "
                                        "fairshare.core.throughput.implausible_throughput).", ["reason"], registry=r)
        self.feedback_reads = Counter("fairshare_feedback_scrapes",
                                      "Trainer throughput reads by source (scrape|prometheus) and result "
                                      "(ok|missing|error).", ["source", "result"], registry=r)
        self.cycle_duration = Histogram("fairshare_cycle_duration_seconds",
                                        "Duration of a scheduling cycle's steps (step=total for the whole cycle).",
                                        ["step"], buckets=CYCLE_BUCKETS, registry=r)
        self.cycles = Counter("fairshare_cycles", "Scheduling cycles run, by trigger (event|periodic).",
                              ["trigger"], registry=r)
        self.last_cycle = Gauge("fairshare_last_cycle_timestamp_seconds", "Unix time the last cycle finished.",
                                registry=r)
        self.set_aside = Gauge("fairshare_objects_set_aside",
                               "Objects the last cycle set aside: left out of scheduling alone (the others go on), "
                               "reported on the object where the operator may write and in its log, by kind "
                               "(TrainingJob|Tenant|GPUClass|Node|Pod) and reason (InvalidSpec|InvalidQuantity|"
                               "Unreadable|SchedulingError: fairshare.control.isolation). A gauge of the last cycle, "
                               "every pair exported: back to 0 once the object is fixed or deleted.",
                               ["kind", "reason"], registry=r)
        self.errors = Counter("fairshare_reconcile_errors", "Errors while applying decisions or reconciling.",
                              ["operation"], registry=r)
        self.api_latency = Histogram("fairshare_api_request_duration_seconds", "Kubernetes API calls made.",
                                     ["verb", "resource"], buckets=API_BUCKETS, registry=r)
        self.replica_role = Gauge("fairshare_replica_role", "1 for this replica's role in the leader election "
                                  "(leader: schedules and writes; follower: keeps its store warm), 0 for the other.",
                                  ["replica_role"], registry=r)
        self.gated_writes = Counter("fairshare_leader_gate_writes", "API writes of the scheduling loop by what the "
                                    "leader gate did: sent, or refused because this replica no longer leads.",
                                    ["result"], registry=r)
        self.gc_pauses = GcPauses()  # exported always; timed once the operator's start-up installs it
        r.register(self.gc_pauses)
        self.set_role(leader=False)

    def observe_cycle_steps(self, step_seconds: Mapping[str, float]) -> None:
        """Record one cycle's per-step durations, plus their sum as step="total"."""
        for step, seconds in step_seconds.items():
            self.cycle_duration.labels(step=step).observe(seconds)
        self.cycle_duration.labels(step="total").observe(sum(step_seconds.values()))

    def set_role(self, leader: bool) -> None:
        self.replica_role.labels(replica_role="leader").set(1 if leader else 0)
        self.replica_role.labels(replica_role="follower").set(0 if leader else 1)

    def forget_cycle_state(self) -> None:
        """A replica that stops leading exports no figures of its last cycle (prices, shares, GPUs, queues), so sums
        over replicas count only the leader's. Counters and the last cycle's timestamp stay: they only ever grow."""
        for gauge in vars(self).values():
            if isinstance(gauge, Gauge) and gauge not in (self.replica_role, self.last_cycle):
                gauge.clear()

    def set_per_label(self, gauge: Gauge, values: Mapping[tuple[str, ...], float]) -> None:
        """Replace a gauge's series with exactly `values`, so tenants or classes that vanish stop being exported."""
        gauge.clear()
        for labels, value in values.items():
            gauge.labels(*labels).set(value)
