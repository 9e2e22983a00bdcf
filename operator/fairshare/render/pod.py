"""build_worker_pod: one torchrun worker of a TrainingJob as a plain Pod manifest, ready to create."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fairshare.api.trainingjob import TrainingJob
from fairshare.render.container import (
    TRAINER_CONTAINER,
    container_env,
    container_ports,
    operator_env,
    operator_volumes,
    resource_requirements,
    trainer_container,
)
from fairshare.render.names import job_namespace, owner_reference, service_name, worker_labels, worker_pod_name
from fairshare.render.security import container_security_context, pod_security_context
from fairshare.render.settings import DEFAULT_SETTINGS, RenderSettings, WorkerAllocation
from fairshare.render.torchrun import torchrun_env

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def build_worker_pods(job: TrainingJob, allocation: WorkerAllocation,
                      settings: RenderSettings = DEFAULT_SETTINGS) -> list[dict[str, Any]]:
    """Every worker of an allocation, rank 0 first."""
    return [build_worker_pod(job, rank, allocation, settings) for rank in range(allocation.workers)]


def build_worker_pod(job: TrainingJob, rank: int, allocation: WorkerAllocation,
                     settings: RenderSettings = DEFAULT_SETTINGS) -> dict[str, Any]:
    """Worker `rank` of `job` under `allocation`; the same inputs always give the same manifest.

    nodeName is left unset: kube-scheduler binds the pod (GPU fit, node selector), the operator only decides
    which class and how many. restartPolicy Never, because a failed worker breaks the torchrun world and the
    operator restarts the whole gang from its checkpoint instead.
    """
    name, namespace, spec = job.metadata.name, job_namespace(job), job.spec
    container = trainer_container(spec)
    service = service_name(name)
    pod_name = worker_pod_name(name, rank)
    torchrun = torchrun_env(name, namespace, service, rank, allocation.workers, spec.gpus_per_worker,
                            settings.master_port)
    volumes, mounts = operator_volumes(spec, settings.tmp_size_limit, settings.shm_size_limit)
    template = spec.pod_template
    if template is not None:
        volumes += [volume.to_body() for volume in template.spec.volumes or []]
    mounts += [mount.to_body() for mount in container.volume_mounts or []]

    trainer: dict[str, Any] = {"name": container.name or TRAINER_CONTAINER, "image": container.image}
    for key, value in (("command", container.command), ("args", container.args),
                       ("workingDir", container.working_dir), ("imagePullPolicy", settings.image_pull_policy)):
        if value is not None:
            trainer[key] = value
    trainer.update({
        "env": container_env(container, torchrun,
                             operator_env(namespace, name, spec, allocation.gpu_class, settings.metrics_port)),
        "ports": container_ports(settings.master_port, settings.metrics_port, spec.gpus_per_worker),
        "resources": resource_requirements(container, spec.gpus_per_worker),
        "volumeMounts": mounts,
        "securityContext": container_security_context(settings.container_security_context),
    })

    # The job's own labels and annotations, then the site's, then the operator's: each may override the one before.
    user_meta = template.metadata if template is not None and template.metadata is not None else None
    labels = {**(user_meta.labels or {} if user_meta else {}), **settings.extra_pod_labels,
              **worker_labels(name, rank, allocation)}
    annotations = {**(user_meta.annotations or {} if user_meta else {}), **settings.extra_pod_annotations}
    if settings.prometheus_annotations:
        annotations.update({"prometheus.io/scrape": "true", "prometheus.io/port": str(settings.metrics_port),
                            "prometheus.io/path": "/metrics"})
    grace = spec.run_policy.termination_grace_period_seconds or settings.termination_grace_period_seconds

    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "hostname": pod_name,
        "subdomain": service,
        "nodeSelector": dict(allocation.node_selector),
        "tolerations": worker_tolerations(settings, allocation),
        "terminationGracePeriodSeconds": grace,
        # The trainer never talks to the API server, and service links would flood its env in busy namespaces.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(settings.pod_security_context),
        "containers": [trainer],
        "volumes": volumes,
    }
    if settings.scheduler_name:
        pod_spec["schedulerName"] = settings.scheduler_name
    if settings.priority_class_name:
        pod_spec["priorityClassName"] = settings.priority_class_name
    if settings.runtime_class_name:
        pod_spec["runtimeClassName"] = settings.runtime_class_name
    pull_secrets = image_pull_secrets(settings.image_pull_secrets, [ref.name for ref in spec.image_pull_secrets])
    if pull_secrets:
        pod_spec["imagePullSecrets"] = pull_secrets
    metadata: dict[str, Any] = {
        "name": pod_name,
        "namespace": namespace,
        "labels": labels,
        "ownerReferences": [owner_reference(job)],
    }
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}


def image_pull_secrets(site: Sequence[str], job: Sequence[str]) -> list[dict[str, str]]:
    """The chart's pull secrets (workerPod.imagePullSecrets), then the job's own spec.imagePullSecrets; each once."""
    names = list(dict.fromkeys([*site, *job]))
    return [{"name": name} for name in names]


def worker_tolerations(settings: RenderSettings, allocation: WorkerAllocation) -> list[dict[str, Any]]:
    """nvidia.com/gpu (GPU nodes are commonly tainted with it), the site's tolerations, then the GPUClass's; each
    once."""
    tolerations: list[dict[str, Any]] = []
    for toleration in (GPU_TOLERATION, *settings.tolerations, *allocation.tolerations):
        if dict(toleration) not in tolerations:
            tolerations.append(dict(toleration))
    return tolerations
