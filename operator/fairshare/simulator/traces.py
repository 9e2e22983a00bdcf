"""Parsers for the public traces: Gavel's per-VC Philly traces, Pollux's philly.csv and Shockwave's drifting jobs.

Each `parse_*` function is pure (lines in, jobs out); each `load_*` reads the shared data directory in place.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterable
from pathlib import Path

from fairshare.simulator.drift import MODES, phases_for
from fairshare.simulator.throughput_matrix import ThroughputMatrix, batch_size_of, load_matrix
from fairshare.simulator.workload import Phase, TraceJob, Workload

GAVEL_CITATION = ("Gavel (Narayanan et al., OSDI'20), stanford-futuredata/gavel @ c4fa400, MIT: throughput matrix "
                  "simulation_throughputs.json and per-VC traces derived from the Microsoft Philly trace "
                  "(msr-fiddle/philly-traces, CC BY 4.0)")
POLLUX_CITATION = ("Pollux (Qiao et al., OSDI'21), petuum/adaptdl osdi21-artifact @ c793c70, Apache-2.0: "
                   "philly.csv, from the Microsoft Philly trace (msr-fiddle/philly-traces, CC BY 4.0); "
                   "throughput from Gavel's matrix")
SHOCKWAVE_CITATION = ("Shockwave (Zheng et al., NSDI'23), uw-mad-dash/shockwave @ 8a44f4a, MIT: traces and "
                      "wisr_throughputs.json")
POLLUX_REFERENCE_GPU = "p100"
_POLLUX_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _fixed_size_job(key: str, tenant: str, arrival_s: float, job_type: str, steps: float, gpus: int,
                    phases: tuple[Phase, ...] | None = None, mode: str = "static", priority: int = 0) -> TraceJob:
    return TraceJob(key=key, tenant=tenant, arrival_s=arrival_s, work_samples=steps * batch_size_of(job_type),
                    phases=phases or (Phase(0.0, job_type),), min_workers=gpus, max_workers=gpus,
                    priority=priority, mode=mode)


def parse_gavel_trace(lines: Iterable[str], tenant: str) -> list[TraceJob]:
    """Gavel trace rows: job_type, command, num_steps_arg, needs_data_dir, total_steps, arrival_time_s, scale_factor."""
    jobs = []
    for index, line in enumerate(ln for ln in lines if ln.strip()):
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 7:
            raise ValueError(f"{tenant} line {index + 1}: expected 7 tab-separated fields, got {len(fields)}")
        job_type, total_steps, arrival_s, scale = fields[0], float(fields[4]), float(fields[5]), int(fields[6])
        jobs.append(_fixed_size_job(f"{tenant}/j{index:05d}", tenant, arrival_s, job_type, total_steps, scale))
    return jobs


def load_gavel_philly(data_dir: Path) -> Workload:
    """Gavel's 15 Philly virtual-cluster traces, one tenant each, priced by simulation_throughputs.json."""
    gavel = data_dir / "gavel"
    jobs: list[TraceJob] = []
    tenants = []
    for trace in sorted((gavel / "traces" / "philly_vc").glob("*.trace")):
        tenants.append(trace.stem)
        with trace.open() as lines:
            jobs += parse_gavel_trace(lines, trace.stem)
    matrix = load_matrix(gavel / "simulation_throughputs.json")
    return Workload("gavel-philly", (), tuple(tenants), matrix, GAVEL_CITATION).replace_jobs(jobs)


def parse_pollux_csv(lines: Iterable[str], matrix: ThroughputMatrix, rng: random.Random,
                     reference_gpu: str = POLLUX_REFERENCE_GPU) -> list[TraceJob]:
    """philly.csv rows (timestamp, duration, num_gpus, gpu_time, cluster): cluster is the tenant.

    The trace names no model, so each job gets a seeded random Gavel template (one that trains data-parallel
    when it asks for several GPUs) and its work is the duration at that template's speed on `reference_gpu`.
    """
    rows = [r for r in csv.DictReader(lines) if r.get("cluster") and r.get("timestamp")]
    if not rows:
        return []
    single = list(matrix.job_types())
    parallel = [j for j in single if max(matrix.measured_sizes(j)) > 1]
    stamps = [dt.datetime.strptime(r["timestamp"], _POLLUX_TIME_FORMAT) for r in rows]
    origin = min(stamps)
    jobs = []
    for index, (row, stamp) in enumerate(zip(rows, stamps, strict=True)):
        duration, gpus = float(row["duration"]), int(float(row["num_gpus"]))
        if duration <= 0 or gpus <= 0:
            continue
        job_type = rng.choice(parallel if gpus > 1 else single)
        steps = duration * matrix.steps_per_second(job_type, reference_gpu, gpus)
        jobs.append(_fixed_size_job(f"{row['cluster']}/p{index:05d}", row["cluster"],
                                    (stamp - origin).total_seconds(), job_type, steps, gpus))
    return jobs


def load_pollux_philly(data_dir: Path, rng: random.Random) -> Workload:
    matrix = load_matrix(data_dir / "gavel" / "simulation_throughputs.json")
    with (data_dir / "pollux" / "philly.csv").open() as lines:
        jobs = parse_pollux_csv(lines, matrix, rng)
    tenants = tuple(sorted({j.tenant for j in jobs}))
    return Workload("pollux-philly", (), tenants, matrix, POLLUX_CITATION).replace_jobs(jobs)


def parse_shockwave_trace(lines: Iterable[str], matrix: ThroughputMatrix, tenants: tuple[str, ...],
                          rng: random.Random) -> list[TraceJob]:
    """Shockwave rows (12 fields, mode static|gns|accordion); the trace has no tenants: each job gets a seeded one."""
    jobs = []
    for index, line in enumerate(ln for ln in lines if ln.strip()):
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 12:
            raise ValueError(f"shockwave line {index + 1}: expected 12 tab-separated fields, got {len(fields)}")
        job_type, total_steps, scale, mode = fields[0], float(fields[5]), int(fields[6]), fields[7]
        if mode not in MODES:
            raise ValueError(f"shockwave line {index + 1}: unknown mode {mode!r}")
        tenant = rng.choice(tenants)
        jobs.append(_fixed_size_job(f"{tenant}/s{index:04d}", tenant, float(fields[11]), job_type, total_steps, scale,
                                    phases=phases_for(mode, job_type, matrix), mode=mode,
                                    priority=int(float(fields[8]))))
    return jobs


def load_shockwave(data_dir: Path, rng: random.Random, tenant_count: int = 4,
                   trace_prefix: str = "900_0.2_5_100_") -> Workload:
    """One Shockwave trace (the first whose name starts with `trace_prefix`), priced by wisr_throughputs.json."""
    shockwave = data_dir / "shockwave"
    matches = sorted((shockwave / "traces").glob(f"{trace_prefix}*.trace"))
    if not matches:
        raise RuntimeError(f"no Shockwave trace named {trace_prefix}* in {shockwave / 'traces'}")
    matrix = load_matrix(shockwave / "wisr_throughputs.json")
    tenants = tuple(f"tenant-{i}" for i in range(tenant_count))
    with matches[0].open() as lines:
        jobs = parse_shockwave_trace(lines, matrix, tenants, rng)
    return Workload(f"shockwave:{matches[0].name}", (), tenants, matrix, SHOCKWAVE_CITATION).replace_jobs(jobs)
