"""Operator admission throughput on the real local control plane, beside a bare client creating the same pods.

One run, one cluster (250 kwok nodes x 8 GPUs of one class, so capacity is free for every job):
1. baseline: a bare Python client creates N one-GPU pods as fast as it can; we time creation and the moment
   kube-scheduler has bound the last one;
2. the operator: N one-GPU TrainingJobs from T tenants are created the same way; we time the first Admitted to
   the last, and each job's create-to-bound (TrainingJob creation to its pod's PodScheduled=True).
Reports admissions/s, p50/p99 create-to-bound, both rates side by side, and the operator's peak RSS.

    .venv/bin/python benchmarks/operator_admission.py --jobs 2000 --tenants 20 --nodes 250
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from kubernetes import client, config

from fairshare.api.constants import GROUP, VERSION
from fairshare.localcluster.cluster import LocalCluster
from fairshare.localcluster.processes import free_port
from fairshare.localcluster.shape import NodePool

REPO = Path(__file__).resolve().parent.parent


def _parse_time(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _create_all(create: Any, bodies: list[dict[str, Any]], workers: int) -> float:
    """Create every body with `workers` client threads; returns wall seconds."""
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(create, bodies))
    return time.perf_counter() - start


def _bound_times(core: client.CoreV1Api, namespaces: list[str]) -> dict[str, float]:
    """pod name -> when kube-scheduler bound it (PodScheduled=True transition)."""
    bound: dict[str, float] = {}
    for ns in namespaces:
        for pod in core.list_namespaced_pod(ns).items:
            for cond in pod.status.conditions or []:
                if cond.type == "PodScheduled" and cond.status == "True":
                    bound[f"{ns}/{pod.metadata.name}"] = cond.last_transition_time.timestamp()
    return bound


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise TimeoutError(what)


def pod_body(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "restartPolicy": "Never", "nodeSelector": {"fairshare.dev/gpu-class": "a100"},
        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [{"name": "c", "image": "registry.invalid/none:0",
                        "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}


def job_body(name: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob", "metadata": {"name": name},
            "spec": {"workers": {"min": 1, "max": 1}, "gpusPerWorker": 1,
                     "podTemplate": {"spec": {"containers": [{"name": "trainer", "image": "registry.invalid/t:0",
                                                              "command": ["python", "-c", "pass"]}]}}}}


def cycle_steps(port: int) -> dict[str, float]:
    """Mean milliseconds per cycle step, and the number of cycles, from the operator's own histogram."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "fairshare_cycle_duration_seconds":
            continue
        for sample in family.samples:
            step = sample.labels.get("step", "")
            if sample.name.endswith("_sum"):
                sums[step] = sample.value
            elif sample.name.endswith("_count"):
                counts[step] = sample.value
    out = {step: round(1000 * sums[step] / counts[step], 1) for step in sums if counts.get(step)}
    out["cycles"] = counts.get("total", 0)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(jobs: int, tenants: int, nodes: int, client_threads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fairshare-bench-") as tmp:
        cluster = LocalCluster(Path(tmp) / "cluster", (NodePool("a100", nodes, 8),))
        state = cluster.start(timeout=300)
        operator = None
        try:
            api = config.new_client_from_config(config_file=state.kubeconfig)
            core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
            kubectl = str(cluster.binaries.kubectl)
            subprocess.run([kubectl, f"--kubeconfig={state.kubeconfig}", "apply", "-f", str(REPO / "crds")],
                           check=True, capture_output=True)
            subprocess.run([kubectl, f"--kubeconfig={state.kubeconfig}", "wait", "--for=condition=Established",
                            "-f", str(REPO / "crds")], check=True, capture_output=True)

            # 1. baseline: bare pods
            core.create_namespace({"metadata": {"name": "baseline"}})
            _wait(lambda: core.list_namespaced_service_account("baseline").items, 60, "baseline SA")
            bodies = [pod_body(f"p-{i:05d}") for i in range(jobs)]
            t0 = time.time()
            raw_create = _create_all(lambda b: core.create_namespaced_pod("baseline", b), bodies, client_threads)
            _wait(lambda: len(_bound_times(core, ["baseline"])) == jobs, 600, "baseline pods bound")
            raw_bound = max(_bound_times(core, ["baseline"]).values()) - t0
            core.delete_collection_namespaced_pod("baseline", grace_period_seconds=0)
            _wait(lambda: not core.list_namespaced_pod("baseline").items, 300, "baseline pods gone")

            # 2. the operator
            names = [f"team-{t:02d}" for t in range(tenants)]
            for ns in names:
                core.create_namespace({"metadata": {"name": ns}})
                custom.create_cluster_custom_object(GROUP, VERSION, "tenants", {
                    "apiVersion": f"{GROUP}/{VERSION}", "kind": "Tenant", "metadata": {"name": ns},
                    "spec": {"namespaces": [ns]}})
            custom.create_cluster_custom_object(GROUP, VERSION, "gpuclasses", {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "GPUClass", "metadata": {"name": "a100"},
                "spec": {"nodeSelector": {"fairshare.dev/gpu-class": "a100"}, "pricePerGPUHour": 2.5,
                         "powerWatts": 400}})
            _wait(lambda: all(core.list_namespaced_service_account(ns).items for ns in names), 60, "SAs")
            log = open(Path(tmp) / "operator.log", "wb")  # noqa: SIM115 (closed with the process)
            metrics_port = free_port()
            operator = subprocess.Popen(
                [sys.executable, "-m", "fairshare.cli.main", "operator", "--metrics-port", str(metrics_port),
                 "--liveness-port", "0", "--period", "5"],
                env={**os.environ, "KUBECONFIG": state.kubeconfig}, stdout=log, stderr=subprocess.STDOUT)
            time.sleep(5)  # let it list and settle before the burst, as a long-running operator would be
            job_bodies = [(names[i % tenants], job_body(f"j-{i:05d}")) for i in range(jobs)]
            t0 = time.time()
            op_create = _create_all(
                lambda nb: custom.create_namespaced_custom_object(GROUP, VERSION, nb[0], "trainingjobs", nb[1]),
                job_bodies, client_threads)

            def all_bound() -> bool:
                return len(_bound_times(core, names)) >= jobs

            _wait(all_bound, 1200, "operator pods bound")
            bound = _bound_times(core, names)
            created: dict[str, float] = {}
            admitted: list[float] = []
            for ns in names:
                for tj in custom.list_namespaced_custom_object(GROUP, VERSION, ns, "trainingjobs")["items"]:
                    key = f"{ns}/{tj['metadata']['name']}-worker-0"
                    created[key] = _parse_time(tj["metadata"]["creationTimestamp"])
                    admitted.append(_parse_time(tj["status"]["allocation"]["admittedAt"]))
            latencies = [bound[k] - created[k] for k in created if k in bound]
            peak_kib = 0
            for line in Path(f"/proc/{operator.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kib = int(line.split()[1])
            op_bound = max(bound.values()) - t0
            steps = cycle_steps(metrics_port)
            span = max(admitted) - min(admitted)
            return {
                "jobs": jobs, "tenants": tenants, "nodes": nodes, "client_threads": client_threads,
                "raw_pods_create_s": round(raw_create, 2), "raw_pods_all_bound_s": round(raw_bound, 2),
                "raw_pods_per_s": round(jobs / raw_bound, 1),
                "tj_create_s": round(op_create, 2), "operator_all_bound_s": round(op_bound, 2),
                "operator_admissions_per_s_end_to_end": round(jobs / op_bound, 1),
                "admission_span_s": round(span, 2),
                "ratio_to_raw": round((jobs / op_bound) / (jobs / raw_bound), 3),
                "create_to_bound_p50_s": round(statistics.median(latencies), 2),
                "create_to_bound_p99_s": round(percentile(latencies, 0.99), 2),
                "operator_peak_rss_mib": round(peak_kib / 1024, 1),
                "operator_cycles": steps.pop("cycles", 0),
                "cycle_step_mean_ms": steps,
            }
        finally:
            if operator is not None:
                operator.terminate()
                operator.wait(timeout=30)
            cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=250)
    parser.add_argument("--client-threads", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the raw result here")
    args = parser.parse_args()
    result = run(args.jobs, args.tenants, args.nodes, args.client_threads)
    result["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
