"""The light CLI: each command imports only its own module, help lists every command, and API commands take
[NAMESPACE/]NAME, -n and --context like kubectl."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fairshare.api import constants
from fairshare.cli import main
from fairshare.cli.explain_cmd import job_reference
from fairshare.client import paths
from fairshare.render import names
from tests.unit.chart.chart import REPO_ROOT


def test_each_commands_listed_help_is_the_modules_own() -> None:
    full = main.build_parser()
    (sub,) = [a for a in full._actions if a.dest == "command"]
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    assert helps == {name: text for name, (_, text) in main.COMMANDS.items()}


@pytest.mark.parametrize(("argv", "must_not_import"), [
    pytest.param(["--help"], ["kubernetes", "pydantic", "numpy", "torch", "fairshare.simulator"], id="help"),
    pytest.param(["queue", "--help"], ["kubernetes", "pydantic", "numpy", "kopf", "torch"], id="queue"),
    pytest.param(["shares", "--help"], ["kubernetes", "pydantic", "numpy", "kopf", "torch"], id="shares"),
    pytest.param(["explain", "--help"], ["kubernetes", "pydantic", "numpy", "kopf", "torch"], id="explain"),
])
def test_a_command_imports_only_what_it_needs(argv: list[str], must_not_import: list[str]) -> None:
    program = ("import sys\nfrom fairshare.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n"
               "    pass\nprint(' '.join(sorted(sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", program, *argv], capture_output=True, text=True, timeout=60,
                          cwd=REPO_ROOT, check=True)
    loaded = set(proc.stdout.splitlines()[-1].split())
    assert not [m for m in must_not_import if m in loaded]


def test_the_parser_still_builds_every_command_when_asked() -> None:
    args = main.build_parser().parse_args(["queue", "-A", "--context", "prod", "-o", "wide"])
    assert (args.all_namespaces, args.context, args.output) == (True, "prod", "wide")


@pytest.mark.parametrize(("text", "namespace", "want"), [
    ("nlp/bert", None, ("nlp", "bert")),
    ("bert", "nlp", ("nlp", "bert")),
    ("bert", None, (None, "bert")),
    ("nlp/bert", "nlp", ("nlp", "bert")),
])
def test_job_reference(text: str, namespace: str | None, want: tuple[str | None, str]) -> None:
    assert job_reference(text, namespace) == want


@pytest.mark.parametrize(("text", "namespace", "words"), [
    ("nlp/", None, "expected NAMESPACE/NAME or NAME"),
    ("/bert", None, "expected NAMESPACE/NAME or NAME"),
    ("a/b/c", None, "expected NAMESPACE/NAME or NAME"),
    ("nlp/bert", "cv", "names namespace nlp but -n says cv"),
])
def test_job_reference_errors(text: str, namespace: str | None, words: str) -> None:
    with pytest.raises(RuntimeError, match=words):
        job_reference(text, namespace)


def test_the_sdks_names_agree_with_the_api_contract() -> None:
    assert (paths.GROUP, paths.VERSION, paths.API_VERSION, paths.KIND_TRAINING_JOB, paths.PLURAL_TRAINING_JOBS,
            paths.PLURAL_TENANTS, paths.PLURAL_GPU_CLASSES, paths.WORKER_SUFFIX, paths.LABEL_JOB) == (
        constants.GROUP, constants.VERSION, constants.API_VERSION, constants.KIND_TRAINING_JOB,
        constants.PLURAL_TRAINING_JOBS, constants.PLURAL_TENANTS, constants.PLURAL_GPU_CLASSES,
        constants.WORKER_SUFFIX, constants.LABEL_JOB)
    assert paths.worker_pod_name("bert", 3) == names.worker_pod_name("bert", 3)
