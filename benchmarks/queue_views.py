"""`fairshare queue` and `fairshare shares` with 15,000 waiting TrainingJobs on the real local control plane.

One cluster (the default kwok fleet), T tenants with one namespace each, and N TrainingJobs spread over them, each
with the status the operator writes to a waiting job (phase Queued, tenant, queue position, reason and since, an
Admitted=False condition). The operator does not run: the statuses are written once through the status
subresource so that every run reads the same 15,000 objects, and no operator competes for the 2 cores.

Measured, each `--runs` times, as a user runs it (a fresh `python -m fairshare.cli.main` process, wall clock):
queue -A, queue -A -o wide, queue --tenant, queue -n, shares. Then where the time of `queue -A` goes (imports,
kubeconfig, the Table LIST, turning rows into jobs, queue rows, formatting; the Table's bytes and parsing alone; a
Table LIST whose selector matches no job, the floor a cluster of mostly finished jobs would cost; and the whole objects
as the command read them before), Table page sizes, and the objects through the Kubernetes client
(CustomObjectsApi, as `fairshare explain` did before) for comparison. The load average is printed before and after:
the machine is shared.

    .venv/bin/python benchmarks/queue_views.py --jobs 15000 --tenants 20 --runs 5 --json out.json
    .venv/bin/python benchmarks/queue_views.py --kubeconfig KC   # reuse a cluster populated by an earlier --keep
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fairshare.client import paths
from fairshare.client.kubeconfig import load
from fairshare.client.transport import Transport

REPO = Path(__file__).resolve().parent.parent
CLASSES = {"h100": 4.0, "a100": 2.5, "l4": 0.8}
NOW = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def tenant_name(i: int) -> str:
    return f"bench-t{i:02d}"


def job_body(namespace: str, i: int) -> dict[str, Any]:
    """A job as users write them: an image, a command, env, resources, an elastic range, classes and a bid."""
    return {"apiVersion": paths.API_VERSION, "kind": "TrainingJob",
            "metadata": {"name": f"job-{i:05d}", "namespace": namespace, "labels": {"team": namespace}},
            "spec": {"image": "ghcr.io/example/trainer:1.4.2", "command": ["torchrun", "-m", "trainer"],
                     "args": ["--model", "bert-large", "--epochs", "3", "--batch-size", "64"],
                     "env": [{"name": "DATASET", "value": "s3://bucket/wiki-2024"},
                             {"name": "LOG_LEVEL", "value": "info"}],
                     "resources": {"cpu": "8", "memory": "64Gi"},
                     "workers": {"min": 1 + i % 2, "max": 4}, "gpusPerWorker": 8,
                     "gpuClasses": ["a100", "h100"] if i % 3 else ["l4"], "maxPricePerGPUHour": 3.5}}


def job_status(tenant: str, position: int) -> dict[str, Any]:
    """What the operator writes on a waiting job (control/job_status.py, control/transition.py)."""
    reason = (f"tenant {tenant} is at 1.40x its fair share of a100; {position} jobs ahead; bid 3.5 < price 4.1 on "
              "h100 and a100 holds no room for 1 x 8 GPUs")
    return {"observedGeneration": 1, "tenant": tenant, "phase": "Queued",
            "queue": {"position": position, "reason": reason, "reasonCode": "WaitingForShare", "updatedAt": NOW,
                      "since": NOW},
            "conditions": [{"type": "Admitted", "status": "False", "observedGeneration": 1,
                            "lastTransitionTime": NOW, "reason": "Waiting", "message": reason}]}


def populate(kubeconfig: str, jobs: int, tenants: int, threads: int = 8) -> float:
    """GPUClasses, Tenants (with status) and `jobs` waiting TrainingJobs; returns the wall seconds it took."""
    start = time.perf_counter()
    api = Transport(load(kubeconfig))
    for name, price in CLASSES.items():
        api.request("POST", paths.gpu_classes(), body={
            "apiVersion": paths.API_VERSION, "kind": "GPUClass", "metadata": {"name": name},
            "spec": {"nodeSelector": {"fairshare.dev/gpu-class": name}, "pricePerGPUHour": price,
                     "powerWatts": 400}})
    for t in range(tenants):
        name = tenant_name(t)
        api.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name}})
        api.request("POST", paths.tenants(), body={
            "apiVersion": paths.API_VERSION, "kind": "Tenant", "metadata": {"name": name},
            "spec": {"namespaces": [name], "weight": 1 + t % 3, "guaranteed": {"a100": 8}, "budget": {
                "creditsPerPeriod": 10000}}})
        api.request("PATCH", paths.tenants(name) + "/status", content_type="application/merge-patch+json", body={
            "status": {"fairShare": {"a100": 3.2, "h100": 1.6, "l4": 1.6}, "allocated": {"a100": 8},
                       "allocatedGPUs": 8, "shareRatio": 1.4, "decayedUsageGPUHours": 310.5,
                       "spendThisPeriod": 1200.0, "creditsLeft": 8800.0}})
    local = threading.local()

    def create(i: int) -> None:
        if not hasattr(local, "api"):
            local.api = Transport(load(kubeconfig))
        ns = tenant_name(i % tenants)
        local.api.request("POST", paths.training_jobs(ns), body=job_body(ns, i))
        local.api.request("PATCH", paths.training_jobs(ns, f"job-{i:05d}") + "/status",
                          content_type="application/merge-patch+json",
                          body={"status": job_status(ns, i // tenants + 1)})

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(create, range(jobs)))
    return time.perf_counter() - start


BYTECODE_CACHE = Path(tempfile.gettempdir()) / "fairshare-queue-bench-pycache"


def cli_env(repo: Path, **extra: str) -> dict[str, str]:
    """The environment of a timed CLI process: `repo`'s sources, and their bytecode cached (outside the repo) as an
    installed package has it. Without it, a shell with PYTHONDONTWRITEBYTECODE set compiles every module of the
    command again in each process, which no installed CLI does."""
    env = {**os.environ, "PYTHONPATH": str(repo / "operator"), "PYTHONPYCACHEPREFIX": str(BYTECODE_CACHE), **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed_cli(kubeconfig: str, args: list[str], runs: int, baseline: Path | None = None) -> dict[str, Any]:
    """Wall seconds of `fairshare <args>` as a fresh process, `runs` times, and its output's line count. With
    `baseline` (another checkout), its CLI runs right after each run of this one, so both see the same load, and
    the two outputs must be the same but for the WAITING column's ages."""
    def once(repo: Path) -> tuple[float, str]:
        env = cli_env(repo, KUBECONFIG=kubeconfig)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "fairshare.cli.main", *args], env=env, capture_output=True,
                              text=True, timeout=120, check=True)
        return time.perf_counter() - start, proc.stdout

    times, base_times, lines, same = [], [], 0, True
    for repo in (REPO, baseline) if baseline is not None else (REPO,):
        once(repo)  # untimed: the first run compiles the checkout's modules into the bytecode cache (`cli_env`)
    for _ in range(runs):
        took, out = once(REPO)
        times.append(took)
        lines = len(out.splitlines())
        if baseline is not None:
            took, base_out = once(baseline)
            base_times.append(took)
            same = same and without_ages(out) == without_ages(base_out)
    result: dict[str, Any] = {"args": " ".join(args), "median_s": statistics.median(times), "min_s": min(times),
                              "max_s": max(times), "lines": lines}
    if baseline is not None:
        result.update(baseline_median_s=statistics.median(base_times), baseline_min_s=min(base_times),
                      baseline_max_s=max(base_times), same_output_as_baseline=same)
    return result


