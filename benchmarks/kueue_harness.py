"""Kueue's scheduler-performance harness, run end to end on the real local control plane: this operator, Kueue
itself and bare pods, one after another in one run, on the same generated workload.

The workload is Kueue's own generator config (test/performance/scheduler/configs/<name>/generator.yaml) and its
thresholds Kueue's rangespec.yaml, both read from the Kueue module the toolchain builds the manager from
(`go mod download sigs.k8s.io/kueue@<version>`), never copied here. kueue_shape.py says how Kueue's objects map to
Tenants, GPU classes and TrainingJobs; kueue_systems.py how each system is run (Kueue with webhooks off).

For each system: its setup objects, its controller (none for bare pods), then the arrivals at Kueue's creation
intervals from 16 client threads; a watch records when each job is first seen admitted and finished. Reported per
system: wall time (first creation to last finish), average and p99 time to admission per size class (create call
returned to admission seen), usage per queue class (GPU-seconds held from admission to finish over the queues'
summed nominal quota times the wall time, as Kueue's checker computes it), the controller's CPU seconds and peak
RSS, and the CPU of every control-plane process; for the operator also its API calls by verb and resource, its
TrainingJob status changes by kind and a job's wait in three legs (docs/benchmarks/scale.md, "What is measured").
The bare-pods phase is the floor: kube-scheduler alone, no quota.

    PYTHONPATH=operator:benchmarks $V/python benchmarks/kueue_harness.py --scale 0.1
    PYTHONPATH=operator:benchmarks $V/python benchmarks/kueue_harness.py --scale 0.1 --systems bare,operator --check ci
"""

from __future__ import annotations

import argparse
import concurrent.futures
import heapq
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import kueue_report
import kueue_systems as systems
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kueue_shape import Plan, deep_queue, expand, nodes_for
from operator_admission import cpu_seconds, cycle_steps

from fairshare.localcluster import toolchain
from fairshare.localcluster.cluster import LocalCluster
from fairshare.localcluster.operatorenv import local_operator_env
from fairshare.localcluster.processes import free_port
from fairshare.localcluster.shape import NodePool

REPO = Path(__file__).resolve().parent.parent


