"""The demo's script: apply the platform, submit waves of jobs, and print what the operator decided after each."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from fairshare.api.constants import API_VERSION

NAMESPACES = ("nlp", "vision", "speech", "robotics")
# The operator's minimum run time for the demo (the default, 600 s, is for real clusters): a job younger than this is
# not preempted for another tenant's fair share. `fairshare up` starts the operator with OPERATOR_ENV.
MIN_RUN_SECONDS = 30
OPERATOR_ENV = {"FAIRSHARE_POLICY_MIN_RUN_SECONDS": str(MIN_RUN_SECONDS)}
LATE_TIMEOUT_SECONDS = MIN_RUN_SECONDS + 90  # how long the demo waits for the late tenant to settle
STEADY_SECONDS = 12.0  # settled: no tenant's GPUs have changed for this long (two or more cycles of 5 s)

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Wave:
    """Jobs one team submits at once, then what to say about it. A late wave arrives at a full cluster: the demo
    prints every tenant's holdings as it arrives and once the operator has moved GPUs to the newcomer."""

    title: str
    namespace: str
    count: int
    gpus_per_worker: int
    workers: int
    classes: tuple[str, ...]
    run_seconds: int
    late: bool = False


WAVES = (
    Wave("", "nlp", 12, 8, 1, (), 900),
    Wave("nlp and vision submit more work than the cluster holds: shares by weight (2:1), "
         "and they borrow speech's idle h100 guarantee", "vision", 10, 4, 2, (), 900),
    Wave("speech comes back and claims its h100 guarantee: borrowers are preempted "
         "(they checkpoint and requeue)", "speech", 2, 8, 1, ("h100",), 600),
    Wave(f"robotics (weight 1, no guarantee) arrives at a full cluster and submits 12 jobs: once the running jobs "
         f"have run the minimum time ({MIN_RUN_SECONDS} s), the tenants furthest above their fair share are "
         f"preempted for it", "robotics", 12, 4, 1, (), 900, late=True),
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
                "metadata": {"annotations": {"localcluster.fairshare.dev/simulate-result": "Succeeded",
                                             "localcluster.fairshare.dev/simulate-duration": f"{wave.run_seconds}s"}},
                "spec": {"containers": [{"name": "trainer", "image": "ghcr.io/fairshare-dev/trainer:0.1.0",
                                         "command": ["torchrun", "-m", "fairshare_trainer"],
                                         "args": ["--model-size", "tiny"]}]}},
        },
    }


def platform_manifests() -> str:
    return resources.files("fairshare.demo").joinpath("platform.yaml").read_text()


def run(kubectl: Kubectl, settle_seconds: float = 8.0) -> None:
    """Apply the platform and the waves through kubectl, printing `kubectl get` after each."""
    for ns in NAMESPACES:
        kubectl("create", "namespace", ns, check=False)
    kubectl("apply", "-f", "-", stdin=platform_manifests())
    seen = 0
    together: list[list[dict[str, Any]]] = []
    for wave in WAVES:
        docs = [job_manifest(wave, seen + i) for i in range(wave.count)]
        seen += wave.count
        if wave.late:
            print(f"\n=== {wave.title}", flush=True)
            late_arrival(kubectl, wave, docs)
            continue
        together.append(docs)
        if not wave.title:
            continue  # submitted with the next wave
        # Waves submitted together are interleaved, so each cycle that overlaps the apply sees every team's demand
        # in proportion: how the first cluster-full of jobs is shared does not depend on that timing.
        kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(interleave(together)))
        together = []
        print(f"\n=== {wave.title}", flush=True)
        time.sleep(settle_seconds)  # the operator reacts within a cycle; give the pods time to start too
        show(kubectl)


