"""Status writes while many queued TrainingJobs are deleted at once, on the real local control plane.

One cluster (2 kwok nodes x 8 GPUs, so nearly every job queues); T tenants submit N one-node (8-GPU) jobs in all;
once every job has its status and the operator's writes have settled, all of them are deleted at once, each
tenant's namespace by one `kubectl delete trainingjobs --all` running in parallel, in each deletion mode asked for:
- background (kubectl's default): each job is gone at its DELETE; no job is ever seen with a deletionTimestamp;
- foreground (`--cascade=foreground`): each job first gets a deletionTimestamp and the foregroundDeletion
  finalizer, and stays until the garbage collector removes it: the window in which a job "being deleted" is seen.
Counts, from the API server's own metrics (apiserver_request_total), the PATCHes of trainingjobs/status from the
first DELETE until the operator has been quiet for three cycle periods after the last job was gone, by response
code (404: the job was already gone), and the operator's cycles meanwhile.

    .venv/bin/python benchmarks/deletion_writes.py --jobs 1000 --tenants 4
    # the same operator code as another checkout (before/after):
    .venv/bin/python benchmarks/deletion_writes.py --jobs 1000 --operator-pythonpath ../main/operator
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from kubernetes import client, config
from prometheus_client.parser import text_string_to_metric_families

from fairshare.api.constants import GROUP, VERSION
from fairshare.localcluster.cluster import LocalCluster
from fairshare.localcluster.operatorenv import local_operator_env
from fairshare.localcluster.processes import free_port
from fairshare.localcluster.shape import NodePool

REPO = Path(__file__).resolve().parent.parent
PERIOD = 2.0


def status_patches(api: client.ApiClient) -> dict[str, float]:
    """Response code -> PATCHes of trainingjobs/status the API server has served so far."""
    response = api.call_api("/metrics", "GET", auth_settings=["BearerToken"], _preload_content=False)[0]
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(response.data.decode()):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            labels = sample.labels
            if (sample.name.endswith("_total") and labels.get("verb") == "PATCH"
                    and labels.get("resource") == "trainingjobs" and labels.get("subresource") == "status"):
                counts[labels.get("code", "")] = counts.get(labels.get("code", ""), 0.0) + sample.value
    return counts


def operator_cycles(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("fairshare_cycles_total{"))


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.5)


def settled(api: client.ApiClient, port: int) -> None:
    """Until the operator has written no status for three cycle periods in which it cycled."""
    last, quiet_since = status_patches(api), time.monotonic()
    cycles_at = operator_cycles(port)
    while time.monotonic() - quiet_since < 3 * PERIOD or operator_cycles(port) < cycles_at + 2:
        time.sleep(PERIOD / 2)
        now = status_patches(api)
        if now != last:
            last, quiet_since, cycles_at = now, time.monotonic(), operator_cycles(port)


def job_body(name: str) -> dict[str, Any]:
    container = {"name": "trainer", "image": "registry.invalid/trainer:0", "command": ["python", "-c", "pass"]}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob", "metadata": {"name": name},
            "spec": {"workers": {"min": 1, "max": 1}, "gpusPerWorker": 8,
                     "podTemplate": {"spec": {"containers": [container]}}}}


def one_round(api: client.ApiClient, kubectl: list[str], names: list[str], jobs: int, port: int,
              mode: str) -> dict[str, Any]:
    custom = client.CustomObjectsApi(api)
    bodies = [(names[i % len(names)], job_body(f"j-{i:05d}")) for i in range(jobs)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda nb: custom.create_namespaced_custom_object(GROUP, VERSION, nb[0], "trainingjobs",
                                                                        nb[1]), bodies))

    def listed() -> list[dict[str, Any]]:
        return custom.list_cluster_custom_object(GROUP, VERSION, "trainingjobs")["items"]

    wait(lambda: all((j.get("status") or {}).get("phase") for j in listed()), 600, "every job has a status")
    settled(api, port)
    queued = sum(1 for j in listed() if j["status"]["phase"] == "Queued")
    before, cycles_before = status_patches(api), operator_cycles(port)
    started = time.monotonic()
    extra = ["--cascade=foreground"] if mode == "foreground" else []
    procs = [subprocess.Popen([*kubectl, "delete", "trainingjobs", "--all", "-n", ns, "--wait=false", *extra],
                              stdout=subprocess.DEVNULL) for ns in names]
    for proc in procs:
        proc.wait(timeout=600)
    wait(lambda: not listed(), 600, "every job gone")
    gone = time.monotonic() - started
    settled(api, port)
    after = status_patches(api)
    return {"mode": mode, "jobs": jobs, "queued_when_deleted": queued, "all_gone_s": round(gone, 1),
            "status_patches": int(sum(after.values()) - sum(before.values())),
            "status_patches_by_code": {code: int(n - before.get(code, 0.0)) for code, n in sorted(after.items())
                                       if n - before.get(code, 0.0)},
            "operator_cycles": int(operator_cycles(port) - cycles_before)}


def run(jobs: int, tenants: int, modes: list[str], operator_pythonpath: str | None) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="fairshare-bench-") as tmp:
        cluster = LocalCluster(Path(tmp) / "cluster", (NodePool("a100", 2, 8),))
        state = cluster.start(timeout=300)
        operator = None
        try:
            api = config.new_client_from_config(config_file=state.kubeconfig)
            core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
            kubectl = [str(cluster.binaries.kubectl), f"--kubeconfig={state.kubeconfig}"]
            subprocess.run([*kubectl, "apply", "-f", str(REPO / "crds")], check=True, capture_output=True)
            subprocess.run([*kubectl, "wait", "--for=condition=Established", "-f", str(REPO / "crds")], check=True,
                           capture_output=True)
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
            port = free_port()
            env = local_operator_env({**os.environ, "KUBECONFIG": state.kubeconfig})
            if operator_pythonpath:
                env["PYTHONPATH"] = str(Path(operator_pythonpath).resolve())
            with open(Path(tmp) / "operator.log", "wb") as log:
                operator = subprocess.Popen(
                    [sys.executable, "-m", "fairshare.cli.main", "operator", "--metrics-port", str(port),
                     "--liveness-port", "0", "--period", str(PERIOD)], env=env, stdout=log, stderr=subprocess.STDOUT)
            wait(lambda: _up(port), 120, "the operator's first cycle")
            return [one_round(api, kubectl, names, jobs, port, mode) for mode in modes]
        finally:
            if operator is not None:
                operator.terminate()
                operator.wait(timeout=30)
            cluster.stop()


def _up(port: int) -> bool:
    try:
        return operator_cycles(port) > 0
    except Exception:  # noqa: BLE001 - not listening yet
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--modes", default="background,foreground", help="comma-separated: background, foreground")
    parser.add_argument("--operator-pythonpath", default=None,
                        help="run the operator from this source folder (e.g. another checkout's operator/)")
    args = parser.parse_args()
    results = run(args.jobs, args.tenants, args.modes.split(","), args.operator_pythonpath)
    for result in results:
        print(json.dumps({**result, "operator_code": args.operator_pythonpath or "this checkout"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
