"""`fairshare simulate`: replay a trace through the scheduling core's policies and compare them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fairshare.simulator.cluster import PRESETS
from fairshare.simulator.datadir import DATA_DIR_ENV, resolve_data_dir
from fairshare.simulator.engine import EngineConfig
from fairshare.simulator.experiment import WORKLOADS, Experiment, ExperimentSpec, run_experiment
from fairshare.simulator.load import offered_load
from fairshare.simulator.report import (
    as_json,
    check_targets,
    markdown_table,
    preemptions_markdown,
    price_stability_markdown,
    targets_markdown,
    text_table,
)
from fairshare.simulator.synthetic import SyntheticSpec

EPILOG = """examples:
  fairshare simulate --workload gavel-philly --cluster gavel-36 --policy all --arrival-rate 0.2
  fairshare simulate --workload shockwave --cluster tiny --policy market gavel --noise 0.05
  fairshare simulate --workload pollux-philly --cluster pai-64 --max-jobs 2000 --policy market,fifo
  fairshare simulate --workload synthetic --synthetic-jobs 300 --cluster shape.yaml --out /tmp/sim
"""


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="replay a GPU-cluster trace through the scheduling policies",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    w = p.add_argument_group("workload")
    w.add_argument("--workload", choices=WORKLOADS, default="gavel-philly")
    w.add_argument("--max-jobs", type=int, default=None, help="keep the first N jobs by arrival")
    w.add_argument("--measured-sizes-only", action="store_true",
                   help="keep only jobs whose (model, GPUs) the throughput matrix measures, as Gavel's simulator")
    w.add_argument("--one-tenant", action="store_true",
                   help="put every job in one tenant (the cost of tenant fairness: compare with the same run without)")
    w.add_argument("--sample", type=float, default=1.0, help="keep a seeded random fraction of the jobs")
    w.add_argument("--arrival-rate", type=float, default=1.0,
                   help="multiply the arrival rate (0.2 = arrivals 5x further apart)")
    w.add_argument("--shockwave-trace", default="900_0.2_5_100_", help="name prefix of the Shockwave trace")
    w.add_argument("--shockwave-tenants", type=int, default=4)
    w.add_argument("--synthetic-jobs", type=int, default=200)
    w.add_argument("--synthetic-tenants", type=int, default=4)
    w.add_argument("--synthetic-rate", type=float, default=20.0, help="synthetic arrivals per hour")
    w.add_argument("--elastic-fraction", type=float, default=0.0)
    w.add_argument("--drift-fraction", type=float, default=0.0)
    c = p.add_argument_group("cluster and tenants")
    c.add_argument("--cluster", default="gavel-36",
                   help=f"preset ({', '.join(PRESETS)}), pai-<machines> (sampled from Alibaba PAI), "
                        "or a YAML file with nodePools: [{gpuClass, count, gpusPerNode}]")
    c.add_argument("--tenants", type=Path, default=None,
                   help="YAML: tenants: [{name, weight, guaranteed: {class: n}, borrowingLimit, budget}]")
    c.add_argument("--guarantee-fraction", type=float, default=1.0,
                   help="guarantees = this fraction of each class, split equally (default: all of it)")
    c.add_argument("--budget", type=float, default=None, help="every tenant's credits per budget period")
    r = p.add_argument_group("replay")
    r.add_argument("--policy", nargs="+", default=["all"], help="policies to compare (names, comma lists, or all)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--tick", type=float, default=360.0, help="seconds between scheduling cycles (Gavel: 360)")
    r.add_argument("--schedule-on-events", action="store_true", help="also run a cycle at arrivals and completions")
    r.add_argument("--max-quiet-ticks", type=int, default=29,
                   help="skip at most this many ticks in a row when nothing changed (0: never skip)")
    r.add_argument("--restart-seconds", type=float, default=30.0, help="delay after a preemption or resize")
    r.add_argument("--checkpoint-every", type=float, default=0.0,
                   help="seconds between checkpoints; 0 = checkpoint on SIGTERM (no work lost)")
    r.add_argument("--noise", type=float, default=0.0, help="relative std-dev of throughput measurements")
    r.add_argument("--oracle-throughput", action="store_true",
                   help="every job reports its true throughput on every class from arrival (what Gavel's LP reads): "
                        "bounds what learning it by measurement costs a policy")
    r.add_argument("--horizon-hours", type=float, default=None, help="stop after this much simulated time")
    r.add_argument("--budget-period-hours", type=float, default=168.0)
    r.add_argument("--half-life-hours", type=float, default=None, help="usage half-life (PolicyConfig)")
    r.add_argument("--policy-config", action="append", default=[], metavar="FIELD=VALUE",
                   help="set any PolicyConfig field, e.g. lookahead=64 or min_run_seconds=1800 (repeatable)")
    o = p.add_argument_group("output")
    o.add_argument("--data-dir", type=Path, default=None, help=f"shared data folder (or ${DATA_DIR_ENV})")
    o.add_argument("--out", type=Path, default=None, help="write summary.json, report.md and PNG plots here")
    o.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")
    o.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_simulate)


def spec_from_args(args: argparse.Namespace) -> ExperimentSpec:
    policies = tuple(name for item in args.policy for name in item.split(",") if name)
    engine = EngineConfig(tick_s=args.tick, restart_s=args.restart_seconds, checkpoint_every_s=args.checkpoint_every,
                          measurement_noise=args.noise, schedule_on_events=args.schedule_on_events,
                          max_quiet_ticks=args.max_quiet_ticks,
                          horizon_s=None if args.horizon_hours is None else args.horizon_hours * 3600.0,
                          budget_period_s=args.budget_period_hours * 3600.0, show_progress=not args.no_progress,
                          oracle_throughput=args.oracle_throughput)
    overrides = policy_overrides(args.policy_config)
    if args.half_life_hours is not None:
        overrides["half_life_hours"] = args.half_life_hours
    return ExperimentSpec(
        workload=args.workload, cluster=args.cluster, policies=policies, seed=args.seed, max_jobs=args.max_jobs,
        sample=args.sample, measured_sizes_only=args.measured_sizes_only, one_tenant=args.one_tenant,
        arrival_rate=args.arrival_rate,
        tenants_file=args.tenants,
        guarantee_fraction=args.guarantee_fraction, budget_per_period=args.budget,
        shockwave_trace=args.shockwave_trace, shockwave_tenants=args.shockwave_tenants,
        synthetic=SyntheticSpec(jobs=args.synthetic_jobs, tenants=args.synthetic_tenants,
                                jobs_per_hour=args.synthetic_rate, elastic_fraction=args.elastic_fraction,
                                drift_fraction=args.drift_fraction),
        engine=engine, policy_overrides=overrides)


def policy_overrides(items: list[str]) -> dict[str, Any]:
    """`FIELD=VALUE` pairs typed like PolicyConfig's defaults (bool, int, float)."""
    import dataclasses

    from fairshare.core.config import PolicyConfig
    from fairshare.settings import typed_value

    defaults = {f.name: getattr(PolicyConfig(), f.name) for f in dataclasses.fields(PolicyConfig)}
    out: dict[str, Any] = {}
    for item in items:
        name, _, text = item.partition("=")
        if name not in defaults or not text:
            raise RuntimeError(f"--policy-config {item!r}: expected FIELD=VALUE with FIELD one of "
                               f"{', '.join(defaults)}")
        try:
            out[name] = typed_value(f"--policy-config {name}", text, defaults[name])
        except ValueError as exc:
            raise RuntimeError(str(exc)) from None
    return out