def without_ages(text: str) -> list[str]:
    """The output's lines without the WAITING column (ages move on between two runs), spaces collapsed (widths may
    then differ); the column is cut where the header places it."""
    lines = text.splitlines()
    if not lines or "WAITING" not in lines[0]:
        return [" ".join(line.split()) for line in lines]
    start = lines[0].index("WAITING")
    after = re.search(r"\s\S", lines[0][start:])
    end = start + after.end() - 1 if after else None
    return [" ".join((line[:start] + (line[end:] if end else "")).split()) for line in lines]


def breakdown(kubeconfig: str, runs: int) -> dict[str, Any]:
    """Where `queue -A`'s time goes, in a fresh interpreter per run (imports counted), medians: the Table read as the
    command reads it, then the same jobs as whole objects (how it read them before) for comparison."""
    program = f"""
import json, time
t0 = time.perf_counter()
from fairshare.cli import queue_cmd
from fairshare.client import jobtable, paths, views
from fairshare.client.kubeconfig import load
from fairshare.client.transport import TABLE, Transport
t1 = time.perf_counter()
api = Transport(load({kubeconfig!r}))
path = paths.training_jobs()
t2 = time.perf_counter()
columns, cells = api.table(path, {{"fieldSelector": jobtable.WAITING_SELECTOR}})  # as the command: one request
t3 = time.perf_counter()
rows = jobtable.rows_from_table(columns, cells, views.now_utc())
t4 = time.perf_counter()
views.in_queue_order(rows)
t5 = time.perf_counter()
text = views.queue_table(rows, namespaces=True)
t6 = time.perf_counter()
query = {{"includeObject": "None", "fieldSelector": jobtable.WAITING_SELECTOR}}
table_raw = api._send("GET", path, query, None, "", api._open(60), TABLE).read()
t7 = time.perf_counter()
from pydantic_core import from_json
from_json(table_raw)
t8 = time.perf_counter()
api._send("GET", path, {{**query, "fieldSelector": "status.phase=Succeeded"}}, None, "", api._open(60), TABLE).read()
t9 = time.perf_counter()
items = api.list(path, limit=queue_cmd.PAGE_SIZE)
t10 = time.perf_counter()
raw = api._send("GET", path, None, None, "", api._open(60)).read()
t11 = time.perf_counter()
from_json(raw)
t12 = time.perf_counter()
print(json.dumps({{"imports": t1 - t0, "kubeconfig": t2 - t1, "table_list": t3 - t2, "table_to_rows": t4 - t3,
                  "order": t5 - t4, "format": t6 - t5, "table_unpaged_fetch": t7 - t6, "table_parse_alone": t8 - t7,
                  "table_bytes": len(table_raw), "table_selecting_none": t9 - t8, "objects_list": t10 - t9,
                  "objects_unpaged_fetch": t11 - t10, "objects_parse_alone": t12 - t11, "objects_bytes": len(raw),
                  "rows_printed": len(rows), "items": len(items)}}))
"""
    env = cli_env(REPO)
    samples = [json.loads(subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True,
                                         timeout=300, check=True).stdout) for _ in range(runs + 1)][1:]
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


