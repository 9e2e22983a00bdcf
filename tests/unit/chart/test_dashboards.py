"""The Grafana dashboards: generated from hack/dashboards.py, stable uids, one datasource variable, sound layout."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from types import ModuleType
from typing import Any

import pytest

from tests.unit.chart.chart import CHART_DIR, DASHBOARD_DIR

# Links and bookmarks point at these; changing one breaks them, so it must be a deliberate edit here too.
STABLE_UIDS = {
    "cluster-overview.json": "fairshare-cluster",
    "tenants.json": "fairshare-tenants",
    "queue.json": "fairshare-queue",
    "training.json": "fairshare-training",
    "operator-health.json": "fairshare-operator",
}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
VARIABLE_USE = re.compile(r"\$\{?([A-Za-z_]\w*)")


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fairshare_dashboards", CHART_DIR / "hack" / "dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_committed_json_is_what_the_generator_writes() -> None:
    """After editing hack/dashboards.py, run it: python charts/fairshare-operator/hack/dashboards.py"""
    files = generator().rendered_files()
    assert sorted(files) == sorted(p.name for p in DASHBOARD_DIR.glob("*.json"))
    stale = [name for name, text in files.items() if (DASHBOARD_DIR / name).read_text() != text]
    assert not stale, f"regenerate with charts/fairshare-operator/hack/dashboards.py: {stale}"


def test_uids_are_stable_and_titles_unique() -> None:
    boards = dashboards()
    assert {name: d["uid"] for name, d in boards.items()} == STABLE_UIDS
    titles = [d["title"] for d in boards.values()]
    assert len(set(titles)) == len(titles)
    assert all(len(uid) <= 40 for uid in STABLE_UIDS.values()), "Grafana's uid limit"


@pytest.mark.parametrize("name", sorted(STABLE_UIDS))
def test_every_query_uses_the_datasource_variable(name: str) -> None:
    board = dashboards()[name]
    variables = board["templating"]["list"]
    assert variables[0] == {**variables[0], "name": "datasource", "type": "datasource", "query": "prometheus"}
    for panel in panels(board):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    for variable in variables[1:]:
        assert variable["datasource"] == DATASOURCE


@pytest.mark.parametrize("name", sorted(STABLE_UIDS))
def test_every_variable_a_query_uses_is_defined(name: str) -> None:
    board = dashboards()[name]
    defined = {v["name"] for v in board["templating"]["list"]}
    for panel in panels(board):
        for target in panel["targets"]:
            used = {v for v in VARIABLE_USE.findall(target["expr"]) if not v.startswith("__")}
            assert used <= defined, f"{panel['title']}: {used - defined} undefined"
    for variable in board["templating"]["list"][1:]:
        assert variable["includeAll"] and variable["allValue"] == ".*", "All must match every label value"


@pytest.mark.parametrize("name", sorted(STABLE_UIDS))
def test_layout_has_unique_ids_and_no_overlapping_panels(name: str) -> None:
    board = dashboards()[name]
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids)
    cells: dict[tuple[int, int], str] = {}
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize("name", sorted(STABLE_UIDS))
def test_panels_are_described_and_queries_have_distinct_ref_ids(name: str) -> None:
    for panel in panels(dashboards()[name]):
        assert panel["title"] and panel["description"], panel
        refs = [t["refId"] for t in panel["targets"]]
        assert len(set(refs)) == len(refs)
        assert all(t["expr"].strip() for t in panel["targets"])
