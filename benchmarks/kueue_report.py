"""The Kueue harness's report: the thresholds check (benchmarks/thresholds.yaml and Kueue's rangespec), the
Markdown table beside Kueue's thresholds, and the figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

THRESHOLDS = Path(__file__).resolve().parent / "thresholds.yaml"


def check(report: dict[str, Any], profile: str) -> list[str]:
    """Every threshold the report misses: the profile's ratios to the bare-pods floor from thresholds.yaml, and,
    at full scale, Kueue's own rangespec for the systems the profile names."""
    spec = yaml.safe_load(THRESHOLDS.read_text())["profiles"][profile]
    results, failures = report["results"], []
    for name, r in results.items():
        if not r.get("completed"):
            failures.append(f"{name}: {r['finished']} of {r['jobs']} jobs finished within the timeout")
    floor = results.get("bare")
    for system, limits in (spec.get("ratiosToBare") or {}).items():
        r = results.get(system)
        if r is None or floor is None:
            failures.append(f"{system}: ratios need both '{system}' and 'bare' in --systems")
            continue
        ratio = r["wall_s"] / max(floor["wall_s"], 1e-9)
        if ratio > limits["maxWall"]:
            failures.append(f"{system}: wall {r['wall_s']} s is {ratio:.2f}x the bare pods' {floor['wall_s']} s "
                            f"(limit {limits['maxWall']}x)")
        for cls, lim in (limits.get("maxAvgTimeToAdmission") or {}).items():
            ours, base = r["time_to_admission"].get(cls), floor["time_to_admission"].get(cls)
            if ours and base:
                gap = ours["avg_s"] - base["avg_s"]
                if gap > lim:
                    failures.append(f"{system}: {cls} average time to admission {ours['avg_s']} s is {gap:.1f} s "
                                    f"above the bare pods' {base['avg_s']} s (limit +{lim} s)")
    if report["scale"] == 1:
        rs = report["kueue_thresholds"]
        for system in spec.get("kueueRangespec") or []:
            r = results.get(system)
            if r is None:
                continue
            if 1000 * r["wall_s"] > rs["cmd"]["maxWallMs"]:
                failures.append(f"{system}: wall {r['wall_s']} s over Kueue's {rs['cmd']['maxWallMs'] / 1000} s")
            for cls, ms in rs["wlClassesMaxAvgTimeToAdmissionMs"].items():
                got = r["time_to_admission"].get(cls, {}).get("avg_s", float("inf"))
                if 1000 * got > ms:
                    failures.append(f"{system}: {cls} average time to admission {got} s over Kueue's {ms / 1000} s")
            for qc, pct in rs["clusterQueueClassesMinUsage"].items():
                if r["usage_pct"].get(qc, 0.0) < pct:
                    failures.append(f"{system}: usage of {qc} {r['usage_pct'].get(qc)}% under Kueue's {pct}%")
    return failures


def table(report: dict[str, Any]) -> str:
    """The results side by side, with Kueue's thresholds, as a Markdown table."""
    rs, results = report["kueue_thresholds"], report["results"]
    names = list(results)
    rows = [["", *names, f"Kueue's threshold (for {report['jobs'] / report['scale']:.0f} jobs)"],
            ["---"] * (len(names) + 2)]
    rows.append(["wall time (s)", *[str(results[n]["wall_s"]) for n in names], f"< {rs['cmd']['maxWallMs'] / 1000}"])
    limits = rs["wlClassesMaxAvgTimeToAdmissionMs"]
    for cls in [*limits, *sorted({c for r in results.values() for c in r["time_to_admission"]} - set(limits))]:
        cells = [results[n]["time_to_admission"].get(cls, {}) for n in names]
        rows.append([f"{cls}: avg / p99 time to admission (s)", *[f"{c.get('avg_s')} / {c.get('p99_s')}"
                                                                  for c in cells],
                     f"avg < {limits[cls] / 1000}" if cls in limits else ""])
    for qc, pct in rs["clusterQueueClassesMinUsage"].items():
        rows.append([f"usage of {qc} queues (%)", *[str(results[n]["usage_pct"].get(qc)) for n in names],
                     f">= {pct}"])
    rows.append(["controller CPU (s) / peak RSS (MiB)",
                 *[f"{results[n]['cpu_seconds'].get(n, '-')} / {results[n].get('controller_peak_rss_mib', '-')}"
                   for n in names], ""])
    rows.append(["load average at start", *[str(results[n]["loadavg_at_start"][0]) for n in names], ""])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def plot(report: dict[str, Any], prefix: Path) -> list[Path]:
    """Two figures: average and p99 time to admission by size class per system, and usage over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["results"]
    title = (f"Kueue {report['config']} shape, scale {report['scale']} "
             f"({report['jobs']} jobs, {report['queues']} queues)")
    classes = sorted({c for r in results.values() for c in r["time_to_admission"]})
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(1, len(results))
    for i, (name, r) in enumerate(results.items()):
        xs = [j + i * width for j in range(len(classes))]
        avg = [r["time_to_admission"].get(c, {}).get("avg_s", 0) for c in classes]
        p99 = [r["time_to_admission"].get(c, {}).get("p99_s", 0) for c in classes]
        ax.bar(xs, avg, width, label=f"{name} (average)")
        ax.scatter(xs, p99, marker="_", s=300, color="black", zorder=3, label="p99" if i == 0 else None)
    ax.set_xticks([j + width * (len(results) - 1) / 2 for j in range(len(classes))], classes)
    ax.set_ylabel("time to admission (s)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths = [prefix.with_name(prefix.name + "_admission.png")]
    fig.savefig(paths[0], dpi=100)
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, r in results.items():
        ax.plot(range(len(r["usage_over_time_pct"])), r["usage_over_time_pct"], label=name, linewidth=1)
    ax.set_xlabel("seconds since the first job was created")
    ax.set_ylabel("GPUs held / summed nominal quota (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(prefix.with_name(prefix.name + "_usage.png"))
    fig.savefig(paths[1], dpi=100)
    plt.close("all")
    return paths