def page_sizes(kubeconfig: str, runs: int) -> dict[str, float]:
    """Median seconds of the whole Table read (request, read, parse) by page size, in this process."""
    from fairshare.client import jobtable

    api = Transport(load(kubeconfig))
    out = {}
    for limit in (1000, 5000, None):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            api.table(paths.training_jobs(), {"fieldSelector": jobtable.WAITING_SELECTOR}, limit)
            times.append(time.perf_counter() - start)
        out[str(limit or "unpaged")] = statistics.median(times)
    return out


def kubernetes_client(kubeconfig: str, runs: int) -> dict[str, float]:
    """The same LIST through the Kubernetes client, in a fresh process: import, then list_cluster_custom_object."""
    program = f"""
import json, time
t0 = time.perf_counter()
from kubernetes import client, config
t1 = time.perf_counter()
api = client.CustomObjectsApi(config.new_client_from_config(config_file={kubeconfig!r}))
items = api.list_cluster_custom_object("fairshare.dev", "v1alpha1", "trainingjobs")["items"]
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "list": t2 - t1, "total": t2 - t0}}))
"""
    samples = [json.loads(subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                                         timeout=300, check=True).stdout) for _ in range(runs)]
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


def summary(result: dict[str, Any]) -> str:
    """The figures to report, in words: each command's median and range (and the baseline's), the load average."""
    def load(key: str) -> str:
        return " / ".join(f"{x:.2f}" for x in result[key])

    lines = [f"{result['jobs']} waiting jobs, {result['tenants']} tenants, {result['runs']} fresh processes per "
             f"command; load average (1, 5, 15 min) {load('loadavg_before')} before, {load('loadavg_after')} after"]
    for cli in result["cli"]:
        line = f"  fairshare {cli['args']:<28} {cli['median_s']:.2f} s ({cli['min_s']:.2f}-{cli['max_s']:.2f})"
        if "baseline_median_s" in cli:
            line += (f"   baseline {cli['baseline_median_s']:.2f} s ({cli['baseline_min_s']:.2f}-"
                     f"{cli['baseline_max_s']:.2f}), same output: {cli['same_output_as_baseline']}")
        lines.append(line)
    seconds = {k: v for k, v in result["breakdown_queue_all"].items() if not k.endswith(("_bytes", "printed", "items"))}
    lines.append("  queue -A, where the time goes (medians, s): " + ", ".join(f"{k} {v:.3f}"
                                                                             for k, v in seconds.items()))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=15000)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kubeconfig", help="a cluster populated by an earlier run with --keep (skips populating)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the cluster running (also when a later step fails); print its kubeconfig")
    parser.add_argument("--populate-only", action="store_true", help="populate, keep the cluster, measure nothing")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. `git worktree add /tmp/base main`): "
                                                      "time its CLI alternately with this one's, and compare outputs")
    parser.add_argument("--skip-comparisons", action="store_true",
                        help="only the commands and the breakdown (no page sizes, no Kubernetes client)")
    args = parser.parse_args()

    cluster = None
    result: dict[str, Any] = {"jobs": args.jobs, "tenants": args.tenants, "runs": args.runs,
                              "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    try:
        if args.kubeconfig:
            kubeconfig = args.kubeconfig
        else:
            from fairshare.localcluster import toolchain
            from fairshare.localcluster.cluster import LocalCluster

            bins, _ = toolchain.ensure(verbose=False)
            cluster = LocalCluster(Path(tempfile.mkdtemp(prefix="fairshare-queue-bench-")), binaries=bins)
            kubeconfig = cluster.start(timeout=300).kubeconfig
            subprocess.run([str(bins.kubectl), f"--kubeconfig={kubeconfig}", "apply", "-f", str(REPO / "crds")],
                           check=True, capture_output=True)
            subprocess.run([str(bins.kubectl), f"--kubeconfig={kubeconfig}", "wait", "--for=condition=Established",
                            "--timeout=60s", "crd", "--all"], check=True, capture_output=True)
            result["populate_s"] = populate(kubeconfig, args.jobs, args.tenants)
            print(f"populated {args.jobs} jobs in {result['populate_s']:.0f} s", flush=True)
            if args.keep or args.populate_only:
                print(f"cluster kept; kubeconfig: {kubeconfig}; stop it with `fairshare cluster down --data-dir "
                      f"{cluster.data_dir}`", flush=True)
                cluster = None
            if args.populate_only:
                return 0
        result["loadavg_before"] = os.getloadavg()
        result["cli"] = [timed_cli(kubeconfig, a, args.runs, args.baseline) for a in (
            ["queue", "-A"], ["queue", "-A", "-o", "wide"], ["queue", "--tenant", tenant_name(3)],
            ["queue", "-n", tenant_name(3)], ["shares"], ["--help"])]
        result["breakdown_queue_all"] = breakdown(kubeconfig, args.runs)
        if not args.skip_comparisons:
            result["table_by_page_size_s"] = page_sizes(kubeconfig, args.runs)
            result["kubernetes_client_list_s"] = kubernetes_client(kubeconfig, max(1, args.runs // 2))
        result["loadavg_after"] = os.getloadavg()
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(summary(result))
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