def kueue_configs(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Kueue's generator config and rangespec of one scenario (baseline, ...), from the Kueue module."""
    root = toolchain.kueue_module_dir() / "test" / "performance" / "scheduler" / "configs"
    folder = root / name
    if not folder.is_dir():
        have = ", ".join(sorted(p.name for p in root.iterdir()))
        raise SystemExit(f"--config {name}: Kueue {toolchain.KUEUE_VERSION} has no such scenario (it has: {have})")
    return (yaml.safe_load((folder / "generator.yaml").read_text()),
            yaml.safe_load((folder / "rangespec.yaml").read_text()))


def create(api: client.ApiClient, doc: dict[str, Any]) -> None:
    """Create one object of any kind this harness makes, without decoding the response (the client's CPU is
    shared with the systems measured)."""
    kind, ns = doc["kind"], doc["metadata"].get("namespace")
    if doc["apiVersion"] == "v1":
        core = client.CoreV1Api(api)
        if kind == "Namespace":
            core.create_namespace(doc, _preload_content=False)
        else:
            core.create_namespaced_pod(ns, doc, _preload_content=False)
        return
    if doc["apiVersion"] == "batch/v1":
        client.BatchV1Api(api).create_namespaced_job(ns, doc, _preload_content=False)
        return
    group, version = doc["apiVersion"].split("/")
    plural = kind.lower() + ("es" if kind.endswith("s") else "s")
    custom = client.CustomObjectsApi(api)
    if ns:
        custom.create_namespaced_custom_object(group, version, ns, plural, doc, _preload_content=False)
    else:
        custom.create_cluster_custom_object(group, version, plural, doc, _preload_content=False)


class Watcher(threading.Thread):
    """Watches one system's objects; records when each job is first seen admitted and finished (monotonic s)."""

    def __init__(self, api: client.ApiClient, system: str, expected: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.api, self.system, self.expected = api, system, expected  # job key -> objects that make it up
        self.parts: dict[str, dict[str, tuple[bool, bool]]] = {}
        self.admitted: dict[str, float] = {}  # first admission
        self.finished: dict[str, float] = {}
        self.holding: dict[str, float] = {}  # admitted now (not finished, not evicted) since
        self.spans: dict[str, list[tuple[float, float]]] = {}  # past admissions, each (from, to): an evicted job
        # holds nothing between its eviction and its next admission
        # The operator's jobs only, as monotonic s: the first cycle that saw the job (the Admitted condition's
        # transition time in its first status, else its admittedAt) and the cycle that admitted it (admittedAt).
        # Both are the API's second-resolution timestamps, converted with this clock's offset.
        self.seen_by_cycle: dict[str, float] = {}
        self.decided: dict[str, float] = {}
        self.offset = time.time() - time.monotonic()
        self.statuses: dict[str, dict[str, Any]] = {}  # operator: each job's last status seen
        self.status_writes: dict[str, int] = {}  # operator: status changes seen, by what they changed (status_change)
        self.stop = threading.Event()
        self.done = threading.Event()

    def spans_until(self, job: str, end: float) -> list[tuple[float, float]]:
        """The job's admissions as (from, to), the current one (if any) up to `end`."""
        now = [(self.holding[job], end)] if job in self.holding else []
        return self.spans.get(job, []) + now

    def _list_fn(self) -> Any:
        group, version, plural = systems.watched(self.system)
        if not group:
            core = client.CoreV1Api(self.api)
            return lambda **kw: core.list_pod_for_all_namespaces(label_selector=systems.JOB_LABEL, **kw)
        custom = client.CustomObjectsApi(self.api)
        return lambda **kw: custom.list_cluster_custom_object(group, version, plural, **kw)

    def _see(self, obj: dict[str, Any]) -> None:
        job = systems.key(self.system, obj)
        if job is None or job not in self.expected:
            return
        now = time.monotonic()
        if self.system == "operator":
            status = obj.get("status") or {}
            self._see_cycles(job, status)
            change = status_change(self.statuses.get(job), status)
            if change:
                self.status_writes[change] = self.status_writes.get(change, 0) + 1
            self.statuses[job] = status
        parts = self.parts.setdefault(job, {})
        parts[(obj.get("metadata") or {}).get("name", "")] = systems.state(self.system, obj)
        if len(parts) < self.expected[job]:
            return
        admitted = all(a or f for a, f in parts.values())
        if job not in self.admitted and admitted:
            self.admitted[job] = now
        if admitted and job not in self.holding and job not in self.finished:
            self.holding[job] = now
        finished = all(f for _, f in parts.values())
        if job in self.holding and (finished or not admitted):
            self.spans.setdefault(job, []).append((self.holding.pop(job), now))
        if job not in self.finished and finished:
            self.finished[job] = now
            self.admitted.setdefault(job, now)
            if len(self.finished) == len(self.expected):
                self.done.set()

    def _see_cycles(self, job: str, status: dict[str, Any]) -> None:
        """When the operator's cycles first saw and admitted `job`, as its status says (first write that says it)."""
        admitted_at = (status.get("allocation") or {}).get("admittedAt")
        if admitted_at and job not in self.decided:
            self.decided[job] = _epoch(admitted_at) - self.offset
        if job in self.seen_by_cycle or not status.get("phase"):
            return
        waiting = [c.get("lastTransitionTime") for c in status.get("conditions") or []
                   if c.get("type") == "Admitted" and c.get("status") == "False"]
        first = waiting[0] if waiting and status.get("phase") == "Queued" else admitted_at
        if first:
            self.seen_by_cycle[job] = _epoch(first) - self.offset

    def run(self) -> None:
        list_fn, version = self._list_fn(), ""
        while not self.stop.is_set():
            try:
                stream = watch.Watch().stream(list_fn, resource_version=version, timeout_seconds=60,
                                              _request_timeout=90)
                for event in stream:
                    obj = event["object"]
                    obj = obj if isinstance(obj, dict) else self.api.sanitize_for_serialization(obj)
                    version = (obj.get("metadata") or {}).get("resourceVersion", version)
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._see(obj)
                    if self.stop.is_set():
                        return
            except ApiException as exc:
                if exc.status == 410:
                    version = ""  # expired: list afresh (first-seen times of what was missed are late, not lost)
                else:
                    time.sleep(1)
            except Exception:  # noqa: BLE001 (a dropped connection: watch again from the last version)
                time.sleep(1)


def status_change(before: dict[str, Any] | None, after: dict[str, Any]) -> str | None:
    """What one TrainingJob status change seen on the watch was: a queue entry (first, or rewritten: position,
    reason), an admission, Running, a finish, or another change (cost, conditions); None for no status change."""
    before = before or {}
    if before == after:
        return None
    phase, was = after.get("phase"), before.get("phase")
    if phase == "Queued":
        if was != "Queued":
            return "queue entry (first)" if not was else f"queue entry (from {was})"
        old, new = before.get("queue") or {}, after.get("queue") or {}
        before_at, after_at = old.get("position"), new.get("position")
        if before_at != after_at:
            front = before_at is not None and after_at is not None and min(before_at, after_at) <= 3
            return "queue entry (position, front)" if front else "queue entry (position, further back)"
        return "queue entry (reason)" if old.get("reason") != new.get("reason") else "queue entry (other)"
    if phase != was:
        return {"Admitted": "admission", "Running": "running", "Succeeded": "finish",
                "Failed": "finish"}.get(phase or "", f"to {phase}")
    return f"{phase}: other"


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def create_all(api: client.ApiClient, bodies: list[tuple[float, list[dict[str, Any]]]], threads: int,
               created: dict[str, float], keys: list[str]) -> float:
    """Create each arrival's objects at its time (seconds after now) from `threads` client threads; records when
    each create call returned, per job key. Returns the monotonic start time."""
    start = time.monotonic()
    heap = [(at, i) for i, (at, _) in enumerate(bodies)]
    heapq.heapify(heap)

    def create_one(i: int) -> None:
        for doc in bodies[i][1]:
            create(api, doc)
        created[keys[i]] = time.monotonic()

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        futures = []
        while heap:
            at, i = heapq.heappop(heap)
            delay = start + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(create_one, i))
        for f in futures:
            f.result()
    return start


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def gpus_held_each_second(spans: list[tuple[float, float, int]], seconds: int) -> list[float]:
    """GPUs held in each of the first `seconds` whole seconds, from (from, to, GPUs) spans of admission: a span
    counts in a second for the part of the second it covers."""
    series = [0.0] * seconds
    for lo, hi, gpus in spans:
        for second in range(max(0, int(lo)), min(seconds, int(hi) + 1)):
            series[second] += gpus * max(0.0, min(hi, second + 1) - max(lo, second))
    return series


def summarize(plan: Plan, system: str, start: float, created: dict[str, float], w: Watcher) -> dict[str, Any]:
    """Wall time, time to admission per size class and usage per queue class, as Kueue's recorder reports them."""
    end = max(w.finished.values(), default=time.monotonic()) if w.done.is_set() else time.monotonic()
    wall = end - start
    classes: dict[str, list[float]] = {}
    held: dict[str, float] = {}
    queue_of = {q.name: q for q in plan.queues}
    for a in plan.arrivals:
        k = f"{systems.namespace(system, a.queue)}/{a.name}"
        if k in w.admitted and k in created:
            classes.setdefault(a.size_class, []).append(max(0.0, w.admitted[k] - created[k]))
    held_spans: list[tuple[float, float, int]] = []  # (from, to, GPUs), seconds since the start
    for a in plan.arrivals:
        k = f"{systems.namespace(system, a.queue)}/{a.name}"
        spans = w.spans_until(k, end)
        if spans:
            qc = queue_of[a.queue].queue_class
            held[qc] = held.get(qc, 0.0) + a.request * sum(max(0.0, hi - lo) for lo, hi in spans)
            held_spans += [(lo - start, hi - start, a.request) for lo, hi in spans]
    nominal: dict[str, int] = {}
    for q in plan.queues:
        nominal[q.queue_class] = nominal.get(q.queue_class, 0) + q.nominal
    series = gpus_held_each_second(held_spans, int(wall) + 1)
    first_admission_span = max(w.admitted.values(), default=start) - start
    split: dict[str, dict[str, list[float]]] = {}  # size class -> leg of a job's wait -> seconds (operator)
    for a in plan.arrivals:
        k = f"{systems.namespace(system, a.queue)}/{a.name}"
        if k in created and k in w.admitted and k in w.seen_by_cycle and k in w.decided:
            legs = split.setdefault(a.size_class, {"created_to_seen": [], "seen_to_decision": [],
                                                   "decision_to_written": []})
            legs["created_to_seen"].append(w.seen_by_cycle[k] - created[k])
            legs["seen_to_decision"].append(w.decided[k] - w.seen_by_cycle[k])
            legs["decision_to_written"].append(w.admitted[k] - w.decided[k])
    out = {
        "admissions_per_minute": round(60 * len(w.admitted) / first_admission_span, 1) if first_admission_span
        else None,
        "usage_over_time_pct": [round(100 * g / sum(nominal.values()), 1) for g in series],
        "jobs": len(plan.arrivals), "admitted": len(w.admitted), "finished": len(w.finished),
        "wall_s": round(wall, 1),
        "time_to_admission": {c: {"count": len(v), "avg_s": round(statistics.fmean(v), 2),
                                  "p50_s": round(percentile(v, 0.5), 2), "p99_s": round(percentile(v, 0.99), 2),
                                  "max_s": round(max(v), 2)} for c, v in sorted(classes.items())},
        "usage_pct": {qc: round(100 * held[qc] / (nominal[qc] * wall), 1) for qc in held},
    }
    if w.status_writes:
        out["operator_status_changes"] = dict(sorted(w.status_writes.items()))
    if split:  # API timestamps are whole seconds (truncated): each leg's average is good to about a second
        out["wait_split_avg_s"] = {c: {leg: round(statistics.fmean(v), 2) for leg, v in legs.items()}
                                   for c, legs in sorted(split.items())}
    return out


def api_requests(port: int, timeout: float = 60.0) -> dict[str, int]:
    """The operator's own API calls so far, by `verb resource`, from its fairshare_api_request_duration_seconds
    histogram's counts (Events included: they are created through the same timed call)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as resp:
        text = resp.read().decode()
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "fairshare_api_request_duration_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_count"):
                label = f"{sample.labels.get('verb')} {sample.labels.get('resource')}"
                counts[label] = counts.get(label, 0) + int(sample.value)
    return dict(sorted(counts.items()))


def gc_pauses(port: int, timeout: float = 60.0) -> dict[str, dict[str, float]]:
    """The operator's garbage collections so far, per generation: how many, the seconds they held the process in all,
    the longest, and how many held it over half a second (fairshare_gc_pause_seconds and its longest gauge)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as resp:
        text = resp.read().decode()
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in ("fairshare_gc_pause_seconds", "fairshare_gc_pause_longest_seconds"):
            continue
        for sample in family.samples:
            row = out.setdefault(sample.labels["generation"], {})
            if sample.name.endswith("_count"):
                row["count"] = sample.value
            elif sample.name.endswith("_sum"):
                row["total_s"] = round(sample.value, 3)
            elif sample.name == "fairshare_gc_pause_longest_seconds":
                row["longest_s"] = round(sample.value, 3)
            elif sample.name.endswith("_bucket") and sample.labels["le"] == "0.5":
                row["under_half_second"] = sample.value
    for row in out.values():
        row["over_half_second"] = row.get("count", 0) - row.pop("under_half_second", 0)
    return dict(sorted(out.items()))


def run_system(system: str, plan: Plan, api: client.ApiClient, state: Any, work: Path, gpus_per_node: int,
               threads: int, timeout: float) -> dict[str, Any]:
    """One system through the whole plan; its controller is stopped before this returns."""
    cohort = {q.name: q.cohort for q in plan.queues}
    for doc in systems.setup_objects(system, plan.queues):
        create(api, doc)
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + 120
    for q in plan.queues:  # pods are refused until the namespace's default ServiceAccount exists
        while not core.list_namespaced_service_account(systems.namespace(system, q.name)).items:
            if time.monotonic() > deadline:
                raise TimeoutError("default ServiceAccounts")
            time.sleep(0.5)
    controller: subprocess.Popen[bytes] | None = None
    env = dict(os.environ)
    metrics_port = free_port()
    if system == "operator":
        log = open(work / "operator.log", "wb")  # noqa: SIM115 (closed with the process)
        controller = subprocess.Popen(
            [sys.executable, "-m", "fairshare.cli.main", "operator", "--metrics-port", str(metrics_port),
             "--liveness-port", "0", "--period", "5", "--no-leader-election"],
            env=local_operator_env({**env, "KUBECONFIG": state.kubeconfig}), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while b"store listed, scheduling" not in (work / "operator.log").read_bytes():
            if controller.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the operator did not start scheduling; see {work / 'operator.log'}")
            time.sleep(0.5)
        time.sleep(3)  # past its first cycle, as a long-running operator would be
    elif system == "kueue":
        controller, health = systems.start_kueue(work, Path(state.data_dir), state.kubeconfig, env)
        deadline = time.monotonic() + 120
        while not systems.kueue_ready(health):
            if controller.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Kueue did not become ready; see {work / 'kueue.log'}")
            time.sleep(0.5)
        time.sleep(3)  # its caches hold the queues before the first workload, as in a long-running install
    try:
        bodies, keys, expected = [], [], {}
        for a in plan.arrivals:
            docs = systems.job(system, a, cohort[a.queue], gpus_per_node)
            k = f"{systems.namespace(system, a.queue)}/{a.name}"
            bodies.append((a.at, docs))
            keys.append(k)
            expected[k] = len(docs) if system == "bare" else 1
        w = Watcher(api, system, expected)
        w.start()
        pids = {p.name: p.pid for p in state.processes} | {"harness": os.getpid()}
        if controller is not None:
            pids[system] = controller.pid
        cpu_before = {n: cpu_seconds(p) for n, p in pids.items()}
        load = Path("/proc/loadavg").read_text().split()[:3]
        created: dict[str, float] = {}
        start = create_all(api, bodies, threads, created, keys)
        finished_in_time = w.done.wait(timeout=max(1.0, start + timeout - time.monotonic()))
        w.stop.set()
        result = summarize(plan, system, start, created, w)
        result["completed"] = finished_in_time
        result["loadavg_at_start"] = [float(x) for x in load]
        result["cpu_seconds"] = {n: round(cpu_seconds(p) - cpu_before[n], 1) for n, p in pids.items()}
        if controller is not None:
            result["controller_peak_rss_mib"] = _peak_rss_mib(controller.pid)
        if system == "operator":  # where its cycles went: mean ms per step, from its own histogram
            result["operator_cycle_step_mean_ms"] = cycle_steps(metrics_port)
            writes = api_requests(metrics_port)
            result["operator_api_requests"] = writes
            result["operator_gc_pauses"] = gc_pauses(metrics_port)
            if result["admitted"]:
                result["operator_api_requests_per_admission"] = {
                    k: round(v / result["admitted"], 2) for k, v in writes.items()}
        return result
    finally:
        if controller is not None:
            controller.terminate()
            try:
                controller.wait(timeout=30)
            except subprocess.TimeoutExpired:
                controller.kill()
                controller.wait()


def run(config_name: str, scale: float, order: list[str], gpus_per_node: int, threads: int,
        timeout: float, keep: Path | None, deep: tuple[int, int, int] | None = None) -> dict[str, Any]:
    generator, rangespec = kueue_configs(config_name)
    plan = deep_queue(*deep) if deep else expand(generator, scale)
    pools = tuple(NodePool(systems.pool(s, c), nodes_for(cap, gpus_per_node), gpus_per_node)
                  for s in order for c, cap in sorted(plan.cohorts().items()))
    with tempfile.TemporaryDirectory(prefix="fairshare-kueue-bench-") as tmp:
        work = keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        cluster = LocalCluster(Path(tmp) / "cluster", pools)
        state = cluster.start(timeout=300)
        try:
            kubectl = [str(cluster.binaries.kubectl), f"--kubeconfig={state.kubeconfig}"]
            crds = [str(REPO / "crds")] if "operator" in order else []
            crds += [str(p) for p in systems.kueue_crds()] if "kueue" in order else []
            for verb in (["apply", "--server-side"], ["wait", "--for=condition=Established", "--timeout=300s"]):
                for path in crds:
                    done = subprocess.run([*kubectl, *verb, "-f", path], capture_output=True, text=True)
                    if done.returncode:
                        raise RuntimeError(f"kubectl {verb[0]} -f {path}: {done.stderr}")
            if "kueue" in order:
                subprocess.run([*kubectl, "create", "namespace", "kueue-system"], check=True, capture_output=True)
            api = config.new_client_from_config(config_file=state.kubeconfig)
            api.configuration.connection_pool_maxsize = threads + 4
            results = {}
            for system in order:
                print(f"[kueue-harness] {system}: {len(plan.arrivals)} jobs over {len(plan.queues)} queues",
                      file=sys.stderr, flush=True)
                results[system] = run_system(system, plan, api, state, work, gpus_per_node, threads, timeout)
                brief = {k: v for k, v in results[system].items() if k != "usage_over_time_pct"}
                print(f"[kueue-harness] {system}: {json.dumps(brief)}", file=sys.stderr, flush=True)
        finally:
            cluster.stop()
    return {"config": f"deep-queue {deep}" if deep else config_name, "kueue_version": toolchain.KUEUE_VERSION,
            "scale": scale,
            "jobs": len(plan.arrivals), "queues": len(plan.queues), "cohorts": len(plan.cohorts()),
            "gpus_per_node": gpus_per_node, "nodes_per_system": sum(nodes_for(c, gpus_per_node)
                                                                    for c in plan.cohorts().values()),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "kueue_thresholds": rangespec, "results": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="baseline", help="Kueue's scenario folder (default: %(default)s)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every workloads set's count (0 < s <= 1)")
    parser.add_argument("--systems", default="operator,kueue",
                        help="comma-separated, run in this order: bare, operator, kueue (default: %(default)s)")
    parser.add_argument("--gpus-per-node", type=int, default=10,
                        help="GPUs per kwok node; must divide every cohort's quota (default: %(default)s)")
    parser.add_argument("--client-threads", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=600, help="seconds each system may take (default 600)")
    parser.add_argument("--check", metavar="PROFILE",
                        help="exit 1 when a result misses the thresholds of this profile of thresholds.yaml")
    parser.add_argument("--keep", type=Path, help="keep the controllers' logs in this folder")
    parser.add_argument("--deep-queue", type=int, nargs=3, metavar=("DEPTH", "GPUS", "RUNTIME_MS"),
                        help="instead of Kueue's config: one tenant, DEPTH one-GPU jobs at once on GPUS GPUs, each "
                             "running RUNTIME_MS (reports admissions per minute)")
    parser.add_argument("--json", type=Path, help="also write the raw report here")
    parser.add_argument("--plot", type=Path, metavar="PREFIX", help="write PREFIX_admission.png and PREFIX_usage.png")
    args = parser.parse_args()
    order = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(order) - set(systems.SYSTEMS))
    if unknown:
        parser.error(f"--systems: unknown {unknown}; choose from {', '.join(systems.SYSTEMS)}")
    report = run(args.config, args.scale, order, args.gpus_per_node, args.client_threads, args.timeout, args.keep,
                 tuple(args.deep_queue) if args.deep_queue else None)
    print(json.dumps({n: {k: v for k, v in r.items() if k != "usage_over_time_pct"}
                      for n, r in report["results"].items()}, indent=2))
    print(kueue_report.table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.plot:
        kueue_report.plot(report, args.plot)
    if args.check:
        failures = kueue_report.check(report, args.check)
        for f in failures:
            print(f"THRESHOLD MISSED: {f}", file=sys.stderr)
        return 1 if failures else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
