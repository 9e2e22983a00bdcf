"""The demo's script: apply the platform, submit waves of jobs, and print what the operator decided after each."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from fairshare.api.constants import API_VERSION

NAMESPACES = ("nlp", "vision", "speech")


@dataclass(frozen=True)
class Wave:
    """Jobs one team submits at once, then what to say about it."""

    title: str
    namespace: str
    count: int
    gpus_per_worker: int
    workers: int
    classes: tuple[str, ...]
    run_seconds: int


WAVES = (
    Wave("", "nlp", 12, 8, 1, (), 900),
    Wave("nlp and vision submit more work than the cluster holds: shares by weight (2:1), "
         "and they borrow speech's idle h100 guarantee", "vision", 10, 4, 2, (), 900),
    Wave("speech comes back and claims its h100 guarantee: borrowers are preempted "
         "(they checkpoint and requeue)", "speech", 2, 8, 1, ("h100",), 600),
)


def job_manifest(wave: Wave, index: int) -> dict[str, Any]:
    """A TrainingJob whose pods the local cluster finishes after `run_seconds` (kwok's simulated run)."""
    return {
        "apiVersion": API_VERSION, "kind": "TrainingJob",
        "metadata": {"name": f"{wave.namespace}-{index:02d}", "namespace": wave.namespace},
        "spec": {
            "workers": {"min": wave.workers, "max": wave.workers}, "gpusPerWorker": wave.gpus_per_worker,
            "gpuClasses": list(wave.classes),
            "podTemplate": {
                "metadata": {"annotations": {"fairshare.dev/simulate-result": "Succeeded",
                                             "fairshare.dev/simulate-duration": f"{wave.run_seconds}s"}},
                "spec": {"containers": [{"name": "trainer", "image": "ghcr.io/fairshare-dev/trainer:0.1.0",
                                         "command": ["torchrun", "-m", "fairshare_trainer"],
                                         "args": ["--model-size", "tiny"]}]}},
        },
    }


def platform_manifests() -> str:
    return resources.files("fairshare.demo").joinpath("platform.yaml").read_text()


def run(kubectl: Callable[..., subprocess.CompletedProcess[str]], settle_seconds: float = 8.0) -> None:
    """Apply the platform and the waves through kubectl, printing `kubectl get` after each."""
    for ns in NAMESPACES:
        kubectl("create", "namespace", ns, check=False)
    kubectl("apply", "-f", "-", stdin=platform_manifests())
    seen = 0
    for wave in WAVES:
        docs = [job_manifest(wave, seen + i) for i in range(wave.count)]
        seen += wave.count
        kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
        if not wave.title:
            continue
        print(f"\n=== {wave.title}", flush=True)
        time.sleep(settle_seconds)  # the operator reacts within a cycle; give the pods time to start too
        show(kubectl)


def show(kubectl: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    print(kubectl("get", "gpuclasses,tenants").stdout)
    out = kubectl("get", "trainingjobs", "-A", "--sort-by=.metadata.name").stdout
    lines = out.splitlines()
    print("\n".join(lines[:1] + [line for line in lines[1:] if "Running" in line or "Preempted" in line][:12]))
    queued = kubectl("get", "trainingjobs", "-A", "-o",
                     "custom-columns=NAME:.metadata.name,TENANT:.status.tenant,PHASE:.status.phase,"
                     "POSITION:.status.queue.position,WHY:.status.queue.reason").stdout.splitlines()
    waiting = sorted((line for line in queued[1:] if " Queued " in line), key=lambda line: line.split()[3])
    print(f"{len(waiting)} jobs queued, each with its reason, e.g.:")
    print("\n".join(queued[:1] + waiting[:4]), flush=True)
