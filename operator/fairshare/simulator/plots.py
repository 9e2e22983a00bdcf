"""PNG plots of a comparison (matplotlib, Agg backend): JCT CDF, tenant shares, tenant share error and utilisation
over time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fairshare.simulator.metrics import (
    HOUR,
    cdf,
    series_step_h,
    share_error_over_time,
    tenant_share_series,
    utilisation_series,
)
from fairshare.simulator.results import RunResult

MAX_POINTS = 1500


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _saved(plt, fig, path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Lay the figure out, write it to `path` and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _colours(count: int) -> list[tuple[float, float, float, float]]:
    """Distinct colours for up to 20 tenants (tab20), cycling beyond."""
    import matplotlib

    palette = matplotlib.colormaps["tab20"]
    return [palette(i % 20) for i in range(count)]


def _thin(points: Sequence[tuple[float, float]], limit: int = MAX_POINTS) -> list[tuple[float, float]]:
    """Keep at most `limit` points, evenly spaced by index (a step plot stays readable)."""
    if len(points) <= limit:
        return list(points)
    step = len(points) / limit
    return [points[int(i * step)] for i in range(limit)] + [points[-1]]


def jct_cdf(results: Sequence[RunResult], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for result in results:
        jcts = [j.jct_s / HOUR for j in result.jobs if j.jct_s is not None and j.jct_s > 0]
        if jcts:
            xs, ys = zip(*_thin(cdf(jcts)), strict=True)
            ax.step(xs, ys, where="post", label=result.policy)
    ax.set_xscale("log")
    ax.set_xlabel("job completion time (hours, log scale)")
    ax.set_ylabel("fraction of jobs")
    ax.set_title("JCT CDF per policy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _saved(plt, fig, path)


def utilisation(results: Sequence[RunResult], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for result in results:
        points = _thin(utilisation_series(result))
        if points:
            xs, ys = zip(*points, strict=True)
            ax.step(xs, ys, where="post", label=result.policy, linewidth=0.8)
    ax.set_xlabel("simulated time (hours)")
    ax.set_ylabel("GPUs allocated / GPUs")
    ax.set_ylim(0, 1.05)
    ax.set_title("GPU utilisation over time")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return _saved(plt, fig, path)


def share_error(results: Sequence[RunResult], path: Path) -> Path:
    """Per policy, the tenant share error over time (mean over each step of the grid), as in summary.json."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    spans = [r.end_s - min((j.arrival_s for j in r.jobs), default=r.end_s) for r in results]
    step_h = series_step_h(max(spans, default=0.0) / HOUR)  # one grid for every policy
    for result in results:
        series = share_error_over_time(result, step_h=step_h)
        if series.points:
            xs, ys = zip(*series.points, strict=True)
            ax.step(xs, ys, where="post", label=f"{result.policy} (mean {series.mean:.3f})", linewidth=0.8)
    ax.set_xlabel("simulated time (hours)")
    ax.set_ylabel("share error (fraction of all GPUs)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Tenant share error over time (mean over {step_h:g} h steps)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return _saved(plt, fig, path)


def tenant_shares(results: Sequence[RunResult], path: Path) -> Path:
    """One panel per policy: each tenant's fraction of all GPUs over time, stacked."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(results), 1, figsize=(8, 2.2 * len(results) + 0.6), sharex=True, squeeze=False)
    for ax, result in zip(axes[:, 0], results, strict=True):
        series = tenant_share_series(result)
        tenants = sorted(series)
        if tenants and series[tenants[0]]:
            index = _thin([(float(i), 0.0) for i in range(len(series[tenants[0]]))])
            picks = [int(i) for i, _ in index]
            xs = [series[tenants[0]][i][0] for i in picks]
            colours = _colours(len(tenants))
            ax.stackplot(xs, [[series[t][i][1] for i in picks] for t in tenants], labels=tenants, step="post",
                         colors=colours)
        ax.set_ylim(0, 1.0)
        ax.set_ylabel(result.policy, fontsize="small")
    axes[-1, 0].set_xlabel("simulated time (hours)")
    axes[0, 0].set_title("Tenant shares of all GPUs over time (stacked)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper right", fontsize="x-small", ncol=1)
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_all(results: Sequence[RunResult], folder: Path, prefix: str = "") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [jct_cdf(results, folder / f"{prefix}jct_cdf.png"),
            tenant_shares(results, folder / f"{prefix}tenant_shares.png"),
            share_error(results, folder / f"{prefix}share_error.png"),
            utilisation(results, folder / f"{prefix}utilisation.png")]
