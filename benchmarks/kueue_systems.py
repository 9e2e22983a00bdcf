"""The three systems the Kueue harness runs one plan through: this operator, Kueue, and bare pods (the floor).

Each system gets its own kwok node pools (one per cohort, named `<system>-<cohort>`), so that one system's
leftovers never take another's capacity. For each, `objects` gives the setup objects and `job` the manifests of
one arrival; `key` and `state` read the watched object that tells when a job was admitted and when it finished.

Kueue runs as its own manager binary beside the control plane, out of cluster, with webhooks off: no
webhook configuration is registered with the API server, so the manager's webhook server (given the cluster's
serving certificate so that it starts) is never called. What Kueue's mutating webhook would do for a Job, the
harness does itself: it creates every Job with `spec.suspend: true`; Kueue's job controller then creates the
Workload and unsuspends the Job on admission, and the cluster's job controller makes its pods.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from kueue_shape import Arrival, Queue, split

from fairshare.api.constants import GROUP, VERSION
from fairshare.localcluster import toolchain
from fairshare.localcluster.operatorenv import KWOK_TOLERATION
from fairshare.localcluster.processes import free_port, http_ok, insecure_context
from fairshare.localcluster.shape import GPU_CLASS_LABEL, GPU_RESOURCE

KUEUE_API = "kueue.x-k8s.io/v1beta2"
JOB_LABEL = "bench.fairshare.dev/job"
SIMULATE = {"localcluster.fairshare.dev/simulate-result": "Succeeded"}
SYSTEMS = ("bare", "operator", "kueue")
METRICS_CERTS = Path("/etc/kueue/metrics/certs")


def pool(system: str, cohort: str) -> str:
    """The GPU-class label value (and GPUClass / ResourceFlavor name) of one system's pool for one cohort."""
    return f"{system}-{cohort}"


def namespace(system: str, queue: str) -> str:
    return f"{system[:2]}-{queue}"


def _pod_template(arrival: Arrival, gpus: int) -> dict[str, Any]:
    return {"metadata": {"labels": {JOB_LABEL: arrival.name},
                         "annotations": {**SIMULATE,
                                         "localcluster.fairshare.dev/simulate-duration": f"{arrival.runtime_ms}ms"}},
            "spec": {"restartPolicy": "Never", "tolerations": [dict(KWOK_TOLERATION)],
                     "containers": [{"name": "c", "image": "registry.invalid/none:0",
                                     "resources": {"limits": {GPU_RESOURCE: str(gpus)},
                                                   "requests": {GPU_RESOURCE: str(gpus)}}}]}}


def setup_objects(system: str, queues: tuple[Queue, ...]) -> list[dict[str, Any]]:
    """Cluster objects a system needs before any job: namespaces, and its own API's queues and pools."""
    docs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": namespace(system, q.name)}} for q in queues]
    cohorts = sorted({q.cohort for q in queues})
    if system == "operator":
        docs += [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "GPUClass", "metadata": {"name": pool(system, c)},
                  "spec": {"nodeSelector": {GPU_CLASS_LABEL: pool(system, c)}, "pricePerGPUHour": 1.0,
                           "powerWatts": 300}} for c in cohorts]
        docs += [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "Tenant", "metadata": {"name": namespace(system, q.name)},
                  "spec": {"namespaces": [namespace(system, q.name)],
                           "guaranteed": {pool(system, q.cohort): q.nominal},
                           "borrowingLimit": {pool(system, q.cohort): q.borrowing_limit}}} for q in queues]
    elif system == "kueue":
        docs += [{"apiVersion": KUEUE_API, "kind": "ResourceFlavor", "metadata": {"name": pool(system, c)},
                  "spec": {"nodeLabels": {GPU_CLASS_LABEL: pool(system, c)}}} for c in cohorts]
        docs += [{"apiVersion": KUEUE_API, "kind": "WorkloadPriorityClass", "metadata": {"name": f"p{p}"},
                  "value": p, "description": "harness"} for p in (0, 50, 100, 200)]
        for q in queues:
            docs.append({"apiVersion": KUEUE_API, "kind": "ClusterQueue", "metadata": {"name": q.name},
                         "spec": {"cohortName": q.cohort, "namespaceSelector": {},
                                  "preemption": {"reclaimWithinCohort": "Any", "withinClusterQueue": "LowerPriority"},
                                  "resourceGroups": [{"coveredResources": [GPU_RESOURCE], "flavors": [{
                                      "name": pool(system, q.cohort), "resources": [{
                                          "name": GPU_RESOURCE, "nominalQuota": q.nominal,
                                          "borrowingLimit": q.borrowing_limit}]}]}]}})
            docs.append({"apiVersion": KUEUE_API, "kind": "LocalQueue",
                         "metadata": {"name": "lq", "namespace": namespace(system, q.name)},
                         "spec": {"clusterQueue": q.name}})
    return docs