def describe(experiment: Experiment) -> str:
    w, c = experiment.workload, experiment.cluster
    capacity = ", ".join(f"{n} {g}" for g, n in c.capacity().items())
    span = (w.jobs[-1].arrival_s - w.jobs[0].arrival_s) / 3600 if w.jobs else 0.0
    load = offered_load(w, c)
    window = f"{load.window_h:.0f}" if load.window_h >= 10 else f"{load.window_h:.2g}"
    return (f"workload {w.name}: {len(w.jobs)} jobs from {len(w.tenants)} tenants over {span:.0f} h of arrivals "
            f"({w.dropped} dropped: too big for any class or runnable nowhere)\n"
            f"cluster {c.name}: {len(c.nodes)} nodes, {capacity}\n"
            f"offered load: {load.overall:.2f} of capacity overall, {load.busiest:.2f} in the busiest "
            f"{window} h (capacity: {load.capacity_gpus:.1f} GPUs of each job's fastest class)\n"
            f"source: {w.citation}")


def cmd_simulate(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args.data_dir)
    spec = spec_from_args(args)
    experiment = run_experiment(spec, data_dir)
    checks = check_targets(experiment.summaries)
    if args.json:
        print(json.dumps(as_json(experiment.summaries, {"setup": describe(experiment)}), indent=2))
    else:
        print(describe(experiment))
        print()
        print(text_table(experiment.summaries))
        print(f"\n{churn_markdown(experiment)}")
        if len(experiment.summaries) > 1:
            print()
            print(targets_markdown(checks))
    violations = sum(s.violations for s in experiment.summaries)
    if args.out is not None:
        write_outputs(experiment, args.out)
        print(f"\nwrote {args.out}/summary.json, report.md and plots", file=sys.stderr)
    if violations:
        print(f"fairshare simulate: {violations} decisions were refused (see violations)", file=sys.stderr)
    return 0


def churn_markdown(experiment: Experiment) -> str:
    """Preemptions by cause and price stability, as Markdown tables under their own headings."""
    return (f"Preemptions per 100 GPU-hours held, by cause (count and rate):\n\n"
            f"{preemptions_markdown(experiment.summaries)}\n\n"
            f"Consecutive cycle-to-cycle price changes |p_t - p_t-1| / p_t-1:\n\n"
            f"{price_stability_markdown(experiment.summaries)}")


def write_outputs(experiment: Experiment, out: Path) -> None:
    from fairshare.simulator import plots

    out.mkdir(parents=True, exist_ok=True)
    checks = check_targets(experiment.summaries)
    (out / "summary.json").write_text(json.dumps(as_json(experiment.summaries, {"setup": describe(experiment)}),
                                                 indent=2) + "\n")
    (out / "report.md").write_text(f"```\n{describe(experiment)}\n```\n\n{markdown_table(experiment.summaries)}\n\n"
                                   f"{targets_markdown(checks)}\n\n{churn_markdown(experiment)}\n")
    plots.write_all(experiment.results, out)
