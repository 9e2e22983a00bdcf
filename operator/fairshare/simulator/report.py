"""The results table (Markdown and plain text), the benchmark targets judged on it, and a JSON form."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from fairshare.simulator.core_adapter import PREEMPT_CAUSES
from fairshare.simulator.metrics import PolicySummary
from fairshare.simulator.results import RunResult

COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (header, summary field, format)
    ("policy", "policy", "s"),
    ("jobs done", "finished", "d"),
    ("avg JCT h", "avg_jct_h", ".1f"),
    ("p99 JCT h", "p99_jct_h", ".0f"),
    ("makespan h", "makespan_h", ".0f"),
    ("max ρ", "max_rho", ".3g"),
    ("p99 ρ", "p99_rho", ".3g"),
    ("ρ>1", "share_rho_above_1", ".1%"),
    ("share MAE", "share_mae", ".3f"),
    ("share p95", "share_p95", ".3f"),
    ("share tail", "share_tail", ".3f"),
    ("Jain", "jain", ".3f"),
    ("util", "utilisation", ".1%"),
    ("credits", "credits", ",.0f"),
    ("energy MWh", "energy_mwh", ".1f"),
    ("preempt", "preemptions", "d"),
    ("preempt/100 GPU-h", "preempt_per_100_gpu_h", ".2f"),
    ("price Δ>50%", "price_above_50", ".2%"),
    ("cycles", "cycles", "d"),
    ("wall s", "wall_s", ".1f"),
)


def _cell(summary: PolicySummary, field: str, fmt: str) -> str:
    value = summary.energy_kwh / 1000 if field == "energy_mwh" else getattr(summary, field)
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return format(value, fmt)


def markdown_table(summaries: Sequence[PolicySummary]) -> str:
    header = "| " + " | ".join(h for h, _, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" if f == "s" else "---:" for _, _, f in COLUMNS) + "|"
    rows = ["| " + " | ".join(_cell(s, f, fmt) for _, f, fmt in COLUMNS) + " |" for s in summaries]
    return "\n".join([header, rule, *rows])


def text_table(summaries: Sequence[PolicySummary]) -> str:
    cells = [[h for h, _, _ in COLUMNS]] + [[_cell(s, f, fmt) for _, f, fmt in COLUMNS] for s in summaries]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                                   strict=True)))
                     for row in cells)


def tenant_jct_table(results: Sequence[RunResult], max_tenants: int = 20) -> str:
    """Markdown: each tenant's job count, mean T_isolated, and mean JCT (hours) under every policy."""
    if not results:
        return ""
    by_tenant: dict[str, list[float]] = {}
    isolated: dict[str, list[float]] = {}
    for job in results[0].jobs:
        isolated.setdefault(job.tenant, []).append(job.isolated_s / 3600)
    tenants = sorted(isolated, key=lambda t: (-len(isolated[t]), t))[:max_tenants]
    for result in results:
        sums: dict[str, list[float]] = {}
        for job in result.jobs:
            if job.jct_s is not None:
                sums.setdefault(job.tenant, []).append(job.jct_s / 3600)
        for tenant in tenants:
            values = sums.get(tenant, [])
            by_tenant.setdefault(tenant, []).append(sum(values) / len(values) if values else math.nan)
    header = "| tenant | jobs | mean T_isolated h | " + " | ".join(f"{r.policy} JCT h" for r in results) + " |"
    rule = "|---|---:|---:|" + "---:|" * len(results)
    rows = [f"| {t} | {len(isolated[t])} | {sum(isolated[t]) / len(isolated[t]):.1f} | "
            + " | ".join(f"{v:.1f}" for v in by_tenant[t]) + " |" for t in tenants]
    return "\n".join([header, rule, *rows])


def _cause_order(summaries: Sequence[PolicySummary]) -> list[str]:
    """The causes any policy gave, the core's in its order first, then any other (a baseline's) by name."""
    seen = {c for s in summaries for c in s.preemptions_by_cause}
    return [c for c in PREEMPT_CAUSES if c in seen] + sorted(seen - set(PREEMPT_CAUSES))


def preemptions_markdown(summaries: Sequence[PolicySummary]) -> str:
    """Markdown: each policy's applied preemptions and their rate per 100 GPU-hours held, in all and by cause
    (count, then rate in brackets)."""
    causes = _cause_order(summaries)
    header = "| " + " | ".join(["policy", "preemptions", "per 100 GPU-h", *causes]) + " |"
    rule = "|---|" + "---:|" * (2 + len(causes))
    rows = []
    for s in summaries:
        cells = [f"{s.preemptions_by_cause[c]} ({_rate(s.preempt_per_100_gpu_h_by_cause[c])})"
                 if c in s.preemptions_by_cause else "0" for c in causes]
        rows.append("| " + " | ".join([s.policy, str(sum(s.preemptions_by_cause.values())),
                                       _rate(s.preempt_per_100_gpu_h), *cells]) + " |")
    return "\n".join([header, rule, *rows])


