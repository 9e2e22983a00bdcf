"""Transitions that free no GPUs (Admitted -> Running) are written after the cycle's grants, unless the core decided
about the same job this cycle: then they go first, so no later write undoes the decision."""

from __future__ import annotations

from typing import Any

from fairshare.core.decisions import Preempt
from tests.unit.control.builders import gpu_class, node, tenant, training_job, worker
from tests.unit.control.helpers import plan, rows, told

CLUSTER = [gpu_class("a100").price(2.0), tenant("nlp"), node("n0").gpu_class("a100").gpus(8)]
STARTED = [training_job("nlp/r").gpus(1).phase("Admitted").allocation("a100", "n0").rv(77),
           worker("nlp/r", 0, node_name="n0", gpus=1)]


def groups_of(key: str, *decisions: Any) -> list[tuple[str, list[Any]]]:
    result = plan([*CLUSTER, *STARTED, training_job("nlp/new").gpus(1)], scheduler=told(*decisions))
    return [(name, mine) for name, group in (("releases", result.releases), ("grants", result.grants),
                                             ("bookkeeping", result.bookkeeping))
            if (mine := rows(group, key))]


def test_running_is_written_after_the_grants() -> None:
    assert groups_of("nlp/r") == [("bookkeeping", [("patch", "nlp/r", "Running", None)])]


def test_running_goes_first_when_the_core_decided_about_the_same_job() -> None:
    assert groups_of("nlp/r", Preempt("nlp/r", "make room")) == [
        ("releases", [("patch", "nlp/r", "Running", None), ("patch", "nlp/r", "Preempted", "77"),
                      ("delete", "nlp/r", ("r-worker-0",)), ("event", "nlp/r", "Warning", "Preempted")])]
