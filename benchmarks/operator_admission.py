"""Operator admission throughput on the real local control plane, beside a bare client creating the same pods.

One run, one cluster (250 kwok nodes x 8 GPUs of one class, so capacity is free for every job):
1. baseline: a bare Python client creates N one-GPU pods; we time creation, the moment kube-scheduler has bound
   the last one, and each pod's create-to-bound (creationTimestamp to PodScheduled=True): the floor;
2. the operator: N one-GPU TrainingJobs from T tenants are created the same way; we time the first Admitted to
   the last, and each job's create-to-bound (TrainingJob creation to its pod's PodScheduled=True).
Both are created as fast as 8 client threads go (a burst), or with --rate R at R objects/s spread evenly over
time and tenants (arrivals below capacity: "while capacity is free"). Reports admissions/s, p50/p99
create-to-bound, both rates side by side, the operator's peak RSS, and the CPU seconds each process used in
each phase.

    .venv/bin/python benchmarks/operator_admission.py --jobs 2000 --tenants 20 --nodes 250
    .venv/bin/python benchmarks/operator_admission.py --jobs 2000 --tenants 20 --nodes 250 --rate 20
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import shutil
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
from fairshare.localcluster.operatorenv import KWOK_TOLERATION, local_operator_env
from fairshare.localcluster.processes import free_port
from fairshare.localcluster.shape import NodePool

REPO = Path(__file__).resolve().parent.parent


def _parse_time(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _create_all(create: Any, bodies: list[Any], workers: int, rate: float = 0.0) -> float:
    """Create every body with `workers` client threads, as fast as they go or (rate > 0) the i-th at i/rate s;
    returns wall seconds."""
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        if rate <= 0:
            list(pool.map(create, bodies))
        else:
            futures = []
            for i, body in enumerate(bodies):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(create, body))
            for future in futures:
                future.result()
    return time.perf_counter() - start


def _pod_times(core: client.CoreV1Api, namespaces: list[str]) -> dict[str, tuple[float, float]]:
    """pod name -> (created, bound): its creationTimestamp and kube-scheduler's PodScheduled=True transition."""
    times: dict[str, tuple[float, float]] = {}
    for ns in namespaces:
        for pod in core.list_namespaced_pod(ns).items:
            for cond in pod.status.conditions or []:
                if cond.type == "PodScheduled" and cond.status == "True":
                    times[f"{ns}/{pod.metadata.name}"] = (pod.metadata.creation_timestamp.timestamp(),
                                                          cond.last_transition_time.timestamp())
    return times


def _bound_times(core: client.CoreV1Api, namespaces: list[str]) -> dict[str, float]:
    """pod name -> when kube-scheduler bound it (PodScheduled=True transition)."""
    return {name: bound for name, (_, bound) in _pod_times(core, namespaces).items()}


def _count_bound(api: client.ApiClient, namespace: str | None) -> int:
    """How many pods (in `namespace`, or all namespaces) are bound to a node: metadata only, from the API server's
    watch cache, so that waiting for the end costs the apiserver and this client little (a full typed LIST of
    2,000 pods every half second cost the client more CPU than the operator's scheduling cycles)."""
    path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
    metadata_only = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    response = api.call_api(path, "GET", query_params=[("fieldSelector", "spec.nodeName!="), ("resourceVersion", "0")],
                            header_params={"Accept": metadata_only}, auth_settings=["BearerToken"],
                            _preload_content=False)[0]
    return len(json.loads(response.data)["items"])


def _apiserver_requests(api: client.ApiClient) -> dict[str, float]:
    """'VERB resource[/subresource]' -> requests served so far, from the API server's own metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    response = api.call_api("/metrics", "GET", auth_settings=["BearerToken"], _preload_content=False)[0]
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(response.data.decode()):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            labels = sample.labels
            resource = labels.get("resource", "") + (f"/{labels['subresource']}" if labels.get("subresource") else "")
            key = f"{labels.get('verb', '')} {resource}"
            counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def _requests_between(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
    """Requests per verb and resource between two readings, the non-trivial ones, most first."""
    delta = {k: int(v - before.get(k, 0.0)) for k, v in after.items()}
    return dict(sorted(((k, v) for k, v in delta.items() if v >= 50), key=lambda kv: -kv[1]))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (all its threads); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds each named process used between `start()` and `stop()`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        return {name: round(cpu_seconds(pid) - self.before.get(name, 0.0), 1) for name, pid in self.pids.items()}


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _wait(predicate: Any, timeout: float, what: str, poll_seconds: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll_seconds)
    raise TimeoutError(what)


def pod_body(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "restartPolicy": "Never", "nodeSelector": {"fairshare.dev/gpu-class": "a100"},
        "tolerations": [dict(KWOK_TOLERATION)],
        "containers": [{"name": "c", "image": "registry.invalid/none:0",
                        "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}


def job_body(name: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob", "metadata": {"name": name},
            "spec": {"workers": {"min": 1, "max": 1}, "gpusPerWorker": 1,
                     "podTemplate": {"spec": {"containers": [{"name": "trainer", "image": "registry.invalid/t:0",
                                                              "command": ["python", "-c", "pass"]}]}}}}


def cycle_steps(port: int, timeout: float = 60.0) -> dict[str, float]:
    """Mean milliseconds per cycle step, and the number of cycles, from the operator's own histogram. The timeout is
    generous: on a loaded machine a busy operator took more than 5 s to answer, and the run's results were lost."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as resp:
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


def _latency_summary(latencies: list[float]) -> dict[str, float]:
    return {"p50_s": round(statistics.median(latencies), 2), "p99_s": round(percentile(latencies, 0.99), 2),
            "max_s": round(max(latencies), 2)}


