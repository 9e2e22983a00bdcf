"""Fluent builders of raw custom resource bodies (what kubectl sends), shared by the api and render tests."""

from __future__ import annotations

import copy
from typing import Any, Self

TRAINER_IMAGE = "ghcr.io/fairshare-dev/trainer:0.1.0"


class _Builder:
    """Common plumbing: a body dict, edited in place by chained calls, copied out by obj()."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    @property
    def spec(self) -> dict[str, Any]:
        return self.body["spec"]

    def set(self, field: str, value: Any) -> Self:
        """Set a dotted spec field (`runPolicy.backoffLimit`); None removes it."""
        *parents, leaf = field.split(".")
        node = self.spec
        for parent in parents:
            node = node.setdefault(parent, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
        return self

    def name(self, name: str) -> Self:
        self.body["metadata"]["name"] = name
        return self

    def obj(self) -> dict[str, Any]:
        return copy.deepcopy(self.body)


class JobBuilder(_Builder):
    """make_job("bert").workers(2, 4).gpus(8).env("A", "1").obj()"""

    def workers(self, minimum: int, maximum: int | None = None) -> Self:
        return self.set("workers", {"min": minimum, "max": minimum if maximum is None else maximum})

    def gpus(self, per_worker: int) -> Self:
        return self.set("gpusPerWorker", per_worker)

    def env(self, name: str, value: str) -> Self:
        self.spec.setdefault("env", []).append({"name": name, "value": value})
        return self

    def classes(self, *names: str) -> Self:
        return self.set("gpuClasses", list(names))

    def checkpoint(self, path: str = "/checkpoint", claim: str | None = "ckpt", sub_path: str | None = None) -> Self:
        checkpoint: dict[str, Any] = {"path": path}
        if claim is not None:
            checkpoint["claimName"] = claim
        if sub_path is not None:
            checkpoint["subPath"] = sub_path
        return self.set("checkpoint", checkpoint)

    def pod_template(self, container: dict[str, Any] | None = None, volumes: list[dict[str, Any]] | None = None,
                     metadata: dict[str, Any] | None = None) -> Self:
        """Switch to the podTemplate form, moving image/command/args/env/resources into the container."""
        moved = {key: self.spec.pop(key) for key in ("image", "command", "args", "env") if key in self.spec}
        self.spec.pop("resources", None)
        template: dict[str, Any] = {"spec": {"containers": [{**moved, **(container or {})}]}}
        if volumes is not None:
            template["spec"]["volumes"] = volumes
        if metadata is not None:
            template["metadata"] = metadata
        return self.set("podTemplate", template)

    def uid(self, uid: str = "0b7c1d6e-uid") -> Self:
        self.body["metadata"]["uid"] = uid
        return self


class TenantBuilder(_Builder):
    """make_tenant("nlp").namespaces("nlp").guaranteed(a100=8).obj()"""

    def namespaces(self, *names: str) -> Self:
        return self.set("namespaces", list(names))

    def guaranteed(self, **per_class: int) -> Self:
        return self.set("guaranteed", per_class)

    def borrowing(self, **per_class: int) -> Self:
        return self.set("borrowingLimit", per_class)

    def budget(self, credits: float, hours: int | None = None) -> Self:
        budget: dict[str, Any] = {"creditsPerPeriod": credits}
        if hours is not None:
            budget["periodHours"] = hours
        return self.set("budget", budget)


class GPUClassBuilder(_Builder):
    """make_gpu_class("a100").price(2.5).obj()"""

    def price(self, credits: float) -> Self:
        return self.set("pricePerGPUHour", credits)

    def power(self, watts: float) -> Self:
        return self.set("powerWatts", watts)


def make_job(name: str = "bert", namespace: str = "nlp") -> JobBuilder:
    """A valid fixed-size job: one worker, one GPU, image + command."""
    return JobBuilder({
        "apiVersion": "fairshare.dev/v1alpha1", "kind": "TrainingJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"image": TRAINER_IMAGE, "command": ["torchrun", "-m", "fairshare_trainer"],
                 "workers": {"min": 1, "max": 1}, "gpusPerWorker": 1},
    })


def make_tenant(name: str = "nlp") -> TenantBuilder:
    """A valid tenant owning one namespace."""
    return TenantBuilder({
        "apiVersion": "fairshare.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
        "spec": {"namespaces": [name]},
    })


def make_gpu_class(name: str = "a100") -> GPUClassBuilder:
    """A valid GPU class selecting nodes by the local cluster's class label."""
    return GPUClassBuilder({
        "apiVersion": "fairshare.dev/v1alpha1", "kind": "GPUClass", "metadata": {"name": name},
        "spec": {"nodeSelector": {"fairshare.dev/gpu-class": name}, "pricePerGPUHour": 2.5, "powerWatts": 400},
    })