def job(system: str, arrival: Arrival, cohort: str, gpus_per_node: int) -> list[dict[str, Any]]:
    """The objects one arrival creates in `system`."""
    workers, gpus = split(arrival.request, gpus_per_node)
    template = _pod_template(arrival, gpus)
    ns = namespace(system, arrival.queue)
    if system == "operator":
        template["spec"] = {"containers": [{"name": "trainer", "image": "registry.invalid/t:0",
                                            "command": ["python", "-c", "pass"]}]}
        return [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob",
                 "metadata": {"name": arrival.name, "namespace": ns},
                 "spec": {"workers": {"min": workers, "max": workers}, "gpusPerWorker": gpus,
                          "gpuClasses": [pool(system, cohort)], "priority": arrival.priority,
                          "podTemplate": template}}]
    if system == "kueue":
        return [{"apiVersion": "batch/v1", "kind": "Job",
                 "metadata": {"name": arrival.name, "namespace": ns,
                              "labels": {"kueue.x-k8s.io/queue-name": "lq",
                                         "kueue.x-k8s.io/priority-class": f"p{arrival.priority}"}},
                 "spec": {"suspend": True, "parallelism": workers, "completions": workers, "backoffLimit": 0,
                          "template": template}}]
    pods = []
    for w in range(workers):
        pod = _pod_template(arrival, gpus)
        pod["spec"]["nodeSelector"] = {GPU_CLASS_LABEL: pool(system, cohort)}
        pods.append({"apiVersion": "v1", "kind": "Pod", **pod,
                     "metadata": {**pod["metadata"], "name": f"{arrival.name}-{w}", "namespace": ns}})
    return pods


def watched(system: str) -> tuple[str, str, str]:
    """(group, version, plural) of the object whose status says a job is admitted and finished."""
    return {"operator": (GROUP, VERSION, "trainingjobs"), "kueue": ("kueue.x-k8s.io", "v1beta2", "workloads"),
            "bare": ("", "v1", "pods")}[system]


def key(system: str, obj: dict[str, Any]) -> str | None:
    """namespace/job name of a watched object (None for objects that are not the harness's)."""
    meta = obj.get("metadata") or {}
    if system == "operator":
        return f"{meta.get('namespace')}/{meta.get('name')}"
    if system == "kueue":
        owners = [o for o in meta.get("ownerReferences") or [] if o.get("kind") == "Job"]
        return f"{meta.get('namespace')}/{owners[0]['name']}" if owners else None
    job_name = (meta.get("labels") or {}).get(JOB_LABEL)
    return f"{meta.get('namespace')}/{job_name}" if job_name else None


def _true(obj: dict[str, Any], kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def state(system: str, obj: dict[str, Any]) -> tuple[bool, bool]:
    """(admitted, finished) as the watched object says now. A bare pod is admitted once bound to a node."""
    status = obj.get("status") or {}
    if system == "operator":
        phase = status.get("phase")
        return bool(status.get("allocation")) or phase in ("Admitted", "Running", "Succeeded"), phase == "Succeeded"
    if system == "kueue":
        return _true(obj, "Admitted"), _true(obj, "Finished")
    return bool((obj.get("spec") or {}).get("nodeName")), status.get("phase") == "Succeeded"


def kueue_config(work: Path, data_dir: Path) -> tuple[Path, int]:
    """A Kueue Configuration for a local, out-of-cluster manager: Kueue's shipped defaults (client QPS 50, burst
    100, the same controller concurrency), batch/Job integration only, no leader election, no internal cert
    management (the webhook server gets the cluster's serving certificate). Returns the file and the health port."""
    certs = work / "kueue-certs"
    # Without internal cert management Kueue v0.17 reads its metrics certificate from this fixed path (cmd/kueue).
    for folder in (certs, METRICS_CERTS):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_dir / "pki" / "apiserver.crt", folder / "tls.crt")
        shutil.copyfile(data_dir / "pki" / "apiserver.key", folder / "tls.key")
    health = free_port()
    text = f"""apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: kueue-system
health: {{healthProbeBindAddress: "127.0.0.1:{health}"}}
metrics: {{bindAddress: "0"}}
webhook: {{port: {free_port()}, host: 127.0.0.1, certDir: "{certs}"}}
leaderElection: {{leaderElect: false}}
internalCertManagement: {{enable: false}}
controller:
  groupKindConcurrency: {{Job.batch: 5, Pod: 5, Workload.kueue.x-k8s.io: 5, LocalQueue.kueue.x-k8s.io: 1,
                         Cohort.kueue.x-k8s.io: 1, ClusterQueue.kueue.x-k8s.io: 1, ResourceFlavor.kueue.x-k8s.io: 1}}
clientConnection: {{qps: 50, burst: 100}}
integrations: {{frameworks: ["batch/job"]}}
"""
    path = work / "kueue-config.yaml"
    path.write_text(text)
    return path, health


def start_kueue(work: Path, data_dir: Path, kubeconfig: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes],
                                                                                           int]:
    """Kueue's manager, out of cluster against `kubeconfig`, logging to work/kueue.log; returns it and its health
    port. The visibility API server is off (it would need an APIService and its own serving certificate)."""
    binary = toolchain.kueue_manager()
    if not binary.is_file():
        raise RuntimeError(f"{binary} is missing: run `fairshare toolchain --kueue` "
                           f"(it builds Kueue {toolchain.KUEUE_VERSION})")
    config, health = kueue_config(work, data_dir)
    log = open(work / "kueue.log", "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen([str(binary), f"--config={config}", "--feature-gates=VisibilityOnDemand=false",
                             "--zap-log-level=error"],
                            env={**env, "KUBECONFIG": kubeconfig}, stdout=log, stderr=subprocess.STDOUT)
    return proc, health


def kueue_ready(health: int) -> bool:
    return http_ok(f"http://127.0.0.1:{health}/readyz", insecure_context())


def kueue_crds() -> list[Path]:
    """Kueue's CRDs, from the same module the toolchain builds the manager from."""
    return sorted((toolchain.kueue_module_dir() / "config" / "components" / "crd" / "bases").glob("*.yaml"))