def run(jobs: int, tenants: int, nodes: int, client_threads: int, rate: float = 0.0,
        keep_log: Path | None = None) -> dict[str, Any]:
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
            pids = {p.name: p.pid for p in state.processes}
            pids["benchmark client"] = os.getpid()

            # 1. baseline: bare pods
            core.create_namespace({"metadata": {"name": "baseline"}})
            _wait(lambda: core.list_namespaced_service_account("baseline").items, 60, "baseline SA")
            bodies = [pod_body(f"p-{i:05d}") for i in range(jobs)]
            load_raw = _loadavg()
            cpu = CpuMeter(pids)
            requests_before = _apiserver_requests(api)
            cpu.start()
            t0 = time.time()
            raw_create = _create_all(lambda b: core.create_namespaced_pod("baseline", b), bodies, client_threads,
                                     rate)
            _wait(lambda: _count_bound(api, "baseline") >= jobs, 1200, "baseline pods bound")
            raw_cpu = cpu.stop()
            raw_requests = _requests_between(requests_before, _apiserver_requests(api))
            raw_times = _pod_times(core, ["baseline"])
            raw_bound = max(bound for _, bound in raw_times.values()) - t0
            raw_latencies = [bound - created for created, bound in raw_times.values()]
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
                env=local_operator_env({**os.environ, "KUBECONFIG": state.kubeconfig}), stdout=log,
                stderr=subprocess.STDOUT)
            time.sleep(5)  # let it list and settle before the burst, as a long-running operator would be
            pids["operator"] = operator.pid
            job_bodies = [(names[i % tenants], job_body(f"j-{i:05d}")) for i in range(jobs)]
            load_op = _loadavg()
            cpu = CpuMeter(pids)
            requests_before = _apiserver_requests(api)
            cpu.start()
            t0 = time.time()
            op_create = _create_all(
                lambda nb: custom.create_namespaced_custom_object(GROUP, VERSION, nb[0], "trainingjobs", nb[1]),
                job_bodies, client_threads, rate)

            _wait(lambda: _count_bound(api, None) >= jobs, 1200, "operator pods bound")
            op_cpu = cpu.stop()
            op_requests = _requests_between(requests_before, _apiserver_requests(api))
            bound = _bound_times(core, names)
            created: dict[str, float] = {}
            admitted: list[float] = []
            waits: list[float] = []  # creation to the operator's admission (its own share of create-to-bound)
            for ns in names:
                for tj in custom.list_namespaced_custom_object(GROUP, VERSION, ns, "trainingjobs")["items"]:
                    key = f"{ns}/{tj['metadata']['name']}-worker-0"
                    created[key] = _parse_time(tj["metadata"]["creationTimestamp"])
                    admitted.append(_parse_time(tj["status"]["allocation"]["admittedAt"]))
                    waits.append(admitted[-1] - created[key])
            latencies = [bound[k] - created[k] for k in created if k in bound]
            peak_kib = 0
            for line in Path(f"/proc/{operator.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kib = int(line.split()[1])
            op_bound = max(bound.values()) - t0
            steps = cycle_steps(metrics_port)
            span = max(admitted) - min(admitted)
            raw_summary, op_summary = _latency_summary(raw_latencies), _latency_summary(latencies)
            return {
                "jobs": jobs, "tenants": tenants, "nodes": nodes, "client_threads": client_threads,
                "rate_per_s": rate or "burst",
                "loadavg_1m_at_start": {"bare client": load_raw, "operator": load_op},
                "raw_pods_create_s": round(raw_create, 2), "raw_pods_all_bound_s": round(raw_bound, 2),
                "raw_pods_per_s": round(jobs / raw_bound, 1),
                "raw_create_to_bound_p50_s": raw_summary["p50_s"], "raw_create_to_bound_p99_s": raw_summary["p99_s"],
                "tj_create_s": round(op_create, 2), "operator_all_bound_s": round(op_bound, 2),
                "operator_admissions_per_s_end_to_end": round(jobs / op_bound, 1),
                "admission_span_s": round(span, 2),
                "ratio_to_raw": round((jobs / op_bound) / (jobs / raw_bound), 3),
                "create_to_bound_p50_s": op_summary["p50_s"], "create_to_bound_p99_s": op_summary["p99_s"],
                "create_to_bound_max_s": op_summary["max_s"], "raw_create_to_bound_max_s": raw_summary["max_s"],
                "create_to_admitted_p50_s": round(statistics.median(waits), 2),
                "create_to_admitted_p99_s": round(percentile(waits, 0.99), 2),
                "operator_peak_rss_mib": round(peak_kib / 1024, 1),
                "operator_cycles": steps.pop("cycles", 0),
                "cycle_step_mean_ms": steps,
                "cpu_seconds_bare_client_phase": raw_cpu,
                "cpu_seconds_operator_phase": op_cpu,
                "apiserver_requests_bare_client_phase": raw_requests,
                "apiserver_requests_operator_phase": op_requests,
            }
        finally:
            if operator is not None:
                operator.terminate()
                operator.wait(timeout=30)
                if keep_log is not None:
                    shutil.copyfile(Path(tmp) / "operator.log", keep_log)
            cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=250)
    parser.add_argument("--client-threads", type=int, default=8)
    parser.add_argument("--rate", type=float, default=0.0,
                        help="create this many objects per second, evenly spaced (default 0: a burst, as fast as "
                             "the client threads go)")
    parser.add_argument("--keep-log", type=Path, help="copy the operator's log here")
    parser.add_argument("--json", type=Path, help="also write the raw result here")
    args = parser.parse_args()
    result = run(args.jobs, args.tenants, args.nodes, args.client_threads, args.rate, args.keep_log)
    result["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