def _rate(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def _fraction(value: float) -> str:
    return "n/a" if isinstance(value, float) and math.isnan(value) else f"{value:.2%}"


def price_stability_markdown(summaries: Sequence[PolicySummary]) -> str:
    """Markdown: per policy and class, consecutive cycle-to-cycle relative price changes (|p_t − p_{t−1}| / p_{t−1}):
    how many, how many moved, the fractions above 10 %, 25 % and 50 %, and the largest."""
    header = "| policy | class | changes | moved | >10% | >25% | >50% | max |"
    rule = "|---|---|---:|---:|---:|---:|---:|---:|"
    rows = [f"| {s.policy} | {c} | {int(v['changes'])} | {int(v['moved'])} | {_fraction(v['above_10'])} | "
            f"{_fraction(v['above_25'])} | {_fraction(v['above_50'])} | {_fraction(v['max'])} |"
            for s in summaries for c, v in s.price_stability_by_class.items()]
    return "\n".join([header, rule, *rows]) if rows else "no policy set prices"


@dataclasses.dataclass(frozen=True)
class TargetCheck:
    target: str
    met: bool | None  # None: a policy it needs did not run
    detail: str


def check_targets(summaries: Sequence[PolicySummary], ours: str = "market") -> list[TargetCheck]:
    """Issue 7's targets: ≥1.5x lower average JCT than static quotas; max ρ no worse than weighted max-min;
    average JCT at least 10 % below Gavel's (the LP baseline) at tenant fairness (max ρ, share error) no worse than
    Gavel-hierarchical's; and price stability:
    at most 1 % of the market's cycle-to-cycle price changes above 50 %."""
    by_name: Mapping[str, PolicySummary] = {s.policy: s for s in summaries}
    market = by_name.get(ours)
    checks = []

    def need(name: str) -> PolicySummary | None:
        return by_name.get(name) if market is not None else None

    quota = need("static-quota")
    if market and quota:
        ratio = quota.avg_jct_h / market.avg_jct_h
        checks.append(TargetCheck("avg JCT ≥ 1.5x lower than static quotas", ratio >= 1.5,
                                  f"static-quota {quota.avg_jct_h:.1f} h / market {market.avg_jct_h:.1f} h "
                                  f"= {ratio:.2f}x"))
    else:
        checks.append(TargetCheck("avg JCT ≥ 1.5x lower than static quotas", None, "needs market and static-quota"))
    wmm = need("weighted-max-min")
    if market and wmm:
        checks.append(TargetCheck("max ρ no worse than weighted max-min", market.max_rho <= wmm.max_rho,
                                  f"market {market.max_rho:.3g} vs weighted-max-min {wmm.max_rho:.3g}"))
    else:
        checks.append(TargetCheck("max ρ no worse than weighted max-min", None, "needs market and weighted-max-min"))
    gavel, hierarchical = need("gavel"), need("gavel-hierarchical")
    target = "avg JCT ≥ 10% below Gavel's, share MAE and max ρ no worse than Gavel-hierarchical's"
    if market and gavel and hierarchical:
        fair = market.max_rho <= hierarchical.max_rho and market.share_mae <= hierarchical.share_mae
        faster = market.avg_jct_h <= 0.9 * gavel.avg_jct_h
        checks.append(TargetCheck(target, faster and fair,
                                  f"JCT market {market.avg_jct_h:.1f} h vs gavel {gavel.avg_jct_h:.1f} h "
                                  f"({market.avg_jct_h / gavel.avg_jct_h:.3f}x); max ρ {market.max_rho:.3g} vs "
                                  f"gavel-hierarchical {hierarchical.max_rho:.3g}; share MAE {market.share_mae:.4f} "
                                  f"vs {hierarchical.share_mae:.4f}"))
    else:
        checks.append(TargetCheck(target, None, "needs market, gavel and gavel-hierarchical"))
    checks.append(price_target(market))
    return checks


PRICE_JUMP, PRICE_JUMP_SHARE = 0.5, 0.01


def price_target(market: PolicySummary | None) -> TargetCheck:
    """At most 1 % of the market's consecutive cycle-to-cycle price changes (all classes) above 50 %."""
    target = f"≤ {PRICE_JUMP_SHARE:.0%} of cycle-to-cycle price changes above {PRICE_JUMP:.0%}"
    if market is None or market.price_changes == 0:
        return TargetCheck(target, None, "needs market with two or more cycles")
    return TargetCheck(target, market.price_above_50 <= PRICE_JUMP_SHARE,
                       f"market {market.price_above_50:.2%} of {market.price_changes} changes (max "
                       f"{market.price_change_max:.1%})")


def targets_markdown(checks: Sequence[TargetCheck]) -> str:
    mark = {True: "met", False: "NOT met", None: "not run"}
    return "\n".join(f"- **{c.target}**: {mark[c.met]} ({c.detail})" for c in checks)


def as_json(summaries: Sequence[PolicySummary], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return {**(extra or {}),
            "policies": [{k: clean(v) for k, v in dataclasses.asdict(s).items()} for s in summaries]}
