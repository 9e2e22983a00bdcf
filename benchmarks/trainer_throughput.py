"""Trainer throughput: samples/s at 1 and N processes, scaling efficiency, metrics-export overhead, and MFU on GPU.

Every configuration runs as the real trainer (plain `python -m fairshare_trainer` for one process, torchrun for
more), interleaved within each repetition so that drift in machine load hits all configurations alike. With
metrics on, a scraper thread fetches every rank's /metrics at --scrape-interval for the whole run.

    .venv/bin/python benchmarks/trainer_throughput.py                       # CPU: 1 and 2 processes
    .venv/bin/python benchmarks/trainer_throughput.py --device cuda --procs 1 --model-size base \\
        --batch-size 32 --peak-tflops 989                                    # one H100 SXM, dense bf16
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from fairshare.localcluster.processes import free_port_range

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAINER_SOURCE = REPO_ROOT / "trainer_image"


@dataclass(frozen=True)
class Measurement:
    procs: int
    metrics: bool
    repetition: int
    samples_per_second: float
    samples_per_cpu_second: float  # steady samples over the CPU time of all ranks: robust to neighbours' load
    tokens_per_second: float
    parameters: int
    scrapes: int




def _scrape_until(stop: threading.Event, ports: list[int], interval: float, counter: list[int]) -> None:
    while not stop.wait(interval):
        for port in ports:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                    response.read()
                counter[0] += 1
            except OSError:
                pass  # not serving yet (start-up) or already gone (shutdown)


def run_once(args: argparse.Namespace, procs: int, metrics: bool, repetition: int) -> Measurement:
    """One trainer run; returns rank 0's steady-state throughput from its `finished` log event."""
    threads = args.threads_per_proc or max(1, (os.cpu_count() or 1) // max(args.procs))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FAIRSHARE_", "PET_"))},
        "PYTHONPATH": str(TRAINER_SOURCE),
        "OMP_NUM_THREADS": str(threads),
        "FAIRSHARE_DEVICE": args.device,
        "FAIRSHARE_MODEL_SIZE": args.model_size,
        "FAIRSHARE_BATCH_SIZE": str(args.batch_size),
        "FAIRSHARE_MAX_STEPS": str(args.steps),
        "FAIRSHARE_LOG_EVERY_STEPS": str(args.steps),
        "FAIRSHARE_METRICS_ADDR": "127.0.0.1",
    }
    ports: list[int] = []
    if metrics:
        base = free_port_range(procs)
        env["FAIRSHARE_METRICS_PORT"] = str(base)
        ports = list(range(base, base + procs))
    if procs == 1:
        command = [sys.executable, "-m", "fairshare_trainer"]
    else:
        env.update(
            PET_NNODES="1",
            PET_NPROC_PER_NODE=str(procs),
            PET_NODE_RANK="0",
            PET_MASTER_ADDR="127.0.0.1",
            PET_MASTER_PORT=str(free_port_range(1)),
        )
        command = [sys.executable, "-m", "torch.distributed.run", "-m", "fairshare_trainer"]

    stop, scrapes = threading.Event(), [0]
    scraper = threading.Thread(target=_scrape_until, args=(stop, ports, args.scrape_interval, scrapes), daemon=True)
    scraper.start()
    try:
        completed = subprocess.run(
            command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=args.run_timeout
        )
    finally:
        stop.set()
        scraper.join()
    if completed.returncode != 0:
        # Rank 0's lines first: torchrun prints every rank's traceback and the first failure is what matters.
        lines = completed.stderr.splitlines()
        ordered = sorted(lines, key=lambda line: line.startswith("[rank1"))
        raise RuntimeError(f"trainer failed ({completed.returncode}):\n" + "\n".join(ordered)[-6000:])
    finished = [json.loads(line) for line in completed.stdout.splitlines() if '"event": "finished"' in line]
    rank0 = next(event for event in finished if event["rank"] == 0)
    cpu_seconds = sum(event["steady_cpu_seconds"] for event in finished)
    return Measurement(
        procs,
        metrics,
        repetition,
        rank0["steady_samples_per_second"],
        rank0["steady_samples"] / cpu_seconds,
        rank0["steady_tokens_per_second"],
        rank0["parameters"],
        scrapes[0],
    )


def metrics_cost_microbenchmark() -> dict[str, float]:
    """In-process cost of the metrics work itself: per-step updates, and rendering one scrape.

    Much less noisy than end-to-end throughput on a shared machine; compare it with the step time.
    """
    sys.path.insert(0, str(TRAINER_SOURCE))
    import torch
    from fairshare_trainer.metrics import TrainerMetrics
    from prometheus_client import generate_latest

    metrics = TrainerMetrics("bench/trainer", "cpu", rank=0, device=torch.device("cpu"))
    metrics.observe_start(world_size=2, model_parameters=120_576, step=0)
    updates, renders = 20_000, 500
    started = time.perf_counter()
    for step in range(updates):
        metrics.observe_step(step, 32, 500.0, 32_000.0, 2.5)
    update_seconds = (time.perf_counter() - started) / updates
    started = time.perf_counter()
    for _ in range(renders):
        generate_latest(metrics.registry)
    render_seconds = (time.perf_counter() - started) / renders
    return {"observe_step_microseconds": update_seconds * 1e6, "scrape_render_microseconds": render_seconds * 1e6}


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


RATES = {"samples_per_second": "wall-clock samples/s", "samples_per_cpu_second": "samples per CPU-second"}


