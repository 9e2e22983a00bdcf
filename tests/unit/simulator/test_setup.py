"""Cluster shapes, tenant defaults and overrides, workload transforms, the data directory and the CLI arguments."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import pytest

from fairshare.cli import simulate_cmd
from fairshare.simulator.cluster import from_shape_file, preset, relative_speeds
from fairshare.simulator.datadir import resolve_data_dir
from fairshare.simulator.tenants import apply_overrides, default_tenants, equal_split
from fairshare.simulator.workload import (
    drop_jobs_larger_than,
    first_jobs,
    one_tenant,
    sample_jobs,
    scale_arrival_rate,
)
from tests.unit.simulator.builders import make_job, make_workload, tiny_matrix


@pytest.mark.parametrize(("name", "nodes", "capacity"), [
    pytest.param("gavel-36", 27, {"v100": 36, "p100": 36, "k80": 36}, id="gavel-36 as 4-GPU servers"),
    pytest.param("gavel-36-1gpu", 108, {"v100": 36, "p100": 36, "k80": 36}, id="gavel-36 one GPU per node"),
])
def test_presets(name: str, nodes: int, capacity: dict[str, int]) -> None:
    cluster = preset(name)
    assert (len(cluster.nodes), cluster.capacity()) == (nodes, capacity)


def test_shape_file_uses_the_local_cluster_format(tmp_path: Path) -> None:
    shape = tmp_path / "fleet.yaml"
    shape.write_text("nodePools:\n- {gpuClass: v100, count: 2, gpusPerNode: 4}\n- {gpuClass: k80, count: 1, "
                     "gpusPerNode: 8}\n")
    cluster = from_shape_file(shape)
    assert cluster.capacity() == {"v100": 8, "k80": 8}
    assert [n.name for n in cluster.nodes] == ["v100-000", "v100-001", "k80-000"]


def test_unknown_class_is_refused_with_the_known_ones() -> None:
    from fairshare.simulator.cluster import build_cluster

    with pytest.raises(RuntimeError, match="no simulated throughput"):
        build_cluster("x", [("tpu", 1, 4)])


def test_relative_speeds_put_the_slowest_class_at_one() -> None:
    cluster = preset("tiny")
    speeds = relative_speeds(cluster, tiny_matrix())
    assert speeds["k80"] == 1.0 and speeds["v100"] > 3


@pytest.mark.parametrize(("capacity", "tenants", "fraction", "want"), [
    pytest.param({"v100": 36, "k80": 36}, 15, 1.0, {"v100": 2, "k80": 2}, id="15 tenants, floor of 2.4"),
    pytest.param({"v100": 8}, 2, 1.0, {"v100": 4}, id="even split"),
    pytest.param({"v100": 8}, 2, 0.5, {"v100": 2}, id="half guaranteed"),
])
def test_equal_split(capacity: dict[str, int], tenants: int, fraction: float, want: dict[str, int]) -> None:
    assert equal_split(capacity, tenants, fraction) == want


def test_tenant_overrides_replace_named_fields_only() -> None:
    tenants = default_tenants(["a", "b"], {"v100": 8}, budget_per_period=100.0)
    got = apply_overrides(tenants, {"tenants": [{"name": "a", "weight": 3, "borrowingLimit": {"v100": 1}}]})
    assert (got[0].weight, got[0].guaranteed, got[0].borrowing_limit, got[0].budget_per_period) == (
        3.0, {"v100": 4}, {"v100": 1}, 100.0)
    assert got[1] == tenants[1]
    with pytest.raises(RuntimeError, match="lacks: zz"):
        apply_overrides(tenants, {"tenants": [{"name": "zz"}]})


def test_workload_transforms() -> None:
    jobs = [make_job(f"a/j{i}").at(100.0 + 10 * i).gpus(1 + i % 3).obj() for i in range(10)]
    workload = make_workload(*jobs)
    assert [j.arrival_s for j in first_jobs(workload, 3).jobs] == [100.0, 110.0, 120.0]
    assert [j.arrival_s for j in scale_arrival_rate(first_jobs(workload, 3), 0.5).jobs] == [100.0, 120.0, 140.0]
    assert len(drop_jobs_larger_than(workload, 2).jobs) == 7 and drop_jobs_larger_than(workload, 2).dropped == 3
    assert 0 < len(sample_jobs(workload, 0.5, random.Random(0)).jobs) < 10


def test_one_tenant_keeps_the_jobs_and_puts_them_in_one_tenant() -> None:
    workload = make_workload(make_job("a/j0").at(100.0).obj(), make_job("b/j0").at(50.0).gpus(2).obj())
    merged = one_tenant(workload)
    assert [(j.key, j.tenant, j.arrival_s, j.gpus) for j in merged.jobs] == [("b/j0", "all", 50.0, 2),
                                                                            ("a/j0", "all", 100.0, 1)]
    assert merged.tenants == ("all",)
    assert simulate_cmd.spec_from_args(_parse("--one-tenant")).one_tenant


def test_data_dir_order_flag_then_env_then_default(tmp_path: Path) -> None:
    assert resolve_data_dir(tmp_path, {}) == tmp_path
    assert resolve_data_dir(None, {"FAIRSHARE_DATA_DIR": str(tmp_path)}) == tmp_path
    with pytest.raises(RuntimeError, match="FAIRSHARE_DATA_DIR"):
        resolve_data_dir(tmp_path / "missing", {})


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    simulate_cmd.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["simulate", *argv])


def test_cli_arguments_become_an_experiment_spec() -> None:
    spec = simulate_cmd.spec_from_args(_parse("--policy", "market,fifo", "gavel", "--arrival-rate", "0.2",
                                              "--tick", "60", "--restart-seconds", "10", "--noise", "0.05",
                                              "--half-life-hours", "12", "--no-progress"))
    assert spec.policies == ("market", "fifo", "gavel")
    assert (spec.arrival_rate, spec.engine.tick_s, spec.engine.restart_s, spec.engine.measurement_noise) == (
        0.2, 60.0, 10.0, 0.05)
    assert spec.policy_overrides == {"half_life_hours": 12.0}
    assert not spec.engine.show_progress


def test_cli_runs_and_writes_report_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data" / "gavel"
    data.mkdir(parents=True)
    import json

    from tests.unit.simulator.builders import MATRIX_DOC

    (data / "simulation_throughputs.json").write_text(json.dumps(MATRIX_DOC))
    args = _parse("--workload", "synthetic", "--synthetic-jobs", "8", "--cluster", "tiny", "--policy", "fifo",
                  "market", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--no-progress")
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "fifo" in out and "market" in out
    assert "Preemptions per 100 GPU-hours held" in out and "cycle-to-cycle price changes" in out
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "summary.json", "report.md", "jct_cdf.png", "tenant_shares.png", "share_error.png", "utilisation.png"}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    market = next(p for p in summary["policies"] if p["policy"] == "market")
    assert {"preempt_per_100_gpu_h", "preemptions_by_cause", "share_p95", "share_tail", "share_error_series",
            "share_error_step_h", "price_above_50", "price_stability_by_class"} <= set(market)
    assert market["share_error_series"] and all(len(point) == 2 for point in market["share_error_series"])


@pytest.mark.parametrize(("items", "want"), [
    pytest.param(["lookahead=64"], {"lookahead": 64}, id="int field"),
    pytest.param(["min_run_seconds=30", "usage_discount=false"], {"min_run_seconds": 30.0, "usage_discount": False},
                 id="float and bool fields"),
])
def test_policy_config_overrides_are_typed_like_the_defaults(items: list[str], want: dict[str, object]) -> None:
    assert simulate_cmd.policy_overrides(items) == want


@pytest.mark.parametrize("item", [pytest.param("nope=1", id="unknown field"), pytest.param("lookahead", id="no value")])
def test_bad_policy_config_overrides_name_the_fields(item: str) -> None:
    with pytest.raises(RuntimeError, match="FIELD=VALUE"):
        simulate_cmd.policy_overrides([item])
