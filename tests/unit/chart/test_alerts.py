"""The alert rules: valid for promtool, each one's behaviour pinned by `promtool test rules`, each documented."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.unit.chart.chart import ALERTS_FILE, promtool

RULE_TESTS = Path(__file__).with_name("alerts_test.yaml")


def alerts() -> list[dict[str, object]]:
    return [rule for group in yaml.safe_load(ALERTS_FILE.read_text())["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_rules_file() -> None:
    proc = subprocess.run([promtool(), "check", "rules", str(ALERTS_FILE)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in proc.stdout


def test_each_alert_fires_on_its_situation_and_not_on_the_near_misses() -> None:
    proc = subprocess.run([promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True,
                          timeout=120, cwd=RULE_TESTS.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_has_a_rule_test_that_expects_it_to_fire() -> None:
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing = {check["alertname"] for case in cases for check in case["alert_rule_test"] if check["exp_alerts"]}
    assert firing == {rule["alert"] for rule in alerts()}


def test_every_alert_has_severity_summary_description_and_a_for_duration() -> None:
    names = [rule["alert"] for rule in alerts()]
    assert len(set(names)) == len(names)
    for rule in alerts():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]
        assert rule["for"], rule["alert"]
        assert str(rule["alert"]).startswith("Fairshare")
