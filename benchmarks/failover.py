"""Failover on the real local control plane: how long from the moment the scheduling operator dies to the next
admission, with leader election and a warm standby, beside a single replica restarted by a supervisor.

One run, one cluster (the default fleet: 4 x 8 h100, 8 x 8 a100, 8 x 4 l4), one workload: small jobs of two tenants
arrive about once a second and run 3 to 8 s, so the leader is always admitting. In each mode the operator is
SIGKILLed `--kills` times at random moments, and the time from the kill to the first admission completed after it
is measured (the operator's own fairshare_admissions_total, polled every 0.1 s); the invariant checker
(tests/support/invariants.py) lists the cluster every half second throughout.

- ha: two replicas on one Lease (the chart's durations, 12 / 8 / 2 s, unless --durations). The leader is killed
  and not restarted (its pod or node is gone); the follower takes over. A new replica (a new pod) then replaces the
  dead one.
- ha-restart: the same, but the killed leader's container is restarted at once under the same identity (the pod's
  name), as the kubelet does after a crash: whichever comes first, its own restart or the follower, admits next.
- single: one replica without election, restarted by a supervisor `--restart-delay` seconds after the kill (0: at
  once, the kubelet's first restart; a node loss adds the minutes until the pod is rescheduled elsewhere).

Run it under the integration lock (it uses the control plane's ports and CPU):

    flock /tmp/fairshare-integration.lock python benchmarks/failover.py --kills 24 --json /tmp/failover.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.support: the operator processes, the invariant checker

from kubernetes import config  # noqa: E402
from tests.support.failover import Replicas, time_to_next_admission  # noqa: E402
from tests.support.invariants import InvariantWatch, observe_cluster  # noqa: E402
from tests.support.operator import OperatorProcess  # noqa: E402
from tests.support.teams import Team, ensure_gpu_classes  # noqa: E402
from tests.support.wait import wait_for  # noqa: E402

from fairshare.localcluster.cluster import LocalCluster  # noqa: E402

DEFAULT_DURATIONS = "12,8,2"  # the chart's leaderElection defaults: lease duration, renew deadline, retry period


class Workload:
    """About one small job a second (1 to 4 GPUs of a100 or l4, 3 to 8 s of work), with the checker alongside."""

    def __init__(self, api: Any, rnd: random.Random, grace: float) -> None:
        self.api, self.rnd = api, rnd
        self.teams = [Team(api, "fo-a", {"weight": 1}), Team(api, "fo-b", {"weight": 2})]
        self.watch = InvariantWatch(partial_grace_seconds=grace)
        self.submitted = 0
        self.next_submit = 0.0
        self.failed_observations = 0

    def tick(self, submit: bool = True) -> None:
        now = time.monotonic()
        if submit and now >= self.next_submit:
            self.next_submit = now + self.rnd.uniform(0.5, 1.5)
            self.rnd.choice(self.teams).submit(
                f"j-{self.submitted:04d}", gpus=self.rnd.choice((1, 2, 4)), classes=(self.rnd.choice(("a100", "l4")),),
                annotations={"localcluster.fairshare.dev/simulate-result": "Succeeded",
                             "localcluster.fairshare.dev/simulate-duration": f"{self.rnd.randint(3, 8)}s"})
            self.submitted += 1
        try:
            self.watch.observe(observe_cluster(self.api))
        except Exception:  # noqa: BLE001 - a LIST that failed is retried at the next tick
            self.failed_observations += 1

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.tick()
            time.sleep(0.5)

    def drain(self) -> None:
        """Submit nothing more and wait until every job has finished (with an operator still running)."""
        def drained() -> bool:
            self.tick(submit=False)
            phases = [p for t in self.teams for p in t.phases().values()]
            return all(p in ("Succeeded", "Failed") for p in phases) and len(phases) == self.submitted
        wait_for(lambda: drained() or None, timeout=300, interval=1.0, what="every job finished")


def summary(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    p99 = statistics.quantiles(ordered, n=100, method="inclusive")[98] if len(ordered) > 1 else ordered[0]
    return {"kills": len(ordered), "p50_s": round(statistics.median(ordered), 2), "p99_s": round(p99, 2),
            "max_s": round(ordered[-1], 2), "min_s": round(ordered[0], 2), "all_s": [round(s, 2) for s in samples]}


def measure_ha(kubeconfig: str, workdir: Path, load: Workload, kills: int, restart: bool,
               durations: tuple[float, float, float]) -> list[float]:
    pair = Replicas(kubeconfig, workdir, durations=durations)
    samples: list[float] = []
    try:
        pair.start()
        load.run_for(5)
        for _ in range(kills):
            load.run_for(load.rnd.uniform(3, 8))
            leader = pair.leader()
            assert leader is not None, pair.describe()
            leader.kill()
            killed = time.monotonic()
            if restart:
                leader.start()  # same identity: the kubelet restarting the container in its pod
            seconds, _ = time_to_next_admission(killed, pair.procs if restart else pair.others(leader),
                                                timeout=120, meanwhile=load.tick)
            samples.append(seconds)
            print(f"  {'ha-restart' if restart else 'ha'}: kill -> admission {seconds:.2f} s", flush=True)
            if not restart:
                pair.replace(leader)
            pair.wait_warm()
        load.drain()
    finally:
        pair.stop()
    return samples


def measure_single(kubeconfig: str, workdir: Path, load: Workload, kills: int, delay: float) -> list[float]:
    proc = OperatorProcess(kubeconfig, workdir / "single.log", {"FAIRSHARE_LEASE_NAME": "fo-single"},
                           ("--no-leader-election",))
    samples: list[float] = []
    try:
        proc.start()
        wait_for(lambda: (proc.metrics_port and _cycled(proc)) or None, timeout=90, what="the single operator")
        load.run_for(5)
        for _ in range(kills):
            load.run_for(load.rnd.uniform(3, 8))
            proc.kill()
            killed = time.monotonic()
            _tick_until(killed + delay, load.tick)
            proc.start()  # the supervisor: same identity, so it takes its own Lease back at once
            seconds, _ = time_to_next_admission(killed, [proc], timeout=120, meanwhile=load.tick)
            samples.append(seconds)
            print(f"  single: kill -> admission {seconds:.2f} s", flush=True)
        load.drain()
    finally:
        proc.stop()
    return samples


def _cycled(proc: OperatorProcess) -> bool:
    from tests.support.teams import cycles
    return bool(cycles(proc.metrics_port))


def _tick_until(deadline: float, tick: Callable[[], None]) -> None:
    """The supervisor's delay, with the checker reading the cluster meanwhile."""
    while time.monotonic() < deadline:
        tick()
        time.sleep(0.1)


