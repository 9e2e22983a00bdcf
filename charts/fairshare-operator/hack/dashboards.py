"""Generate the chart's Grafana dashboards (dashboards/*.json) from one description, so all five share layout,
datasource and variables. Run from anywhere: `python charts/fairshare-operator/hack/dashboards.py [--check]`.

The JSON files are what the chart ships and what Grafana imports; this script is the way to edit them (an export
from Grafana can be pasted back, but then bring the change here too: tests/unit/chart checks they agree).
Metric names are the ones fairshare.metrics and fairshare_trainer.metrics export; tests/unit/chart checks
every name used here against them.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent.parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
GRID_WIDTH = 24
TAGS = ["fairshare"]

# Filters every operator-side panel applies; Grafana's "All" value is the regex .* (see variable()).
TENANT = 'tenant=~"$tenant"'
CLASS = 'gpu_class=~"$gpu_class"'
TC = f"{TENANT}, {CLASS}"
JOB = 'trainingjob=~"$trainingjob"'
RI = "$__rate_interval"


@dataclass
class Target:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclass
class Panel:
    title: str
    description: str
    targets: list[Target]
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 12
    height: int = 8
    stacked: bool = False
    decimals: int | None = None
    min_zero: bool = True
    max_value: float | None = None
    thresholds: list[tuple[float | None, str]] = field(default_factory=list)


@dataclass
class Row:
    title: str
    panels: list[Panel]


@dataclass
class Dashboard:
    uid: str
    file: str
    title: str
    description: str
    variables: list[str]
    rows: list[Row]


def t(expr: str, legend: str = "", instant: bool = False) -> Target:
    return Target(" ".join(expr.split()), legend, instant)


def stat(title: str, description: str, expr: str, unit: str = "short", decimals: int | None = 0,
         thresholds: list[tuple[float | None, str]] | None = None, width: int = 4) -> Panel:
    return Panel(title, description, [t(expr)], kind="stat", unit=unit, width=width, height=4, decimals=decimals,
                 thresholds=thresholds or [])


# ---------------------------------------------------------------------------------------------------------------
# The dashboards.

CLUSTER = Dashboard(
    uid="fairshare-cluster", file="cluster-overview.json", title="Fairshare / Cluster overview",
    description="GPU capacity, allocation, idle GPUs and market prices, by GPU class.",
    variables=["gpu_class"],
    rows=[
        Row("Now", [
            stat("GPUs", "Capacity of the selected classes: allocatable GPUs of Ready, uncordoned nodes, plus those "
                 "gangs still hold on cordoned or NotReady ones (GPUClass status.capacity).",
                 f"sum(fairshare_gpu_capacity{{{CLASS}}})"),
            stat("Allocated GPUs", "GPUs held by admitted jobs.", f"sum(fairshare_gpus_allocated{{{CLASS}}})"),
            stat("Idle GPUs", "GPUs of the selected classes held by no job and no foreign pod.",
                 f"sum(fairshare_gpus_idle{{{CLASS}}})"),
            stat("Utilization", "Allocated or held by foreign pods, over capacity.",
                 f"1 - sum(fairshare_gpus_idle{{{CLASS}}}) / sum(fairshare_gpu_capacity{{{CLASS}}})",
                 unit="percentunit", decimals=1,
                 thresholds=[(None, "red"), (0.6, "orange"), (0.85, "green")]),
            stat("Running jobs", "Jobs holding GPUs after the last cycle's decisions, all tenants.",
                 "sum(fairshare_running_jobs)"),
            stat("Pending jobs", "Jobs waiting for admission, all tenants.", "sum(fairshare_pending_jobs)",
                 thresholds=[(None, "green"), (1, "orange")]),
        ]),
        Row("Utilization", [
            Panel("Utilization by class", "Share of each class's GPUs allocated to jobs.",
                  [t(f"1 - sum by (gpu_class) (fairshare_gpus_idle{{{CLASS}}})"
                     f" / sum by (gpu_class) (fairshare_gpu_capacity{{{CLASS}}})", "{{gpu_class}}")],
                  unit="percentunit", max_value=1),
            Panel("Idle GPUs by class", "GPUs of each class allocated to no job: capacity others could borrow.",
                  [t(f"sum by (gpu_class) (fairshare_gpus_idle{{{CLASS}}})", "{{gpu_class}}")], stacked=True),
            Panel("Foreign GPUs by class", "GPUs held by pods the operator did not create (other workloads, or "
                  "pods that only carry its labels): neither allocated nor idle, charged to the namespace's tenant.",
                  [t(f"sum by (gpu_class) (fairshare_gpus_foreign{{{CLASS}}})", "{{gpu_class}}")], stacked=True),
            Panel("Capacity by class", "Allocatable GPUs of Ready, uncordoned nodes, plus those gangs still hold on "
                  "cordoned or NotReady ones (GPUClass status.capacity).",
                  [t(f"sum by (gpu_class) (fairshare_gpu_capacity{{{CLASS}}})", "{{gpu_class}}")], stacked=True),
            Panel("Allocated GPUs by tenant", "GPUs held by each tenant's admitted jobs, all selected classes.",
                  [t(f"sum by (tenant) (fairshare_gpus_allocated{{{CLASS}}})", "{{tenant}}")], stacked=True),
        ]),
        Row("Market", [
            Panel("Price by class", "Market price per GPU-hour: rises with contention, falls toward the floor "
                  "(policy.priceFloorFraction of list price) when idle.",
                  [t(f"max by (gpu_class) (fairshare_price_credits_per_gpu_hour{{{CLASS}}})", "{{gpu_class}}")],
                  unit="none", decimals=2),
            Panel("Spend rate", "Credits charged per hour, by tenant.",
                  [t(f"sum by (tenant) (rate(fairshare_spend_credits_total[{RI}])) * 3600", "{{tenant}}")],
                  unit="none", stacked=True),
        ]),
    ])

TENANTS = Dashboard(
    uid="fairshare-tenants", file="tenants.json", title="Fairshare / Tenants",
    description="Each tenant's share ratio (the figure its queue reasons quote), allocation against its fair "
                "share and guarantee, borrowing, spend, budget and decayed usage.",
    variables=["tenant", "gpu_class"],
    rows=[
        Row("Share", [
            Panel("Allocated vs fair share", "GPUs each tenant holds (opportunistic ones on idle capacity "
                  "included), beside the GPUs its entitlement (fair share) buys at current prices, summed over "
                  "classes. A count of GPUs, not the share ratio: GPUs of different classes cost different "
                  "prices, so compare tenants' shares on the share-ratio panel.",
                  [t(f"sum by (tenant) (fairshare_gpus_allocated{{{TC}}})", "{{tenant}} allocated"),
                   t(f"sum by (tenant) (fairshare_fair_share_gpus{{{TC}}})", "{{tenant}} fair share")]),
            Panel("Share ratio", "Each tenant's share ratio: credits per hour its full-price GPUs cost at "
                  "current prices over its entitlement, over all classes; the figure its jobs' queue reasons "
                  "(\"tenant nlp is at 1.04x its fair share\") and its Tenant status.shareRatio quote. 1 is "
                  "exactly its fair share; above 1 it holds more (borrowing); below 1 with pending jobs it is "
                  "owed capacity. GPUs held opportunistically, on idle capacity, do not count.",
                  [t(f"max by (tenant) (fairshare_tenant_share_ratio{{{TENANT}}})", "{{tenant}}")],
                  unit="none", decimals=2),
            Panel("Borrowed GPUs", "GPUs held beyond the fair share of a class: reclaimable by preemption.",
                  [t(f"sum by (tenant, gpu_class) (clamp_min(fairshare_gpus_allocated{{{TC}}}"
                     f" - fairshare_fair_share_gpus{{{TC}}}, 0))", "{{tenant}} {{gpu_class}}")], stacked=True),
            Panel("Guarantee lent out", "Guaranteed GPUs a tenant leaves idle, which others may borrow until it "
                  "reclaims them.",
                  [t(f"sum by (tenant, gpu_class) (clamp_min(fairshare_guaranteed_gpus{{{TC}}}"
                     f" - (fairshare_gpus_allocated{{{TC}}} or fairshare_guaranteed_gpus{{{TC}}} * 0), 0))",
                     "{{tenant}} {{gpu_class}}")], stacked=True),
            Panel("Share by class", "Per class: GPUs allocated, fair share and guarantee, now.",
                  [t(f"sum by (tenant, gpu_class) (fairshare_gpus_allocated{{{TC}}})", "allocated", instant=True),
                   t(f"sum by (tenant, gpu_class) (fairshare_fair_share_gpus{{{TC}}})", "fair share", instant=True),
                   t(f"sum by (tenant, gpu_class) (fairshare_guaranteed_gpus{{{TC}}})", "guaranteed",
                     instant=True)],
                  kind="table", width=24),
        ]),
        Row("Spend", [
            Panel("Spend rate", "Credits charged per hour.",
                  [t(f"sum by (tenant) (rate(fairshare_spend_credits_total{{{TENANT}}}[{RI}])) * 3600",
                     "{{tenant}}")], unit="none", width=8),
            Panel("Budget remaining", "Credits left this budget period (tenants without a budget have none).",
                  [t(f"sum by (tenant) (fairshare_budget_remaining_credits{{{TENANT}}})", "{{tenant}}")],
                  unit="none", width=8),
            Panel("Budget runway", "Hours until the budget is spent at the last hour's spend rate.",
                  [t(f"sum by (tenant) (fairshare_budget_remaining_credits{{{TENANT}}})"
                     f" / (sum by (tenant) (rate(fairshare_spend_credits_total{{{TENANT}}}[1h])) * 3600)",
                     "{{tenant}}")], unit="h", width=8),
        ]),
        Row("Usage", [
            Panel("Decayed usage", "Half-life-decayed GPU-hours (policy.halfLifeHours): what discounts a "
                  "tenant's weight after heavy use.",
                  [t(f"sum by (tenant) (fairshare_decayed_usage_gpu_hours{{{TENANT}}})", "{{tenant}}")],
                  unit="none"),
            Panel("Jobs", "Running (solid) and pending jobs per tenant.",
                  [t(f"sum by (tenant) (fairshare_running_jobs{{{TENANT}}})", "{{tenant}} running"),
                   t(f"sum by (tenant) (fairshare_pending_jobs{{{TENANT}}})", "{{tenant}} pending")]),
        ]),
    ])

QUEUE = Dashboard(
    uid="fairshare-queue", file="queue.json", title="Fairshare / Queue",
    description="Pending work, queue waits, admissions, preemptions, resizes and completions.",
    variables=["tenant", "gpu_class"],
    rows=[
        Row("Queue", [
            Panel("Pending jobs by tenant", "Jobs waiting for admission. Why each waits is on the job: "
                  "kubectl get tj -A (WHY column).",
                  [t(f"sum by (tenant) (fairshare_pending_jobs{{{TENANT}}})", "{{tenant}}")], stacked=True),
            Panel("Running jobs by tenant", "Admitted jobs holding GPUs.",
                  [t(f"sum by (tenant) (fairshare_running_jobs{{{TENANT}}})", "{{tenant}}")], stacked=True),
            Panel("Queue wait", "Time from a job's latest entry to the queue (its submission, or its requeue "
                  "after a preemption, a restart or an unschedulable gang) to its admission, over admissions "
                  "in the interval.",
                  [t(f"histogram_quantile({q}, sum by (le) (rate(fairshare_queue_wait_seconds_bucket"
                     f"{{{TENANT}}}[{RI}])))", f"p{int(q * 100)}") for q in (0.5, 0.9, 0.99)],
                  unit="s", min_zero=True),
            Panel("Queue wait p90 by tenant", "90th percentile of the time from a job's latest entry to the "
                  "queue to its admission.",
                  [t(f"histogram_quantile(0.9, sum by (tenant, le) (rate(fairshare_queue_wait_seconds_bucket"
                     f"{{{TENANT}}}[{RI}])))", "{{tenant}}")], unit="s"),
        ]),
        Row("Decisions", [
            Panel("Admissions", "Jobs admitted per second, by tenant and class.",
                  [t(f"sum by (tenant, gpu_class) (rate(fairshare_admissions_total{{{TC}}}[{RI}]))",
                     "{{tenant}} {{gpu_class}}")], unit="ops", stacked=True),
            Panel("Preemptions by cause", "Jobs preempted per second (checkpointed and requeued), by cause: "
                  "guarantee (another tenant reclaims its guarantee), fair-share (a tenant below its fair share "
                  "takes from one above), idle-yield (a job on idle capacity gives it back), service (a job of "
                  "the same tenant with less attained service takes its place), node-loss (a node under the gang "
                  "was deleted or stayed NotReady past its grace; the gang restarts elsewhere).",
                  [t(f"sum by (cause) (rate(fairshare_preemptions_total{{{TC}}}[{RI}]))", "{{cause}}")],
                  unit="ops", stacked=True),
            Panel("Preemptions by tenant", "Jobs preempted per second, by the tenant whose job was stopped and "
                  "the cause.",
                  [t(f"sum by (tenant, cause) (rate(fairshare_preemptions_total{{{TC}}}[{RI}]))",
                     "{{tenant}} {{cause}}")], unit="ops", stacked=True),
            Panel("Elastic resizes", "Elastic jobs grown or shrunk per second.",
                  [t(f"sum by (tenant, direction) (rate(fairshare_resizes_total{{{TENANT}}}[{RI}]))",
                     "{{tenant}} {{direction}}")], unit="ops", stacked=True),
            Panel("Class migrations", "Running jobs moved to a GPU class where they measurably train faster, "
                  "per second, by source and destination class.",
                  [t(f"sum by (from_class, to_class) (rate(fairshare_migrations_total{{{TENANT}}}[{RI}]))",
                     "{{from_class}} → {{to_class}}")], unit="ops", stacked=True),
            Panel("Completions", "Jobs reaching a terminal phase per second.",
                  [t(f"sum by (tenant, phase) (rate(fairshare_job_completions_total{{{TENANT}}}[{RI}]))",
                     "{{tenant}} {{phase}}")], unit="ops", stacked=True),
            Panel("Preemptions in range", "Preemptions over the dashboard's time range, by tenant, class and "
                  "cause.",
                  [t(f"sum by (tenant, gpu_class, cause) (increase(fairshare_preemptions_total{{{TC}}}"
                     f"[$__range]))", instant=True)], kind="table", width=24),
        ]),
    ])

TRAINING = Dashboard(
    uid="fairshare-training", file="training.json", title="Fairshare / Training",
    description="Measured training throughput per job and GPU class, scaling with workers, and trainer health. "
                "Trainer series (fairshare_trainer_*) need the trainer pods scraped (metrics.podMonitor or "
                "prometheus.io annotations).",
    variables=["gpu_class", "trainingjob"],
    rows=[
        Row("Throughput", [
            Panel("Jobs moved between classes", "Running jobs the operator moved (or swapped) to another class "
                  "because their measured throughput is much higher there, per second.",
                  [t(f"sum by (from_class, to_class) (rate(fairshare_migrations_total[{RI}]))",
                     "{{from_class}} -> {{to_class}}")], unit="ops", stacked=True),
            Panel("Throughput readings", "Trainer throughput reads per second by source and result: missing "
                  "or error means the operator schedules on older measurements.",
                  [t(f"sum by (source, result) (rate(fairshare_feedback_scrapes_total[{RI}]))",
                     "{{source}} {{result}}")], unit="ops", stacked=True),
            Panel("Throughput readings dropped", "Readings outside physical bounds, per second, by reason: not a "
                  "positive number, over 100x what the job's measurements predict, or a 10x jump in one window.",
                  [t(f"sum by (reason) (rate(fairshare_feedback_readings_dropped_total[{RI}]))", "{{reason}}")],
                  unit="ops", stacked=True),
            Panel("Throughput per job (trainer)", "Samples/s each job's trainers report (job-wide, the same on "
                  "every rank), smoothed over ~5 s.",
                  [t(f"max by (trainingjob, gpu_class) (fairshare_trainer_samples_per_second{{{CLASS}, {JOB}}})",
                     "{{trainingjob}} {{gpu_class}}")]),
            Panel("Throughput by class", "Samples/s summed over running jobs of each class.",
                  [t(f"sum by (gpu_class) (fairshare_throughput_samples_per_second{{{CLASS}}})",
                     "{{gpu_class}}")], stacked=True),
            Panel("Throughput per GPU by class", "Samples/s per allocated GPU: which class trains fastest "
                  "for the work running on it.",
                  [t(f"sum by (gpu_class) (fairshare_throughput_samples_per_second{{{CLASS}}})"
                     f" / sum by (gpu_class) (fairshare_gpus_allocated{{{CLASS}}})", "{{gpu_class}}")]),
            Panel("Throughput by tenant", "Samples/s summed over each tenant's running jobs.",
                  [t(f"sum by (tenant) (fairshare_throughput_samples_per_second{{{CLASS}}})", "{{tenant}}")],
                  stacked=True),
            Panel("Tokens per second", "Job-wide tokens/s reported by the trainers.",
                  [t(f"max by (trainingjob, gpu_class) (fairshare_trainer_tokens_per_second{{{CLASS}, {JOB}}})",
                     "{{trainingjob}} {{gpu_class}}")]),
        ]),
        Row("Scaling", [
            Panel("Workers per job", "World size of each job: elastic jobs change it when resized.",
                  [t(f"max by (trainingjob) (fairshare_trainer_world_size{{{CLASS}, {JOB}}})", "{{trainingjob}}")],
                  decimals=0),
            Panel("Samples/s per worker", "Job throughput over its world size: falls when a job scales worse "
                  "than linearly.",
                  [t(f"max by (trainingjob) (fairshare_trainer_samples_per_second{{{CLASS}, {JOB}}})"
                     f" / max by (trainingjob) (fairshare_trainer_world_size{{{CLASS}, {JOB}}})",
                     "{{trainingjob}}")]),
            Panel("Measured now", "Each running job's throughput, class and world size as its rank-0 trainer "
                  "reports them; the operator keeps the history per class and size in the job's status.",
                  [t(f"max by (trainingjob, gpu_class) (fairshare_trainer_samples_per_second{{{CLASS}, {JOB}, "
                     f'rank="0"}})', instant=True)], kind="table"),
            Panel("Elastic resizes", "Elastic jobs grown or shrunk per second, by direction.",
                  [t(f"sum by (direction) (rate(fairshare_resizes_total[{RI}]))", "{{direction}}")],
                  unit="ops", stacked=True),
        ]),
        Row("Trainers", [
            Panel("Loss", "Training loss of the last step (nats per token).",
                  [t(f"max by (trainingjob) (fairshare_trainer_loss{{{CLASS}, {JOB}}})", "{{trainingjob}}")],
                  unit="none", min_zero=False, width=8),
            Panel("Steps", "Optimizer steps completed, including those before a resume.",
                  [t(f"max by (trainingjob) (fairshare_trainer_step{{{CLASS}, {JOB}}})", "{{trainingjob}}")],
                  width=8),
            Panel("Work at risk", "Seconds since each job's newest checkpoint: what a preemption would lose.",
                  [t(f"max by (trainingjob) (fairshare_trainer_checkpoint_age_seconds{{{CLASS}, {JOB}}})",
                     "{{trainingjob}}")], unit="s", width=8),
            Panel("GPU utilization", "Busy fraction of each rank's GPU (CUDA trainers with NVML only).",
                  [t(f"avg by (trainingjob, gpu_class) (fairshare_trainer_gpu_utilization_ratio{{{CLASS}, {JOB}}})",
                     "{{trainingjob}} {{gpu_class}}")], unit="percentunit", max_value=1),
            Panel("GPU memory", "Memory held by each job's caching allocators over the GPUs' total.",
                  [t(f"sum by (trainingjob) (fairshare_trainer_gpu_memory_used_bytes{{{CLASS}, {JOB}}})"
                     f" / sum by (trainingjob) (fairshare_trainer_gpu_memory_total_bytes{{{CLASS}, {JOB}}})",
                     "{{trainingjob}}")], unit="percentunit", max_value=1),
        ]),
    ])

OPERATOR = Dashboard(
    uid="fairshare-operator", file="operator-health.json", title="Fairshare / Operator health",
    description="The scheduling loop (cycles, their steps, errors), the operator's Kubernetes API calls and its "
                "leader election.",
    variables=["job"],
    rows=[
        Row("Loop", [
            stat("Operator up", "Whether Prometheus could scrape the operator.",
                 'max(up{job=~"$job"})', thresholds=[(None, "red"), (1, "green")], width=6),
            stat("Since last cycle", "Seconds since the last scheduling cycle finished (cycles run on events "
                 "and at least every policy.cyclePeriodSeconds).",
                 'time() - max(fairshare_last_cycle_timestamp_seconds{job=~"$job"})', unit="s",
                 thresholds=[(None, "green"), (60, "orange"), (300, "red")], width=6),
            stat("Cycles / min", "Scheduling cycles per minute, all triggers.",
                 f'sum(rate(fairshare_cycles_total{{job=~"$job"}}[{RI}])) * 60', decimals=1, width=6),
            stat("Errors (1h)", "Reconcile errors in the last hour.",
                 'sum(increase(fairshare_reconcile_errors_total{job=~"$job"}[1h]))',
                 thresholds=[(None, "green"), (1, "red")], width=6),
            Panel("Cycles by trigger", "Cycles per second: woken by a watch event, or periodic.",
                  [t(f'sum by (trigger) (rate(fairshare_cycles_total{{job=~"$job"}}[{RI}]))', "{{trigger}}")],
                  unit="ops", stacked=True),
            Panel("Cycle duration", "Whole-cycle duration quantiles (step=total).",
                  [t(f'histogram_quantile({q}, sum by (le) (rate(fairshare_cycle_duration_seconds_bucket'
                     f'{{job=~"$job", step="total"}}[{RI}])))', f"p{int(q * 100)}") for q in (0.5, 0.9, 0.99)],
                  unit="s"),
            Panel("Cycle steps p99", "Where a cycle spends its time: snapshot, the core's steps, apply.",
                  [t(f'histogram_quantile(0.99, sum by (step, le) (rate(fairshare_cycle_duration_seconds_bucket'
                     f'{{job=~"$job", step!="total"}}[{RI}])))', "{{step}}")], unit="s"),
            Panel("Mean cycle duration by step", "Average seconds per cycle in each step.",
                  [t(f'sum by (step) (rate(fairshare_cycle_duration_seconds_sum{{job=~"$job"}}[{RI}]))'
                     f' / sum by (step) (rate(fairshare_cycle_duration_seconds_count{{job=~"$job"}}[{RI}]))',
                     "{{step}}")], unit="s"),
            Panel("Reconcile errors", "Failed operations per second (conflicts are not errors: the next cycle "
                  "decides again).",
                  [t(f'sum by (operation) (rate(fairshare_reconcile_errors_total{{job=~"$job"}}[{RI}]))',
                     "{{operation}}")], unit="ops", stacked=True),
            Panel("Objects set aside", "Objects the last cycle left out alone because they could not be read or "
                  "planned (the others went on), by kind and reason; the operator's log names each, and a Tenant, "
                  "GPUClass or TrainingJob carries the reason in a condition.",
                  [t('sum by (kind, reason) (fairshare_objects_set_aside{job=~"$job"})', "{{kind}} {{reason}}")],
                  stacked=True),
            Panel("Time paused by garbage collection", "Share of each second a replica's garbage collector held the "
                  "whole process, by generation (2 is a full collection). Every thread stops meanwhile, the Lease "
                  "renewals' included (the renew deadline is 8 s by default).",
                  [t(f'sum by (instance, generation) (rate(fairshare_gc_pause_seconds_sum{{job=~"$job"}}[{RI}]))',
                     "{{instance}} gen {{generation}}")], unit="percentunit", stacked=True),
            Panel("Longest garbage-collection pause", "The longest pause of each generation since the replica "
                  "started; one near the renew deadline can cost the Lease.",
                  [t('max by (instance, generation) (fairshare_gc_pause_longest_seconds{job=~"$job"})',
                     "{{instance}} gen {{generation}}")], unit="s"),
            Panel("Objects tenured", "Objects frozen out of the garbage collector's scans (gcTenureSeconds): "
                  "the store's bodies and what lived with them. It should follow the number of objects watched; "
                  "growth with a steady cluster would be garbage kept.",
                  [t('max by (instance) (fairshare_gc_frozen_objects{job=~"$job"})', "{{instance}}")], width=24),
        ]),
        Row("Kubernetes API", [
            Panel("API requests", "Requests per second the operator makes, by verb and resource.",
                  [t(f'sum by (verb, resource) (rate(fairshare_api_request_duration_seconds_count'
                     f'{{job=~"$job"}}[{RI}]))', "{{verb}} {{resource}}")], unit="reqps", stacked=True),
            Panel("API latency p99", "99th percentile request duration, by verb and resource.",
                  [t(f'histogram_quantile(0.99, sum by (verb, resource, le) (rate('
                     f'fairshare_api_request_duration_seconds_bucket{{job=~"$job"}}[{RI}])))',
                     "{{verb}} {{resource}}")], unit="s"),
            Panel("Throughput reads", "The operator's reads of trainer throughput, by source (scrape, "
                  "prometheus) and result (ok, missing, error).",
                  [t(f'sum by (source, result) (rate(fairshare_feedback_scrapes_total{{job=~"$job"}}[{RI}]))',
                     "{{source}} {{result}}")], unit="ops", stacked=True, width=24),
        ]),
        Row("Leader election", [
            stat("Leaders", "Replicas that lead (fairshare_replica_role): 1 is right; 0 means nothing schedules; "
                 "2 means two releases schedule the same cluster (each elects its own leader).",
                 'sum(fairshare_replica_role{job=~"$job", replica_role="leader"})',
                 thresholds=[(None, "red"), (1, "green"), (2, "red")], width=6),
            stat("Followers", "Replicas standing by with a warm store, ready to take over.",
                 'sum(fairshare_replica_role{job=~"$job", replica_role="follower"})',
                 thresholds=[(None, "orange"), (1, "green")], width=6),
            Panel("Role by replica", "1 while a replica leads; a change of leader shows as a hand-over.",
                  [t('max by (instance) (fairshare_replica_role{job=~"$job", replica_role="leader"})',
                     "{{instance}}")], max_value=1),
            Panel("Writes through the leader gate", "The scheduling loop's API writes per second by replica: sent, "
                  "or refused because the replica no longer led (work withdrawn when a term ended).",
                  [t(f'sum by (instance, result) (rate(fairshare_leader_gate_writes_total{{job=~"$job"}}[{RI}]))',
                     "{{instance}} {{result}}")], unit="ops", width=24),
        ]),
    ])

DASHBOARDS = (CLUSTER, TENANTS, QUEUE, TRAINING, OPERATOR)

# ---------------------------------------------------------------------------------------------------------------
# Rendering to Grafana's JSON model.

VARIABLES = {
    "tenant": ("Tenant", "label_values(fairshare_pending_jobs, tenant)"),
    "gpu_class": ("GPU class", "label_values(fairshare_gpu_capacity, gpu_class)"),
    "trainingjob": ("Training job", "label_values(fairshare_trainer_samples_per_second, trainingjob)"),
    "job": ("Scrape job", "label_values(fairshare_last_cycle_timestamp_seconds, job)"),
}


def datasource_variable() -> dict[str, Any]:
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1,
            "regex": "", "skipUrlSync": False}


def variable(name: str) -> dict[str, Any]:
    label, query = VARIABLES[name]
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "definition": query, "query": {"query": query, "refId": f"{name}-values"},
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "hide": 0, "includeAll": True, "allValue": ".*", "multi": True, "options": [],
            "refresh": 2, "regex": "", "skipUrlSync": False, "sort": 1}


def _thresholds(steps: list[tuple[float | None, str]]) -> dict[str, Any]:
    steps = steps or [(None, "green")]
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in steps]}


def render_panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit, "thresholds": _thresholds(panel.thresholds),
                                "color": {"mode": "thresholds" if panel.kind == "stat" else "palette-classic"}}
    if panel.min_zero and panel.kind == "timeseries":
        defaults["min"] = 0
    if panel.max_value is not None:
        defaults["max"] = panel.max_value
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    options: dict[str, Any]
    if panel.kind == "timeseries":
        defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 20 if panel.stacked else 0,
                              "showPoints": "never", "spanNulls": False,
                              "stacking": {"mode": "normal" if panel.stacked else "none", "group": "A"}}
        options = {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                              "calcs": ["lastNotNull", "max"]},
                   "tooltip": {"mode": "multi", "sort": "desc"}}
    elif panel.kind == "stat":
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                   "colorMode": "value", "graphMode": "area", "justifyMode": "auto", "textMode": "auto",
                   "orientation": "auto"}
    else:
        options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    targets = []
    for index, target in enumerate(panel.targets):
        entry: dict[str, Any] = {"refId": chr(ord("A") + index), "datasource": DATASOURCE, "expr": target.expr,
                                 "legendFormat": target.legend or "__auto", "range": not target.instant,
                                 "instant": target.instant, "editorMode": "code"}
        if panel.kind == "table":
            entry["format"] = "table"
        targets.append(entry)
    rendered: dict[str, Any] = {
        "id": panel_id, "type": panel.kind, "title": panel.title, "description": panel.description,
        "datasource": DATASOURCE, "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []}, "options": options, "targets": targets,
    }
    if panel.kind == "table" and len(panel.targets) > 1:
        # One row per series with a column per query: join the instant results on their labels.
        rendered["transformations"] = [{"id": "merge", "options": {}}]
    return rendered


def render(dashboard: Dashboard) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    next_id, y = 1, 0
    for row in dashboard.rows:
        panels.append({"id": next_id, "type": "row", "title": row.title, "collapsed": False, "panels": [],
                       "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y}})
        next_id, y = next_id + 1, y + 1
        x, line_height = 0, 0
        for panel in row.panels:
            if x + panel.width > GRID_WIDTH:
                x, y, line_height = 0, y + line_height, 0
            panels.append(render_panel(panel, next_id, x, y))
            next_id, x, line_height = next_id + 1, x + panel.width, max(line_height, panel.height)
        y += line_height
    links = [{"title": "Fairshare", "type": "dashboards", "tags": TAGS, "asDropdown": True, "includeVars": False,
              "keepTime": True, "icon": "external link", "targetBlank": False, "tooltip": "", "url": ""}]
    return {
        "uid": dashboard.uid, "title": dashboard.title, "description": dashboard.description, "tags": TAGS,
        "editable": True, "graphTooltip": 1, "schemaVersion": SCHEMA_VERSION, "version": 1,
        "refresh": "30s", "time": {"from": "now-6h", "to": "now"}, "timepicker": {}, "timezone": "",
        "fiscalYearStartMonth": 0, "liveNow": False, "weekStart": "", "links": links,
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": [datasource_variable(), *(variable(v) for v in dashboard.variables)]},
        "panels": panels,
    }


def rendered_files() -> dict[str, str]:
    """File name -> JSON text, exactly as written to dashboards/."""
    return {d.file: json.dumps(render(d), indent=2) + "\n" for d in DASHBOARDS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if dashboards/ differs from this script")
    args = parser.parse_args(argv)
    files = rendered_files()
    stale = sorted(name for name, text in files.items()
                   if not (OUT_DIR / name).is_file() or (OUT_DIR / name).read_text() != text)
    extra = sorted(p.name for p in OUT_DIR.glob("*.json") if p.name not in files)
    if args.check:
        for name in stale + extra:
            print(f"out of date: dashboards/{name}", file=sys.stderr)
        return 1 if stale or extra else 0
    OUT_DIR.mkdir(exist_ok=True)
    for name in stale:
        (OUT_DIR / name).write_text(files[name])
        print(f"wrote dashboards/{name}")
    for name in extra:
        (OUT_DIR / name).unlink()
        print(f"removed dashboards/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
