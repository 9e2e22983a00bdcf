"""The CLI's argument handling as tables: which command a command line names, the kubectl-style options, the
simulator's FIELD=VALUE policy settings, and the exit status and message of a mistake."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from fairshare.cli import kubeargs, main


@pytest.mark.parametrize(("argv", "want"), [
    pytest.param(["queue"], "queue", id="the command word"),
    pytest.param(["queue", "-A", "-o", "wide"], "queue", id="options after it"),
    pytest.param(["--help"], None, id="only an option"),
    pytest.param(["--help", "shares"], "shares", id="an option before it"),
    pytest.param(["frobnicate"], None, id="an unknown word"),
    pytest.param([], None, id="nothing"),
    pytest.param(["explain", "queue"], "explain", id="the first word wins, not a later argument"),
])
def test_command_of(argv: list[str], want: str | None) -> None:
    assert main.command_of(argv) == want


@pytest.mark.parametrize(("namespaced", "argv", "want"), [
    pytest.param(True, [], {"kubeconfig": None, "context": None, "namespace": None}, id="defaults: all unset"),
    pytest.param(True, ["--kubeconfig", "/k", "--context", "prod", "-n", "nlp"],
                 {"kubeconfig": "/k", "context": "prod", "namespace": "nlp"}, id="kubectl's spelling"),
    pytest.param(True, ["--namespace", "cv"], {"kubeconfig": None, "context": None, "namespace": "cv"},
                 id="the long namespace option"),
    pytest.param(False, ["--context", "dev"], {"kubeconfig": None, "context": "dev"}, id="cluster-wide: no -n"),
])
def test_kubeconfig_options(namespaced: bool, argv: list[str], want: dict[str, Any]) -> None:
    parser = argparse.ArgumentParser()
    kubeargs.add(parser, namespace=namespaced)
    assert vars(parser.parse_args(argv)) == want


def test_a_cluster_wide_command_refuses_a_namespace() -> None:
    parser = argparse.ArgumentParser()
    kubeargs.add(parser, namespace=False)
    with pytest.raises(SystemExit):
        parser.parse_args(["-n", "nlp"])


@pytest.mark.parametrize(("argv", "status", "words"), [
    pytest.param(["explain", "a/b/c"], 1, "fairshare: expected NAMESPACE/NAME or NAME, got 'a/b/c'",
                 id="a bad job reference: status 1 and the message"),
    pytest.param(["explain", "nlp/bert", "-n", "cv"], 1, "names namespace nlp but -n says cv",
                 id="two namespaces that disagree"),
    pytest.param(["simulate", "--policy-config", "lookahead"], 1, "expected FIELD=VALUE",
                 id="a policy setting without a value"),
])
def test_a_mistake_exits_1_with_the_message(argv: list[str], status: int, words: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(argv) == status
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    pytest.param(["frobnicate"], id="unknown command"),
    pytest.param([], id="no command"),
    pytest.param(["queue", "--no-such-option"], id="unknown option"),
])
def test_a_command_line_argparse_refuses_exits_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main.main(argv)
    assert exit_.value.code == 2


@pytest.mark.parametrize(("items", "want"), [
    pytest.param([], {}, id="none"),
    pytest.param(["lookahead=64"], {"lookahead": 64}, id="an int field"),
    pytest.param(["min_run_seconds=1800"], {"min_run_seconds": 1800.0}, id="a float field"),
    pytest.param(["fair_sharing_preemption=false"], {"fair_sharing_preemption": False}, id="a bool field"),
    pytest.param(["lookahead=8", "lookahead=16"], {"lookahead": 16}, id="the last of a repeated field wins"),
])
def test_policy_overrides(items: list[str], want: dict[str, Any]) -> None:
    from fairshare.cli.simulate_cmd import policy_overrides

    got = policy_overrides(items)
    assert got == want
    assert [type(v) for v in got.values()] == [type(v) for v in want.values()]


@pytest.mark.parametrize(("item", "words"), [
    pytest.param("lookahead", "expected FIELD=VALUE", id="no value"),
    pytest.param("lookahead=", "expected FIELD=VALUE", id="an empty value"),
    pytest.param("look_ahead=3", "FIELD one of", id="an unknown field lists the known ones"),
    pytest.param("lookahead=many", "--policy-config lookahead", id="a value of the wrong type names the field"),
])
def test_policy_overrides_errors_name_the_setting(item: str, words: str) -> None:
    from fairshare.cli.simulate_cmd import policy_overrides

    with pytest.raises(RuntimeError) as err:
        policy_overrides([item])
    assert words in str(err.value)


@pytest.mark.parametrize(("argv", "want"), [
    pytest.param([], {"policies": ("all",), "horizon_s": None, "overrides": {}}, id="defaults"),
    pytest.param(["--policy", "market,fifo", "gavel"], {"policies": ("market", "fifo", "gavel"), "horizon_s": None,
                                                        "overrides": {}}, id="comma lists and words"),
    pytest.param(["--horizon-hours", "2", "--half-life-hours", "12", "--policy-config", "lookahead=4"],
                 {"policies": ("all",), "horizon_s": 7200.0, "overrides": {"lookahead": 4, "half_life_hours": 12.0}},
                 id="hours become seconds; --half-life-hours joins the policy settings"),
])
def test_simulate_spec_from_arguments(argv: list[str], want: dict[str, Any]) -> None:
    from fairshare.cli.simulate_cmd import spec_from_args

    args = main.build_parser("simulate", lazy=True).parse_args(["simulate", *argv])
    spec = spec_from_args(args)
    assert {"policies": spec.policies, "horizon_s": spec.engine.horizon_s, "overrides": spec.policy_overrides} == want
