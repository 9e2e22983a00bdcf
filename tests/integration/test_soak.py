"""Load and soak: thousands of pending jobs across many tenants, kept at a steady population while jobs finish and
new ones replace them, with the operator's memory, cycle time and responsiveness sampled throughout and the
invariant checker (tests/support/invariants.py) reading the cluster.

The short version runs in CI: 1,000 jobs of 20 tenants for 120 s of churn. FAIRSHARE_SOAK_FULL=1 runs the issue's
load: 5,000 jobs of 100 tenants for 600 s. Both print a report (run with -s): operator RSS over time, cycle
duration per window, how long a new job waits for its first status, violations (there must be none).

What it asserts is behaviour, not speed: the operator keeps cycling under load, every new job gets a status, its
memory stops growing once the population is steady (no leak proportional to churn), and no invariant breaks.
And the ledger is exact: each tenant's spendThisPeriod equals the sum of its jobs' charges in the period (those it
still has, and those the soak deleted, read as they were deleted) within 0.5%.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import random
import statistics
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fairshare.localcluster.processes import tail
from tests.support.invariants import InvariantWatch, observe_cluster
from tests.support.operator import OperatorProcess
from tests.support.teams import GROUP, VERSION, Team, job_body, metric
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.soak]

FULL = os.environ.get("FAIRSHARE_SOAK_FULL") == "1"
SOAK_LABEL = "fairshare.dev/soak"
TERMINAL = ("Succeeded", "Failed")


@dataclasses.dataclass(frozen=True)
class Load:
    """A steady population of `jobs` TrainingJobs over `tenants` tenants, churned for `soak_seconds`."""

    tenants: int
    jobs: int
    soak_seconds: float
    sample_seconds: float
    job_seconds: tuple[int, int]


SHORT = Load(tenants=20, jobs=1_000, soak_seconds=120, sample_seconds=10, job_seconds=(5, 20))
LONG = Load(tenants=100, jobs=5_000, soak_seconds=600, sample_seconds=20, job_seconds=(5, 30))


@dataclasses.dataclass
class Sample:
    at: float  # seconds since the population was complete
    rss_mib: float
    cycles: float
    cycle_seconds_mean: float  # over the window since the previous sample
    jobs_done: int


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def cycle_totals(port: int, step: str = "total") -> tuple[float, float]:
    """(cycles, seconds spent in `step` of them) from the operator's cycle duration histogram."""
    return (metric(port, "fairshare_cycle_duration_seconds_count", step=step) or 0.0,
            metric(port, "fairshare_cycle_duration_seconds_sum", step=step) or 0.0)


def api_requests(port: int) -> dict[str, int]:
    """The operator's API requests so far, by "verb resource" (fairshare_api_request_duration_seconds_count)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("fairshare_api_request_duration_seconds_count{"):
            labels = dict(part.split("=", 1) for part in line[line.index("{") + 1:line.index("}")].split(","))
            key = f"{labels['verb'].strip(chr(34))} {labels['resource'].strip(chr(34))}"
            out[key] = out.get(key, 0) + int(float(line.split()[-1]))
    return out


def new_job(rnd: random.Random, load: Load, name: str, run_id: str) -> dict[str, Any]:
    """Mostly one-GPU jobs, some gangs of 2-4 workers, on any class or pinned to one; each runs a few seconds."""
    gang = rnd.random() < 0.2
    body = job_body(name, gpus=rnd.choice((1, 2)) if gang else 1, workers=rnd.randint(2, 4) if gang else 1,
                    classes=rnd.choice(((), ("a100",), ("h100",), ("l4",), ("a100", "h100"))),
                    priority=rnd.choice((0, 0, 0, 5)),
                    annotations={"localcluster.fairshare.dev/simulate-result": "Succeeded",
                                 "localcluster.fairshare.dev/simulate-duration": f"{rnd.randint(*load.job_seconds)}s"})
    body["metadata"]["labels"] = {SOAK_LABEL: run_id}
    return body


def soak_jobs(custom: client.CustomObjectsApi, run_id: str) -> list[dict[str, Any]]:
    response = custom.list_cluster_custom_object(GROUP, VERSION, "trainingjobs",
                                                 label_selector=f"{SOAK_LABEL}={run_id}", _preload_content=False)
    return list(json.loads(response.data)["items"])


def period_credits(job: dict[str, Any]) -> float:
    """What a job was charged in its tenant's current budget period (status.cost.periodCredits)."""
    return float((((job.get("status") or {}).get("cost") or {}).get("periodCredits")) or 0.0)


