"""The trainer container of a worker pod: one shape for both spec forms, env, ports, operator volumes."""

from __future__ import annotations

from typing import Any

from fairshare.api.constants import (
    FAIRSHARE_CHECKPOINT_DIR,
    FAIRSHARE_GPU_CLASS,
    FAIRSHARE_JOB,
    FAIRSHARE_METRICS_PORT,
    GPU_RESOURCE,
    SHM_MOUNT_PATH,
    TMP_MOUNT_PATH,
    is_reserved_env_name,
)
from fairshare.api.podtemplate import Container, ContainerResources, ResourceList
from fairshare.api.trainingjob import TrainingJobSpec

TRAINER_CONTAINER = "trainer"
TMP_VOLUME = "fairshare-tmp"
SHM_VOLUME = "fairshare-shm"
CHECKPOINT_VOLUME = "fairshare-checkpoint"
# Without spec.checkpoint there is no durable place; the trainer still gets a writable directory (lost on exit).
SCRATCH_CHECKPOINT_DIR = f"{TMP_MOUNT_PATH}/fairshare-checkpoint"
METRICS_PORT_NAME = "metrics"
# The root filesystem is read-only and the user often has no passwd entry, so HOME would be "/" and every library
# that caches under it (Hugging Face, torch hub, pip, matplotlib) fails; it points at the writable /tmp emptyDir
# unless the job sets HOME itself.
HOME_DIR = TMP_MOUNT_PATH
MASTER_PORT_NAME = "master"


def trainer_container(spec: TrainingJobSpec) -> Container:
    """The user's container in one shape: spec.podTemplate's container, or one built from spec.image and friends.

    In the image form the memory request is also the limit, so a worker is OOM-killed alone instead of
    squeezing its neighbours; CPU gets no limit because throttling a data loader slows the whole gang.
    """
    if spec.pod_template is not None:
        return spec.pod_template.spec.containers[0]
    assert spec.image is not None  # the model guarantees image or podTemplate
    cpu = spec.resources.cpu if spec.resources else None
    memory = spec.resources.memory if spec.resources else None
    return Container(
        name=TRAINER_CONTAINER,
        image=spec.image,
        command=spec.command,
        args=spec.args,
        env=spec.env,
        resources=ContainerResources(
            requests=ResourceList(cpu=cpu, memory=memory),
            limits=ResourceList(memory=memory),
        ),
    )


def checkpoint_dir(spec: TrainingJobSpec) -> str:
    """Where the trainer should write checkpoints (FAIRSHARE_CHECKPOINT_DIR)."""
    return spec.checkpoint.path if spec.checkpoint is not None else SCRATCH_CHECKPOINT_DIR


def resource_requirements(container: Container, gpus: int) -> dict[str, dict[str, str]]:
    """Requests and limits with the GPUs added to both (extended resources must request what they limit)."""
    resources = container.resources or ContainerResources()
    requests = _resource_list(resources.requests)
    limits = _resource_list(resources.limits)
    requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(gpus)
    return {"requests": requests, "limits": limits}


def _resource_list(resources: ResourceList | None) -> dict[str, str]:
    if resources is None:
        return {}
    return {key: value for key, value in resources.to_body().items() if value is not None}


def container_env(container: Container, torchrun: list[dict[str, str]], operator_env: list[dict[str, str]]) \
        -> list[dict[str, Any]]:
    """HOME on the writable /tmp unless the user sets it, the user env, then the operator's; the models refuse
    reserved user names, and this re-checks it."""
    user = [var.to_body() for var in container.env or []]
    clashes = sorted(var["name"] for var in user if is_reserved_env_name(var["name"]))
    if clashes:
        raise ValueError(f"user env sets reserved names {clashes}; the TrainingJob should have been refused")
    home = [] if any(var["name"] == "HOME" for var in user) else [{"name": "HOME", "value": HOME_DIR}]
    return home + user + torchrun + operator_env


def operator_env(namespace: str, job_name: str, spec: TrainingJobSpec, gpu_class: str, metrics_port: int) \
        -> list[dict[str, str]]:
    """What the trainer learns from the operator (trainer_image/fairshare_trainer/config.py reads these)."""
    return [
        {"name": FAIRSHARE_JOB, "value": f"{namespace}/{job_name}"},
        {"name": FAIRSHARE_CHECKPOINT_DIR, "value": checkpoint_dir(spec)},
        {"name": FAIRSHARE_METRICS_PORT, "value": str(metrics_port)},
        {"name": FAIRSHARE_GPU_CLASS, "value": gpu_class},
    ]


def container_ports(master_port: int, metrics_port: int, nproc_per_node: int) -> list[dict[str, Any]]:
    """The rendezvous port and one metrics port per local rank (the trainer serves base + local rank)."""
    ports: list[dict[str, Any]] = [{"name": MASTER_PORT_NAME, "containerPort": master_port, "protocol": "TCP"}]
    for local_rank in range(nproc_per_node):
        name = METRICS_PORT_NAME if local_rank == 0 else f"{METRICS_PORT_NAME}-{local_rank}"
        ports.append({"name": name, "containerPort": metrics_port + local_rank, "protocol": "TCP"})
    return ports


def operator_volumes(spec: TrainingJobSpec, tmp_size_limit: str | None, shm_size_limit: str | None) \
        -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The operator's volumes and mounts: /tmp, a memory-backed /dev/shm (NCCL, data loaders), the checkpoint claim."""
    tmp: dict[str, Any] = {"sizeLimit": tmp_size_limit} if tmp_size_limit else {}
    shm: dict[str, Any] = {"medium": "Memory", **({"sizeLimit": shm_size_limit} if shm_size_limit else {})}
    volumes: list[dict[str, Any]] = [{"name": TMP_VOLUME, "emptyDir": tmp}, {"name": SHM_VOLUME, "emptyDir": shm}]
    mounts: list[dict[str, Any]] = [
        {"name": TMP_VOLUME, "mountPath": TMP_MOUNT_PATH},
        {"name": SHM_VOLUME, "mountPath": SHM_MOUNT_PATH},
    ]
    if spec.checkpoint is not None and spec.checkpoint.claim_name is not None:
        volumes.append({"name": CHECKPOINT_VOLUME, "persistentVolumeClaim": {"claimName": spec.checkpoint.claim_name}})
        mount: dict[str, Any] = {"name": CHECKPOINT_VOLUME, "mountPath": spec.checkpoint.path}
        if spec.checkpoint.sub_path:
            mount["subPath"] = spec.checkpoint.sub_path
        mounts.append(mount)
    return volumes, mounts