def interleave(waves: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The waves' jobs round-robin: the first of each wave, then the second of each, ..."""
    longest = max((len(w) for w in waves), default=0)
    return [w[i] for i in range(longest) for w in waves if i < len(w)]


def show(kubectl: Kubectl) -> None:
    print(kubectl("get", "gpuclasses,tenants").stdout)
    out = kubectl("get", "trainingjobs", "-A", "--sort-by=.metadata.name").stdout
    lines = out.splitlines()
    print("\n".join(lines[:1] + [line for line in lines[1:] if "Running" in line or "Preempted" in line][:12]))
    queued = kubectl("get", "trainingjobs", "-A", "-o",
                     "custom-columns=NAME:.metadata.name,TENANT:.status.tenant,PHASE:.status.phase,"
                     "POSITION:.status.queue.position,REASON:.status.queue.reasonCode,"
                     "MESSAGE:.status.queue.reason").stdout.splitlines()
    waiting = sorted((line for line in queued[1:] if " Queued " in line), key=lambda line: line.split()[3])
    print(f"{len(waiting)} jobs queued, each with its reason, e.g.:")
    print("\n".join(queued[:1] + waiting[:4]), flush=True)


@dataclass(frozen=True)
class Holding:
    """What a tenant holds, from its status: GPUs per class, their worth at list prices, its share ratio, and the
    GPUs its entitlement buys at current prices (status.fairShare)."""

    weight: float
    gpus: dict[str, int]
    list_credits: float  # credits per hour its GPUs cost at the classes' list prices
    ratio: float | None  # status.shareRatio: what its full-price GPUs cost at current prices over its entitlement
    fair_share_gpus: float

    @property
    def total(self) -> int:
        return sum(self.gpus.values())


def holdings(kubectl: Kubectl) -> dict[str, Holding]:
    """Each tenant's holding, read from the Tenants' and GPUClasses' status."""
    items = json.loads(kubectl("get", "gpuclasses,tenants", "-o", "json").stdout)["items"]
    prices = {i["metadata"]["name"]: float(i["spec"]["pricePerGPUHour"]) for i in items if i["kind"] == "GPUClass"}
    out = {}
    for item in items:
        if item["kind"] != "Tenant":
            continue
        status = item.get("status") or {}
        gpus = {c: int(n) for c, n in (status.get("allocated") or {}).items() if n}
        out[item["metadata"]["name"]] = Holding(float(item["spec"].get("weight", 1)), gpus,
                                                sum(n * prices.get(c, 0.0) for c, n in gpus.items()),
                                                status.get("shareRatio"),
                                                sum(float(v) for v in (status.get("fairShare") or {}).values()))
    return out


def holdings_table(held: dict[str, Holding], classes: tuple[str, ...] = ("h100", "a100", "l4")) -> str:
    rows = [f"{'TENANT':10} {'WEIGHT':>6} {'GPUS':>5} " + " ".join(f"{c.upper():>5}" for c in classes)
            + f" {'LIST CREDITS/H':>15} {'SHARE':>6}"]
    for name in NAMESPACES:
        h = held.get(name)
        if h is None:
            continue
        share = "-" if h.ratio is None else f"{h.ratio:.2f}"
        rows.append(f"{name:10} {h.weight:>6g} {h.total:>5} " + " ".join(f"{h.gpus.get(c, 0):>5}" for c in classes)
                    + f" {h.list_credits:>15.1f} {share:>6}")
    return "\n".join(rows)


def phases(kubectl: Kubectl) -> list[str]:
    return kubectl("get", "trainingjobs", "-A", "-o", "jsonpath={.items[*].status.phase}").stdout.split()


def in_flight(kubectl: Kubectl) -> int:
    """Jobs between two states: admitted and not yet running, or preempted and not yet drained."""
    return sum(1 for phase in phases(kubectl) if phase in ("Admitted", "Preempted"))


def poll(probe: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
    """probe() until it answers something truthy (returned) or `timeout` passes (its last answer returned)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer or time.monotonic() >= deadline:
            return answer
        time.sleep(interval)


def wait_settled(kubectl: Kubectl, tenant: str, timeout: float) -> tuple[dict[str, Holding], bool]:
    """Wait until `tenant` holds GPUs, no job is mid-move and no tenant's GPUs have changed for STEADY_SECONDS;
    give up after `timeout`. Returns the last holdings and whether they settled."""
    seen: dict[str, Any] = {"state": None, "since": time.monotonic(), "held": {}}

    def settled() -> bool:
        held = seen["held"] = holdings(kubectl)
        now, state = time.monotonic(), {name: h.gpus for name, h in held.items()}
        if state != seen["state"]:
            seen["state"], seen["since"] = state, now
            return False
        return bool(held[tenant].total) and not in_flight(kubectl) and now - seen["since"] >= STEADY_SECONDS

    done = poll(settled, timeout, interval=2.0)
    return seen["held"], bool(done)


def fair_share_preemptions(kubectl: Kubectl, tenant: str) -> list[tuple[str, str]]:
    """(job, reason) of each preemption for `tenant`'s fair share, from the Events the operator recorded."""
    events = json.loads(kubectl("get", "events", "-A", "--field-selector", "reason=Preempted", "-o", "json").stdout)
    return sorted((f"{e['involvedObject'].get('namespace')}/{e['involvedObject']['name']}", e.get("message") or "")
                  for e in events["items"]
                  if (e.get("message") or "").startswith("preempted for fair share")
                  and f"tenant {tenant} at" in (e.get("message") or ""))


def late_arrival(kubectl: Kubectl, wave: Wave, docs: list[dict[str, Any]]) -> None:
    """Submit a late wave at a full cluster and show each tenant's holdings when it arrives and once the operator
    has settled."""
    name, gang = wave.namespace, wave.workers * wave.gpus_per_worker
    arrived = time.monotonic()
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    # Once the operator has counted the newcomer's demand, the others' share ratios are measured against their new
    # entitlements: those above 1 hold more than their share now.
    before = poll(lambda: (held := holdings(kubectl))[name].fair_share_gpus > 0 and held, timeout=30) \
        or holdings(kubectl)
    print(f"{name} submitted {wave.count} jobs of {gang} GPUs. Holdings as it arrives "
          f"(SHARE is the share ratio: 1.00 = exactly its fair share):")
    print(holdings_table(before), flush=True)
    print(f"\nWaiting for the operator to settle (up to {LATE_TIMEOUT_SECONDS} s) ...", flush=True)
    after, settled = wait_settled(kubectl, name, LATE_TIMEOUT_SECONDS)
    took = time.monotonic() - arrived
    print(f"\nHoldings {took:.0f} s after {name} arrived:")
    print(holdings_table(after))
    preempted = fair_share_preemptions(kubectl, name)
    if preempted:
        job, reason = preempted[0]
        print(f"{len(preempted)} jobs were preempted to make room for {name}, e.g. {job}:\n  {reason}")
    print(verdict(name, after[name], gang, took, settled))
    print(weight_order(after), flush=True)


def verdict(name: str, late: Holding, gang: int, took: float, settled: bool) -> str:
    """Whether the late tenant reached its share: a share ratio within one of its gangs of 1 (a gang is that
    fraction of the GPUs its entitlement buys)."""
    where = ", ".join(f"{n} {c}" for c, n in sorted(late.gpus.items()))
    moving = "" if settled else f" (still moving after {took:.0f} s)"
    if not late.total:
        return (f"{name} still holds no GPUs after {took:.0f} s: the operator preempts for a tenant's fair share only "
                f"jobs that have run FAIRSHARE_POLICY_MIN_RUN_SECONDS (600 s unless set; the demo sets "
                f"{MIN_RUN_SECONDS} s)")
    ratio = late.ratio if late.ratio is not None else 0.0
    within = late.fair_share_gpus > 0 and ratio >= 1.0 - gang / late.fair_share_gpus
    if within:
        return (f"{name} arrived at a full cluster and now holds {late.total} GPUs ({where}), its weighted share: "
                f"share ratio {ratio:.2f}, {took:.0f} s after it arrived{moving}")
    return (f"{name} arrived at a full cluster and holds {late.total} GPUs ({where}) after {took:.0f} s: share ratio "
            f"{ratio:.2f}, more than one gang below its fair share{moving}")


def weight_order(held: dict[str, Holding]) -> str:
    """The tenants by weight, with what their GPUs are worth at list prices."""
    order = sorted(held.items(), key=lambda item: (-item[1].weight, NAMESPACES.index(item[0])
                                                   if item[0] in NAMESPACES else len(NAMESPACES)))
    listed = ", ".join(f"{n} (weight {h.weight:g}) {h.list_credits:.1f}" for n, h in order)
    line = f"GPUs held, in credits/h at list prices: {listed}"
    nlp, vision = held.get("nlp"), held.get("vision")
    if nlp is not None and vision is not None and vision.list_credits > 0:
        line += f"; nlp holds {nlp.list_credits / vision.list_credits:.1f}x what vision holds"
    return line