def charges_by_namespace(jobs: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for job in jobs:
        ns = job["metadata"]["namespace"]
        out[ns] = out.get(ns, 0.0) + period_credits(job)
    return out


@dataclasses.dataclass(frozen=True)
class Deleted:
    """A job the soak deleted, as it read the job just before: its namespace, charges in the period, and phase."""

    namespace: str
    credits: float
    phase: str | None


def delete_as_read(custom: client.CustomObjectsApi, job: dict[str, Any]) -> bool:
    """Delete the job only as the soak read it (preconditions on its UID and resourceVersion), so that what the soak
    records of its charges is what it had when it went; False when it is gone already or changed since (a job read
    as Queued may be admitted, run and charged before the DELETE reaches it: docs/reliability.md#ledger)."""
    meta = job["metadata"]
    options = client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version=meta["resourceVersion"],
                                                                          uid=meta["uid"]))
    try:
        custom.delete_namespaced_custom_object(GROUP, VERSION, meta["namespace"], "trainingjobs", meta["name"],
                                               body=options)
    except ApiException as exc:
        if exc.status in (404, 409):
            return False
        raise
    return True


def record_deletion(job: dict[str, Any], deleted: dict[str, float], by_uid: dict[str, Deleted]) -> None:
    ns = job["metadata"]["namespace"]
    deleted[ns] = deleted.get(ns, 0.0) + period_credits(job)
    by_uid[job["metadata"]["uid"]] = Deleted(ns, period_credits(job), (job.get("status") or {}).get("phase"))


def entries_against_deletions(tenants: dict[str, dict[str, Any]], by_uid: dict[str, Deleted],
                              live: dict[str, float]) -> dict[str, Any]:
    """Every Tenant's ledger entry of a job the soak deleted against what the soak read of the job before deleting
    it: how many differ, by how much, at what phase the soak read them; and entries of no job the soak knows (neither
    live nor deleted by it: a foreign pod, or a job of another test)."""
    entries: dict[str, float] = {}
    for tenant in tenants.values():
        entries.update(((tenant.get("status") or {}).get("ledger") or {}).get("jobs") or {})
    differ = sorted(((round(entries.get(uid, 0.0) - d.credits, 6), uid, d.phase) for uid, d in by_uid.items()
                     if abs(entries.get(uid, 0.0) - d.credits) > 1e-6), reverse=True)
    phases: dict[str, int] = {}
    for _, _, phase in differ:
        phases[str(phase)] = phases.get(str(phase), 0) + 1
    return {"deleted_jobs": len(by_uid), "entries_differ": len(differ),
            "over_by": round(sum(d for d, _, _ in differ if d > 0), 6),
            "under_by": round(sum(d for d, _, _ in differ if d < 0), 6),
            "differ_by_phase_read": phases, "largest": differ[:5],
            "entries_of_no_soak_job": len(set(entries) - set(by_uid) - set(live))}