def run(kills: int, modes: list[str], restart_delay: float, seed: int,
        durations: tuple[float, float, float]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fairshare-failover-") as tmp:
        cluster = LocalCluster(Path(tmp) / "cluster")
        state = cluster.start(timeout=300)
        try:
            kubectl = str(cluster.binaries.kubectl)
            for verb in (["apply", "-f"], ["wait", "--for=condition=Established", "-f"]):
                subprocess.run([kubectl, f"--kubeconfig={state.kubeconfig}", *verb, str(REPO / "crds")],
                               check=True, capture_output=True)
            api = config.new_client_from_config(config_file=state.kubeconfig)
            ensure_gpu_classes(api)
            load = Workload(api, random.Random(seed), grace=durations[0] + 20)
            results: dict[str, Any] = {}
            for mode in modes:
                workdir = Path(tmp) / mode
                workdir.mkdir()
                started, seen = time.monotonic(), len(load.watch.violations)
                print(f"{mode}: {kills} kills", flush=True)
                if mode == "single":
                    samples = measure_single(state.kubeconfig, workdir, load, kills, restart_delay)
                else:
                    samples = measure_ha(state.kubeconfig, workdir, load, kills, mode == "ha-restart", durations)
                results[mode] = {**summary(samples), "violations": len(load.watch.violations) - seen,
                                 "wall_s": round(time.monotonic() - started, 1)}
            return {"modes": results, "durations_s": dict(zip(("lease", "renew_deadline", "retry"), durations,
                                                               strict=True)),
                    "restart_delay_s": restart_delay, "jobs": load.submitted, "seed": seed,
                    "observations": load.watch.observations, "failed_observations": load.failed_observations,
                    "violations": [str(v) for v in load.watch.violations],
                    "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                               f"load average {os.getloadavg()[0]:.1f}"}
        finally:
            cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=6, help="kills per mode (default 6: a few minutes in all)")
    parser.add_argument("--modes", default="ha,ha-restart,single", help="comma-separated: ha, ha-restart, single")
    parser.add_argument("--restart-delay", type=float, default=0.0,
                        help="seconds the supervisor waits before restarting the single replica")
    parser.add_argument("--durations", default=DEFAULT_DURATIONS,
                        help="lease duration, renew deadline, retry period in seconds (default: the chart's 12,8,2)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    lease, deadline, retry = (float(x) for x in args.durations.split(","))
    result = run(args.kills, [m.strip() for m in args.modes.split(",") if m.strip()], args.restart_delay, args.seed,
                 (lease, deadline, retry))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if not result["violations"] else 1


if __name__ == "__main__":
    sys.exit(main())
