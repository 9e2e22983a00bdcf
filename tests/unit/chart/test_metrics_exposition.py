"""promtool's lint of the real exposition formats, and every metric the dashboards and alerts read is exported."""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import pytest
import yaml

from tests.unit.chart.chart import ALERTS_FILE, DASHBOARD_DIR, METRIC_NAME, promtool
from tests.unit.chart.exposition import operator_exposition, sample_names, trainer_exposition

# Problems promtool reports in the operator's own metric names, not fixable from the chart: each is raised
# with the operator's owners. A new problem fails this test; a fixed one only shrinks this list.
KNOWN_OPERATOR_LINT = {
    # Base units would be seconds; renaming the series is the operator's call (dashboards follow).
    'fairshare_decayed_usage_gpu_hours use base unit "seconds" instead of "hours"',
}
# Announced by the operator's owners and used by the training dashboard before they land; once exported
# they are checked like any other name.
ANNOUNCED_OPERATOR_METRICS: set[str] = set()


def check_metrics(text: str) -> set[str]:
    """promtool check metrics: the lint problems it reports (exit 3 means problems, anything else is an error)."""
    proc = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    problems = {line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip()}
    assert proc.returncode in (0, 3), f"promtool check metrics failed ({proc.returncode}): {problems}"
    assert (proc.returncode == 3) == bool(problems)
    return problems


def test_operator_metrics_pass_promtool_lint() -> None:
    problems = check_metrics(operator_exposition())
    assert problems <= KNOWN_OPERATOR_LINT, f"new lint problems: {problems - KNOWN_OPERATOR_LINT}"


def test_cpu_trainer_metrics_pass_promtool_lint() -> None:
    assert check_metrics(trainer_exposition("cpu")) == set()


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Just enough of torch.cuda for the trainer to declare its GPU gauges on a machine without a GPU."""
    import torch

    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(total_memory=80 << 30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 10 << 30)
    monkeypatch.setattr(torch.cuda, "utilization", lambda device: 87)


def test_gpu_trainer_metrics_pass_promtool_lint(fake_cuda: None) -> None:
    text = trainer_exposition("cuda")
    assert {"fairshare_trainer_gpu_utilization_ratio", "fairshare_trainer_gpu_memory_used_bytes",
            "fairshare_trainer_gpu_memory_total_bytes"} <= sample_names(text)
    assert check_metrics(text) == set()


def used_metric_names() -> dict[str, set[str]]:
    """Metric name -> where it is used (dashboard file or 'alerts')."""
    used: dict[str, set[str]] = {}
    for path in DASHBOARD_DIR.glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                for name in METRIC_NAME.findall(target["expr"]):
                    used.setdefault(name, set()).add(path.name)
    for group in yaml.safe_load(ALERTS_FILE.read_text())["groups"]:
        for rule in group["rules"]:
            for name in METRIC_NAME.findall(rule["expr"]):
                used.setdefault(name, set()).add("alerts")
    return used


def test_dashboards_and_alerts_read_only_exported_metrics(fake_cuda: None) -> None:
    exported = sample_names(operator_exposition()) | sample_names(trainer_exposition("cuda"))
    used = used_metric_names()
    unknown = {name: sorted(where) for name, where in used.items()
               if name not in exported and name not in ANNOUNCED_OPERATOR_METRICS}
    assert not unknown, f"series no component exports: {unknown}"
    assert not {n for n in used if n.startswith("fairshare_trainer_")} - exported


def test_every_operator_metric_appears_on_some_dashboard() -> None:
    """A metric the operator exports but no panel shows is probably a forgotten panel."""
    families = {name.removesuffix("_total").removesuffix("_bucket") for name in sample_names(operator_exposition())
                if not name.endswith(("_created", "_sum", "_count"))}
    shown = {name.removesuffix("_total").removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
             for name in used_metric_names()}
    assert families - shown == set()