def ledger_check(custom: client.CustomObjectsApi, run_id: str, teams: list[Team], deleted: dict[str, float],
                 by_uid: dict[str, Deleted], rounds: int = 20) -> dict[str, Any]:
    """Each tenant's spendThisPeriod against the sum of its jobs' charges (those it has, plus `deleted`: namespace ->
    credits of the jobs deleted, read as they were). A tenant is compared in a window where its jobs' charges did
    not move (read before and after its Tenant), as a charge written between the reads would count on one side
    only; up to `rounds` windows, until every tenant was compared."""
    compared: dict[str, tuple[float, float]] = {}  # tenant -> (spendThisPeriod, sum of its jobs' charges)
    for _ in range(rounds):
        before = charges_by_namespace(soak_jobs(custom, run_id))
        spends = {t["metadata"]["name"]: float((t.get("status") or {}).get("spendThisPeriod") or 0.0)
                  for t in custom.list_cluster_custom_object(GROUP, VERSION, "tenants")["items"]}
        after = charges_by_namespace(soak_jobs(custom, run_id))
        for team in teams:
            ns = team.namespace
            if team.name not in compared and before.get(ns, 0.0) == after.get(ns, 0.0):
                compared[team.name] = (spends.get(team.name, 0.0), deleted.get(ns, 0.0) + after.get(ns, 0.0))
        if len(compared) == len(teams):
            break
        time.sleep(1)
    errors = {name: abs(spend - charged) / charged for name, (spend, charged) in compared.items() if charged > 0}
    # Where the worst tenant's figure parts from its jobs': its closedCredits against its deleted jobs', and its
    # per-job entries against the jobs it has (entries too large, entries of no job there).
    by_name = {t.name: t for t in teams}
    tenants = {t["metadata"]["name"]: t for t in custom.list_cluster_custom_object(GROUP, VERSION, "tenants")["items"]}
    live = {j["metadata"]["uid"]: period_credits(j) for j in soak_jobs(custom, run_id)}
    parts: dict[str, Any] = {"per_uid": entries_against_deletions(tenants, by_uid, live)}
    for name in sorted(errors, key=lambda n: -errors[n])[:2]:
        book = (tenants.get(name, {}).get("status") or {}).get("ledger") or {}
        entries = book.get("jobs") or {}
        parts[name] = {"closed": book.get("closedCredits"),
                       "closed_entries": round(sum(v for u, v in entries.items() if u in (book.get("closedAt") or {})),
                                               6),
                       "deleted": round(deleted.get(by_name[name].namespace, 0.0), 6),
                       "entries": round(sum(entries.values()), 6), "entries_no_job": len(set(entries) - set(live)),
                       "entries_over": sum(1 for u, v in entries.items() if u in live and v > live[u] + 1e-6),
                       "over_by": round(sum(v - live[u] for u, v in entries.items() if u in live and v > live[u]), 6)}
    spend_total = sum(s for s, _ in compared.values())
    charged_total = sum(c for _, c in compared.values())
    return {"tenants": len(teams), "compared": len(compared), "with_charges": len(errors),
            "spend_total": round(spend_total, 4), "charges_total": round(charged_total, 4),
            "max_relative_error": round(max(errors.values()), 6) if errors else None,
            "total_relative_error": (round(abs(spend_total - charged_total) / charged_total, 6) if charged_total
                                     else None),
            "worst": sorted(((round(e, 6), n, *compared[n]) for n, e in errors.items()), reverse=True)[:3],
            "worst_parts": parts}


def drain(custom: client.CustomObjectsApi, run_id: str, deleted: dict[str, float], by_uid: dict[str, Deleted],
          port: int) -> int:
    """Stop the churn and let every charge land: delete the jobs that wait (recording what any of them was charged
    before a preemption), until every job left has finished; then wait two more cycles, so that the Tenants' figures
    carry the last charges. Returns the jobs deleted."""
    removed = 0

    def settled() -> bool:
        nonlocal removed
        jobs = soak_jobs(custom, run_id)
        for job in jobs:
            if (job.get("status") or {}).get("phase") in (None, "Queued") and delete_as_read(custom, job):
                record_deletion(job, deleted, by_uid)
                removed += 1
        return all((j.get("status") or {}).get("phase") in TERMINAL for j in jobs)

    wait_for(settled, timeout=300, what="every soak job finished or deleted")
    done = cycle_totals(port)[0]
    wait_for(lambda: cycle_totals(port)[0] >= done + 2, timeout=120, what="two cycles after the last charge")
    return removed