def report(args: argparse.Namespace, measurements: list[Measurement]) -> dict:
    """Per-configuration statistics, scaling efficiency against 1 process, metrics overhead, and MFU on GPU."""
    configs: dict[str, dict] = {}
    for procs in args.procs:
        for metrics in (False, True):
            runs = [m for m in measurements if m.procs == procs and m.metrics == metrics]
            configs[f"{procs}proc_metrics_{'on' if metrics else 'off'}"] = {
                "procs": procs,
                "metrics": metrics,
                **{rate: _summary([getattr(m, rate) for m in runs]) for rate in RATES},
                "scrapes_per_run": statistics.fmean(m.scrapes for m in runs),
            }
    result: dict = {"machine": _machine(), "args": vars(args), "configs": configs}
    if "1proc_metrics_off" in configs:
        single = configs["1proc_metrics_off"]
        # Wall clock: the usual definition. Per CPU-second: N processes do N times the CPU work of one for the
        # same wall time when scaling is perfect, so efficiency is the ratio of samples per CPU-second.
        result["scaling_efficiency"] = {
            "samples_per_second": {
                procs: configs[f"{procs}proc_metrics_off"]["samples_per_second"]["mean"]
                / (procs * single["samples_per_second"]["mean"])
                for procs in args.procs
                if procs > 1
            },
            "samples_per_cpu_second": {
                procs: configs[f"{procs}proc_metrics_off"]["samples_per_cpu_second"]["mean"]
                / single["samples_per_cpu_second"]["mean"]
                for procs in args.procs
                if procs > 1
            },
        }
    overhead: dict[str, dict] = {rate: {} for rate in RATES}
    for procs in args.procs:
        for rate in RATES:
            pairs = [
                (getattr(off, rate), getattr(on, rate))
                for off in measurements
                for on in measurements
                if off.procs == on.procs == procs and off.repetition == on.repetition and not off.metrics and on.metrics
            ]
            overhead[rate][procs] = _summary([100.0 * (off - on) / off for off, on in pairs])
    result["metrics_overhead_percent"] = overhead
    if args.device == "cuda" and args.peak_tflops:
        parameters = measurements[0].parameters
        result["mfu"] = {
            procs: 6
            * parameters
            * statistics.fmean(m.tokens_per_second for m in measurements if m.procs == procs and not m.metrics)
            / (procs * args.peak_tflops * 1e12)
            for procs in args.procs
        }
    result["runs"] = [asdict(m) for m in measurements]
    return result


def print_markdown(result: dict) -> None:
    print(f"machine: {result['machine']}")
    for rate, title in RATES.items():
        print(f"\n{title}")
        print("| procs | metrics | mean | stdev | min | max | scrapes/run |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for config in result["configs"].values():
            s = config[rate]
            print(
                f"| {config['procs']} | {'on' if config['metrics'] else 'off'} | {s['mean']:.1f} | {s['stdev']:.1f} "
                f"| {s['min']:.1f} | {s['max']:.1f} | {config['scrapes_per_run']:.0f} |"
            )
        for procs, efficiency in result.get("scaling_efficiency", {}).get(rate, {}).items():
            print(f"scaling efficiency, {procs} procs: {efficiency:.3f}")
        for procs, o in result["metrics_overhead_percent"][rate].items():
            print(
                f"metrics overhead, {procs} proc(s): {o['mean']:+.2f}% (stdev {o['stdev']:.2f}, "
                f"min {o['min']:+.2f}, max {o['max']:+.2f}; paired per repetition)"
            )
    cost = result.get("metrics_cost")
    if cost:
        print(
            f"\nmetrics cost in-process: {cost['observe_step_microseconds']:.1f} us per step (updates), "
            f"{cost['scrape_render_microseconds']:.0f} us per scrape (render)"
        )
    for procs, mfu in result.get("mfu", {}).items():
        print(f"MFU {procs} proc(s): {100 * mfu:.1f}%")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--procs",
        type=lambda s: [int(p) for p in s.split(",")],
        default=[1, 2],
        help="comma-separated process counts, e.g. 1,2 (1 must be included for scaling efficiency)",
    )
    parser.add_argument("--model-size", choices=("tiny", "small", "base"), default="tiny")
    parser.add_argument("--batch-size", type=int, default=16, help="per process")
    parser.add_argument("--steps", type=int, default=150, help="per run; the first 5 are excluded as warm-up")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads-per-proc",
        type=int,
        default=0,
        help="OMP threads per process, the same in every configuration; 0: CPUs // max(procs)",
    )
    parser.add_argument("--scrape-interval", type=float, default=1.0, help="seconds between scrapes of each rank")
    parser.add_argument("--peak-tflops", type=float, default=0.0, help="device peak TFLOP/s for MFU (cuda only)")
    parser.add_argument("--run-timeout", type=float, default=600.0)
    parser.add_argument("--json", type=Path, help="also write the full result here")
    args = parser.parse_args()

    measurements = []
    for repetition in range(args.repeats):
        for procs in args.procs:
            # Alternate which of the pair runs first, so an order effect (a warm page cache, a neighbour's
            # load that comes and goes) cancels out in the mean instead of posing as metrics overhead.
            for metrics in (False, True) if repetition % 2 == 0 else (True, False):
                started = time.monotonic()
                measurement = run_once(args, procs, metrics, repetition)
                measurements.append(measurement)
                print(
                    f"rep {repetition} procs {procs} metrics {'on' if metrics else 'off'}: "
                    f"{measurement.samples_per_second:.1f} samples/s ({time.monotonic() - started:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    result = report(args, measurements)
    result["metrics_cost"] = metrics_cost_microbenchmark()
    print_markdown(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
