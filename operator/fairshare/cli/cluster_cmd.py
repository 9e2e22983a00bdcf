"""`fairshare toolchain`, `fairshare cluster up|down|status`, and `fairshare up|down` (the embedded default)."""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fairshare.api.constants import GPU_RESOURCE
from fairshare.demo import scenario
from fairshare.localcluster import toolchain
from fairshare.localcluster.cluster import ClusterState, LocalCluster, attach_process, default_data_dir, stop_cluster
from fairshare.localcluster.operatorenv import local_operator_env
from fairshare.localcluster.processes import free_port
from fairshare.localcluster.shape import GPU_CLASS_LABEL, load_pools


def register(sub: Any) -> None:
    tc = sub.add_parser("toolchain", help="build (once) and cache etcd, kube-*, kubectl, kwok and helm (and kueue)")
    tc.add_argument("--json", action="store_true", help="print binary paths and step timings as JSON")
    tc.add_argument("--kueue", action="store_true",
                    help="also build Kueue's manager, for benchmarks/kueue_harness.py (not needed otherwise)")
    tc.set_defaults(func=cmd_toolchain)

    up = sub.add_parser("up", help="the embedded default: local cluster, operator, sample tenants and jobs")
    _cluster_args(up)
    up.add_argument("--no-demo", action="store_true", help="start cluster and operator without the sample workload")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop everything `fairshare up` started")
    _cluster_args(down)
    down.set_defaults(func=cmd_down)

    cluster = sub.add_parser("cluster", help="manage the local control plane")
    csub = cluster.add_subparsers(dest="cluster_command", required=True, metavar="ACTION")
    for name, func, text in (("up", cmd_cluster_up, "start a local control plane with kwok GPU nodes"),
                             ("down", cmd_down, "stop the processes the cluster started"),
                             ("status", cmd_cluster_status, "show the cluster's processes, kubeconfig and nodes")):
        p = csub.add_parser(name, help=text)
        _cluster_args(p)
        p.set_defaults(func=func)


def _cluster_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=default_data_dir(),
                   help="where the cluster keeps its PKI, etcd data, logs and kubeconfig (default: %(default)s)")
    p.add_argument("--shape", type=Path, default=None,
                   help="YAML with nodePools: [{gpuClass, count, gpusPerNode}] (default: 4x8 h100, 8x8 a100, 8x4 l4)")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for each component")


def cmd_toolchain(args: argparse.Namespace) -> int:
    bins, reports = toolchain.ensure(with_kueue=args.kueue)
    if args.json:
        print(json.dumps({"binaries": {k: str(v) for k, v in dataclasses.asdict(bins).items()},
                          "steps": [dataclasses.asdict(r) for r in reports]}, indent=2))
    return 0


def _start(args: argparse.Namespace) -> ClusterState:
    bins, _ = toolchain.ensure()
    print(f"Starting the local control plane in {args.data_dir} ...", file=sys.stderr)
    state = LocalCluster(args.data_dir, load_pools(args.shape), bins).start(timeout=args.timeout)
    print(f"Control plane up in {state.startup_seconds['total']}s: {state.server}", file=sys.stderr)
    return state


def cmd_cluster_up(args: argparse.Namespace) -> int:
    state = _start(args)
    _print_access(state)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """The embedded default: cluster, CRDs, the operator, and the demo scenario; everything keeps running."""
    state = _start(args)
    _show_nodes(state)
    kubectl = _kubectl(state)
    crds = _repo_root() / "crds"
    kubectl("apply", "-f", str(crds))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(crds))
    metrics_port = free_port()
    attach_process(state, "fairshare-operator", [
        sys.executable, "-m", "fairshare.cli.main", "operator", "--metrics-port", str(metrics_port),
        "--liveness-port", "0", "--period", "5"],
        # The demo's short minimum run time (a user's own FAIRSHARE_POLICY_* settings win).
        env=local_operator_env({**({} if args.no_demo else scenario.OPERATOR_ENV), **os.environ,
                                "KUBECONFIG": state.kubeconfig}))
    print(f"\nOperator running (metrics on http://127.0.0.1:{metrics_port}/metrics, log in "
          f"{state.data_dir}/logs/fairshare-operator.log)", file=sys.stderr)
    if not args.no_demo:
        scenario.run(kubectl)
    _print_access(state)
    print("          kubectl get tj,tn,gc -A;  kubectl describe tj -n speech speech-22")
    return 0


def _repo_root() -> Path:
    """The source checkout this package runs from (the CRDs live beside the package, in crds/)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "crds").is_dir():
        raise RuntimeError(f"CRDs not found under {root}; run `fairshare up` from a source checkout")
    return root


def _kubectl(state: ClusterState) -> Callable[..., subprocess.CompletedProcess[str]]:
    binary = str(toolchain.binaries().kubectl)

    def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([binary, f"--kubeconfig={state.kubeconfig}", *args], input=stdin, capture_output=True,
                              text=True, timeout=120)
        if check and proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    return kubectl


def cmd_down(args: argparse.Namespace) -> int:
    stopped = stop_cluster(args.data_dir)
    print(f"Stopped: {', '.join(stopped)}" if stopped else f"Nothing running from {args.data_dir}")
    return 0


def cmd_cluster_status(args: argparse.Namespace) -> int:
    state = ClusterState.load(args.data_dir)
    if state is None:
        print(f"No cluster recorded in {args.data_dir}")
        return 1
    alive = {p.name for p in state.running()}
    for p in state.processes:
        print(f"{p.name:26} pid {p.pid:<8} {'running' if p.name in alive else 'stopped'}   log {p.log}")
    print(f"kubeconfig: {state.kubeconfig}")
    if alive:
        _show_nodes(state)
    return 0 if alive else 1


def _show_nodes(state: ClusterState) -> None:
    """Print `kubectl get nodes` by GPU class, then a per-class GPU summary."""
    kubectl = str(toolchain.binaries().kubectl)
    env = dict(os.environ, KUBECONFIG=state.kubeconfig)
    subprocess.run([kubectl, "get", "nodes", "-L", GPU_CLASS_LABEL, "--sort-by=.metadata.name"], env=env, check=False)
    out = subprocess.run([kubectl, "get", "nodes", "-o", "json"], env=env, check=True, capture_output=True, text=True)
    nodes = collections.Counter[str]()
    gpus = collections.Counter[str]()
    for item in json.loads(out.stdout)["items"]:
        gpu_class = item["metadata"].get("labels", {}).get(GPU_CLASS_LABEL)
        if gpu_class:
            nodes[gpu_class] += 1
            gpus[gpu_class] += int(item["status"].get("allocatable", {}).get(GPU_RESOURCE, "0"))
    print(f"\n{'GPU CLASS':10} {'NODES':>5} {'GPUS':>5}")
    for gpu_class in sorted(nodes):
        print(f"{gpu_class:10} {nodes[gpu_class]:>5} {gpus[gpu_class]:>5}")


def _print_access(state: ClusterState) -> None:
    bins = toolchain.binaries()
    print(f"\nUse it:   export KUBECONFIG={state.kubeconfig}; export PATH={bins.kubectl.parent}:$PATH")
    print("          kubectl get nodes -L fairshare.dev/gpu-class")
    print("Stop it:  make down   (or: fairshare down)")