def class_prices(custom: client.CustomObjectsApi) -> dict[str, float]:
    items = custom.list_cluster_custom_object(GROUP, VERSION, "gpuclasses")["items"]
    return {c["metadata"]["name"]: float(p) for c in items
            if (p := (c.get("status") or {}).get("currentPricePerGPUHour")) is not None}


def front_reason_ages(jobs: list[dict[str, Any]], now: float) -> list[tuple[int, float]]:
    """(queue position, seconds since its queue entry was last written) for queued jobs at the front (0-2: no more
    than two jobs ahead)."""
    out = []
    for job in jobs:
        queue = (job.get("status") or {}).get("queue") or {}
        position, updated = queue.get("position"), queue.get("updatedAt")
        if isinstance(position, int) and 0 <= position <= 2 and updated:
            written = datetime.datetime.fromisoformat(str(updated).replace("Z", "+00:00")).timestamp()
            out.append((position, max(0.0, now - written)))
    return out


def price_change_summary(polls: list[dict[str, float]]) -> dict[str, Any]:
    """Relative price changes between consecutive polls (every ~2 s, about one operator cycle), over all classes:
    the share above 10%, 25% and 50%, and the largest."""
    changes = [abs(b[c] - a[c]) / a[c] for a, b in zip(polls, polls[1:], strict=False) for c in a
               if c in b and a[c] > 0]
    if not changes:
        return {"changes": 0}
    return {"changes": len(changes), "moved": sum(1 for c in changes if c > 0),
            **{f"above_{int(x * 100)}pct": round(sum(1 for c in changes if c > x + 1e-3) / len(changes), 4)
               for x in (0.10, 0.25, 0.50)},
            "max": round(max(changes), 3)}


@pytest.mark.timeout(3600 if FULL else 900)
def test_thousands_of_pending_jobs_keep_the_operator_responsive_and_its_memory_bounded(
        kube_api_client: client.ApiClient, operator: OperatorProcess, teams: list[Team]) -> None:
    load = LONG if FULL else SHORT
    rnd = random.Random(11)
    run_id = f"run-{rnd.randrange(10**6):06d}"
    custom = client.CustomObjectsApi(kube_api_client)
    soak_teams = [Team(kube_api_client, f"soak{i:03d}", {"weight": rnd.choice((1, 1, 2, 4))})
                  for i in range(load.tenants)]
    teams += soak_teams
    deleted: dict[str, float] = {}  # namespace -> credits its deleted jobs had been charged this period
    by_uid: dict[str, Deleted] = {}  # and each deleted job, by UID
    started = time.monotonic()
    serial = 0

    def submit(team: Team) -> None:
        nonlocal serial
        serial += 1
        custom.create_namespaced_custom_object(GROUP, VERSION, team.namespace, "trainingjobs",
                                               new_job(rnd, load, f"j{serial:05d}", run_id))

    for i in range(load.jobs):
        submit(teams[i % load.tenants])
    submit_seconds = time.monotonic() - started
    pid = operator.proc.pid if operator.proc else 0

    watch = InvariantWatch(partial_grace_seconds=30)
    samples: list[Sample] = []
    first_status: list[float] = []
    done = 0
    t0 = time.monotonic()
    last_totals = cycle_totals(operator.metrics_port)
    next_sample = 0.0
    prices: list[dict[str, float]] = []  # each poll's GPUClass prices (status.currentPricePerGPUHour)
    reason_ages: dict[int, list[float]] = {0: [], 1: [], 2: []}  # queue position -> age of its reason at each poll
    while (elapsed := time.monotonic() - t0) < load.soak_seconds:
        assert operator.alive(), f"the operator exited: {tail(operator.log, 30)}"
        jobs = soak_jobs(custom, run_id)
        prices.append(class_prices(custom))
        for position, age in front_reason_ages(jobs, time.time()):
            reason_ages[position].append(age)
        # Steady population: each finished job is deleted and replaced by a new one of the same tenant.
        for job in jobs:
            if (job.get("status") or {}).get("phase") in TERMINAL and not job["metadata"].get("deletionTimestamp"):
                ns = job["metadata"]["namespace"]
                if not delete_as_read(custom, job):
                    continue  # deleted by an earlier pass (already replaced), or changed since: the next pass
                record_deletion(job, deleted, by_uid)  # terminal: its last charge is in
                done += 1
                submit(next(t for t in teams if t.namespace == ns))
        if elapsed >= next_sample:
            watch.observe(observe_cluster(kube_api_client))
            totals = cycle_totals(operator.metrics_port)
            window = (totals[0] - last_totals[0], totals[1] - last_totals[1])
            last_totals = totals
            samples.append(Sample(round(elapsed, 1), round(rss_mib(pid), 1), totals[0],
                                  round(window[1] / window[0], 3) if window[0] else float("nan"), done))
            # Responsiveness: a new job of a random tenant gets a status (Queued with a position, or Admitted).
            probe = rnd.choice(teams)
            name = f"probe-{len(first_status):03d}"
            body = new_job(rnd, load, name, run_id)
            asked = time.monotonic()
            custom.create_namespaced_custom_object(GROUP, VERSION, probe.namespace, "trainingjobs", body)
            wait_for(lambda p=probe, n=name: p.status(n).get("phase") or None, timeout=120,
                     what=lambda n=name: f"a status for {n} under load; log:\n{tail(operator.log, 20)}")
            first_status.append(round(time.monotonic() - asked, 2))
            next_sample = elapsed + load.sample_seconds
        time.sleep(2)

    # The ledger, once no charge moves: while jobs run, a job's charge and its Tenant's figure are written a moment
    # apart in the same cycle, and a LIST between the two would see one and not the other.
    drained = drain(custom, run_id, deleted, by_uid, operator.metrics_port)
    ledger = {"drained_jobs": drained, **ledger_check(custom, run_id, soak_teams, deleted, by_uid)}
    report = {
        "tenants": load.tenants, "jobs": load.jobs, "soak_seconds": load.soak_seconds,
        "submit_seconds": round(submit_seconds, 1), "jobs_finished_and_replaced": done,
        "rss_mib": [s.rss_mib for s in samples], "cycle_seconds_mean": [s.cycle_seconds_mean for s in samples],
        "cycles": samples[-1].cycles if samples else 0,
        "mean_step_seconds": {step: round(total / count, 3) if count else None
                              for step in ("snapshot", "apply", "total")
                              for count, total in [cycle_totals(operator.metrics_port, step)]},
        "api_requests": api_requests(operator.metrics_port),
        "first_status_seconds": {"median": statistics.median(first_status), "max": max(first_status)},
        "observations": watch.observations, "violations": [str(v) for v in watch.violations],
        "price_changes_between_polls": price_change_summary(prices),
        "queue_reason_age_seconds": {f"position {p}": {"median": round(statistics.median(a), 1),
                                                       "p99": round(sorted(a)[int(0.99 * (len(a) - 1))], 1),
                                                       "max": round(max(a), 1), "samples": len(a)}
                                     for p, a in reason_ages.items() if a},
        "ledger": ledger,
    }
    print("\nsoak report: " + json.dumps(report))
    assert watch.violations == [], report
    assert done > 0, "no job finished during the soak: the population never churned"
    # The ledger is exact: every tenant with charges compared, each tenant's spend the sum of its jobs' charges within
    # 0.5% (issue 22; docs/reliability.md#ledger).
    assert ledger["with_charges"] > 0 and ledger["compared"] >= len(soak_teams) // 2, report
    assert ledger["max_relative_error"] <= 0.005, report
    # Cycling went on throughout: every window after the first saw cycles complete.
    assert all(b.cycles > a.cycles for a, b in zip(samples, samples[1:], strict=False)), report
    # Memory is bounded: with the population steady, the second half's peak is at most 15% (or 40 MiB) above the
    # first half's, although every finished job's objects were replaced by new ones all along.
    half = len(samples) // 2
    early, late = max(s.rss_mib for s in samples[:half]), max(s.rss_mib for s in samples[half:])
    assert late <= max(early * 1.15, early + 40), report
