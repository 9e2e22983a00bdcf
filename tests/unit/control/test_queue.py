"""A waiting job's queue status is rewritten only when it changes materially (control/queue.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fairshare.control.actions import PatchStatus
from fairshare.control.isolation import INVALID_SPEC, REASONS
from fairshare.control.queue import (
    HELD_BACK_CODES,
    REASON_REFRESH_SECONDS,
    REFRESHES_PER_CYCLE,
    QueueRefresh,
    position_moved,
    queue_changed,
    queue_entry,
    ration_refreshes,
    reason_kind,
)
from fairshare.core.cycle import WAIT_CODES
from fairshare.core.decisions import Wait
from tests.unit.control.builders import NOW, gpu_class, node, tenant, training_job, ts
from tests.unit.control.helpers import plan, rows, told

ROOT = Path(__file__).resolve().parents[3]
CLUSTER = [gpu_class("a100").price(2.0), tenant("nlp")] + [node(f"n{i}").gpu_class("a100").gpus(8) for i in range(2)]
SHARE, CAPACITY = "WaitingForShare", "WaitingForCapacity"
BEHIND = "tenant nlp is at 1.25x its fair share (10.00 of 8.00 credits/h); 40 jobs ahead"


@pytest.mark.parametrize(("old", "new", "moved"), [
    pytest.param(None, 5, True, id="first position"),
    pytest.param(5, None, True, id="position dropped"),
    pytest.param(3, 2, True, id="at the front: exact"),
    pytest.param(4, 3, True, id="onto the front: exact"),
    pytest.param(5, 4, False, id="a 20% move behind the front: kept"),
    pytest.param(100, 81, False, id="a 19% move far back: kept"),
    pytest.param(100, 79, True, id="a 21% move: written"),
    pytest.param(4000, 3300, False, id="far back, small relative move"),
    pytest.param(50, 70, True, id="moved back 40%"),
    pytest.param(3, 3, False, id="unchanged"),
])
def test_position_moved(old: int | None, new: int | None, moved: bool) -> None:
    assert position_moved(old, new) is moved


@pytest.mark.parametrize(("old", "new", "changed"), [
    pytest.param(BEHIND, BEHIND.replace("1.25", "1.31").replace("40 jobs", "38 jobs"), False,
                 id="the same obstacle with new figures"),
    pytest.param(BEHIND, "no room on a100: 0 GPUs free", True, id="another obstacle"),
    pytest.param("no room on a100: 3 GPUs free", "no room on h100: 3 GPUs free", True, id="another class"),
])
def test_reason_changes_in_kind_only(old: str, new: str, changed: bool) -> None:
    assert (reason_kind(old) != reason_kind(new)) is changed
    assert queue_changed({"position": 50, "reasonCode": SHARE, "reason": old, "since": ts(60)},
                         {"position": 50, "reasonCode": SHARE, "reason": new}, NOW) is changed


@pytest.mark.parametrize(("written_ago", "old", "new", "changed"), [
    pytest.param(10, (50, BEHIND), (20, "no room on a100"), False, id="written 10 s ago: waits for the refresh"),
    pytest.param(31, (50, BEHIND), (20, BEHIND), True, id="written 31 s ago: a material move is written"),
    pytest.param(31, (50, BEHIND), (45, BEHIND), False, id="written 31 s ago: an immaterial move is not"),
    pytest.param(31, (50, BEHIND), (50, "no room on a100"), False, id="written 31 s ago: a new obstacle waits"),
    pytest.param(301, (50, BEHIND), (50, "no room on a100"), True, id="written 301 s ago: a new obstacle is written"),
    pytest.param(10, (4, BEHIND), (3, BEHIND), False, id="onto the front, written 10 s ago: waits"),
    pytest.param(10, (2, BEHIND), (1, BEHIND), False, id="up at the front, written 10 s ago: waits"),
    pytest.param(31, (2, BEHIND), (1, BEHIND), True, id="up at the front, written 31 s ago: written"),
    pytest.param(10, (1, BEHIND), (0, BEHIND), True, id="next in line: at once"),
    pytest.param(10, (0, BEHIND), (1, BEHIND), True, id="no longer next: at once"),
    pytest.param(10, (0, BEHIND), (0, BEHIND.replace("40 jobs", "39 jobs")), False, id="next, new figures: kept"),
    pytest.param(10, (5, BEHIND), (None, BEHIND), True, id="no longer queued by position: at once"),
    pytest.param(31, (50, BEHIND, SHARE), (50, BEHIND, CAPACITY), False, id="written 31 s ago: a new code waits"),
    pytest.param(301, (50, BEHIND, SHARE), (50, BEHIND, CAPACITY), True, id="written 301 s ago: a new code is written"),
    pytest.param(10, (50, BEHIND, ""), (50, BEHIND), True, id="stored without a code: at once"),
    pytest.param(31, (50, BEHIND, SHARE, None), (50, BEHIND), True,
                 id="written 31 s ago without since (an older operator's entry): filled in"),
])
def test_writes_away_from_the_front_wait_for_the_refresh_period(
        written_ago: float, old: tuple[Any, ...], new: tuple[Any, ...], changed: bool) -> None:
    stored = {"position": old[0], "reasonCode": old[2] if len(old) > 2 else SHARE, "reason": old[1],
              "updatedAt": ts(written_ago), "since": old[3] if len(old) > 3 else ts(600)}
    live = {"position": new[0], "reasonCode": new[2] if len(new) > 2 else SHARE, "reason": new[1]}
    assert queue_changed(stored, live, NOW) is changed


def test_every_queue_entry_carries_a_code() -> None:
    assert queue_entry("NoTenant", "namespace x has no Tenant", []) == {
        "position": None, "reasonCode": "NoTenant", "reason": "namespace x has no Tenant", "since": None}
    with pytest.raises(ValueError, match="reason code"):
        queue_entry("", "somewhere a code was forgotten", [])


def waiting(position: int, reason: str, **status: Any) -> Any:
    """A Queued job whose stored queue entry and Waiting condition say `reason` at `position`."""
    stored = {"phase": "Queued", "tenant": "nlp",
              "queue": {"position": position, "reasonCode": SHARE, "reason": reason,
                        "updatedAt": ts(REASON_REFRESH_SECONDS + 1), "since": ts(60)},
              "conditions": [{"type": "Admitted", "status": "False", "reason": "Waiting", "message": reason,
                              "lastTransitionTime": ts(60)}]}
    return training_job("nlp/j").status(**{**stored, **status})


@pytest.mark.parametrize(("job", "decision", "written"), [
    pytest.param(waiting(400, BEHIND), Wait("nlp/j", BEHIND.replace("40 jobs", "39 jobs"), 390, SHARE), False,
                 id="moved up a little with new figures: no write"),
    pytest.param(waiting(400, BEHIND), Wait("nlp/j", BEHIND, 200, SHARE), True, id="halfway to the front: written"),
    pytest.param(waiting(400, BEHIND), Wait("nlp/j", "no room on a100: 0 GPUs free", 400, SHARE), True,
                 id="a new obstacle: written"),
    pytest.param(waiting(4, BEHIND), Wait("nlp/j", BEHIND, 3, SHARE), True,
                 id="onto the front, entry older than the front's refresh: written"),
    pytest.param(waiting(4, BEHIND, queue={"position": 4, "reasonCode": SHARE, "reason": BEHIND, "updatedAt": ts(5)}),
                 Wait("nlp/j", BEHIND, 3, SHARE), False, id="onto the front, entry 5 s old: not yet"),
    pytest.param(waiting(1, BEHIND, queue={"position": 1, "reasonCode": SHARE, "reason": BEHIND, "updatedAt": ts(5)}),
                 Wait("nlp/j", BEHIND, 0, SHARE), True, id="next in line, entry 5 s old: written"),
    pytest.param(waiting(400, BEHIND, tenant="cv"), Wait("nlp/j", BEHIND, 400, SHARE), True,
                 id="tenant changed: written"),
    pytest.param(waiting(400, BEHIND, conditions=[]), Wait("nlp/j", BEHIND, 400, SHARE), True,
                 id="the Waiting condition missing: written"),
    pytest.param(training_job("nlp/j"), Wait("nlp/j", BEHIND, 400, SHARE), True, id="first wait: written"),
    pytest.param(waiting(400, BEHIND, queue={"position": 400, "reasonCode": SHARE, "reason": BEHIND,
                                             "updatedAt": ts(REASON_REFRESH_SECONDS + 1)}),
                 Wait("nlp/j", BEHIND, 400, SHARE), True, id="an entry without since (an older operator's): written"),
    pytest.param(waiting(400, BEHIND, queue={"position": 400, "reasonCode": SHARE, "reason": BEHIND,
                                             "updatedAt": ts(10)}),
                 Wait("nlp/j", BEHIND, 400, SHARE), False, id="an entry without since, written 10 s ago: not yet"),
])
def test_a_waiting_job_is_rewritten_only_when_its_queue_entry_changes_materially(
        job: Any, decision: Wait, written: bool) -> None:
    actions = [a for a in plan([*CLUSTER, job], scheduler=told(decision)).actions if getattr(a, "key", None) == "nlp/j"]
    assert bool(rows(actions)) is written, rows(actions)


@pytest.mark.parametrize(("job", "since"), [
    pytest.param(training_job("nlp/j"), ts(0), id="first wait: since now"),
    pytest.param(waiting(400, "an old reason", queue={"position": 400, "reasonCode": SHARE, "reason": "x"}), ts(60),
                 id="still waiting: since the Admitted condition turned False"),
    pytest.param(training_job("nlp/j").status(phase="Queued", conditions=[
        {"type": "Admitted", "status": "True", "reason": "Admitted", "message": "", "lastTransitionTime": ts(600)}]),
                 ts(0), id="admitted before (requeued): a new wait, since now"),
])
def test_a_queue_entry_says_since_when_the_job_waits(job: Any, since: str) -> None:
    actions = [a for a in plan([*CLUSTER, job], scheduler=told(Wait("nlp/j", BEHIND, 400, SHARE))).actions
               if isinstance(a, PatchStatus) and a.key == "nlp/j"]
    assert [a.status["queue"]["since"] for a in actions] == [since]


@pytest.mark.parametrize(("conditions", "since"), [
    pytest.param([], None, id="no conditions"),
    pytest.param([{"type": "Admitted", "status": "False", "lastTransitionTime": ts(5)}], ts(5), id="Admitted False"),
    pytest.param([{"type": "Admitted", "status": "True", "lastTransitionTime": ts(5)}], None, id="Admitted True"),
    pytest.param([{"type": "Running", "status": "False", "lastTransitionTime": ts(5)}], None, id="another condition"),
])
def test_since_is_when_the_conditions_written_beside_it_turned_admitted_false(
        conditions: list[dict[str, Any]], since: str | None) -> None:
    assert queue_entry(SHARE, "r", conditions)["since"] == since


def test_every_code_a_wait_can_carry_is_documented() -> None:
    """The CRD's reasonCode description and docs/api.md's table name every code the operator writes."""
    codes = {*WAIT_CODES.values(), *HELD_BACK_CODES, *(r for r in REASONS if r != INVALID_SPEC)}
    crd = yaml.safe_load((ROOT / "crds" / "trainingjobs.fairshare.dev.yaml").read_text())
    queue = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["queue"]
    described = queue["properties"]["reasonCode"]["description"]
    table = (ROOT / "docs" / "api.md").read_text().split("### Wait reasons", 1)[1].split("###", 1)[0]
    assert sorted(c for c in codes if c not in described) == []
    assert sorted(c for c in codes if f"`{c}`" not in table) == []


def _refresh(key: str, written_at: float, position: int) -> QueueRefresh:
    return QueueRefresh("trainingjobs", key, {"queue": {"position": position}}, written_at=written_at)


@pytest.mark.parametrize(("refreshes", "budget", "kept"), [
    pytest.param([("a", 10.0, 9), ("b", 5.0, 50), ("c", 7.0, 20)], 2, ["b", "c"],
                 id="the longest unwritten first, whatever their positions"),
    pytest.param([("a", 5.0, 90), ("b", 5.0, 40), ("c", 5.0, 60)], 2, ["b", "c"],
                 id="written at the same time: front first"),
    pytest.param([("a", 1.0, 9)], 0, [], id="no budget: none"),
    pytest.param([("a", 1.0, 9), ("b", 2.0, 10)], 5, ["a", "b"], id="within the budget: all"),
])
def test_queue_refreshes_are_rationed_and_every_other_write_kept_in_order(
        refreshes: list[tuple[str, float, int]], budget: int, kept: list[str]) -> None:
    urgent = PatchStatus("trainingjobs", "ns/urgent", {"phase": "Admitted"})
    actions = [urgent, *(_refresh(f"ns/{k}", at, pos) for k, at, pos in refreshes), urgent]
    out = ration_refreshes(actions, budget)
    assert [a.key for a in out] == ["ns/urgent", *sorted(f"ns/{k}" for k in kept), "ns/urgent"]


def test_a_cycle_sends_at_most_its_ration_of_refreshes_and_the_front_at_once() -> None:
    """40 waiting jobs whose entries, written 60 s ago, all moved by more than 20 %: REFRESHES_PER_CYCLE of them are
    rewritten; the jobs at the front (positions 0 to 3) are rewritten at once, outside the ration."""
    stale = ts(60)
    jobs = [training_job(f"nlp/j{i:02d}").gpus(8).phase("Queued").created(3600 - i).status(
        tenant="nlp", queue={"position": 2 * i + 10, "reasonCode": CAPACITY, "reason": "x", "updatedAt": stale},
        conditions=[{"type": "Admitted", "status": "False", "reason": "Waiting", "message": "x",
                     "lastTransitionTime": stale}]) for i in range(40)]
    busy = [training_job(f"nlp/run{i}").gpus(8).phase("Running").allocation("a100", f"n{i}") for i in range(2)]
    actions = plan([*CLUSTER, *busy, *jobs]).actions
    queued = [a for a in actions if isinstance(a, PatchStatus) and a.status.get("phase") == "Queued"
              and a.key.startswith("nlp/j")]
    front = [a.key for a in queued if not isinstance(a, QueueRefresh)]
    assert (len(queued) - len(front), front) == (REFRESHES_PER_CYCLE, ["nlp/j00", "nlp/j01", "nlp/j02", "nlp/j03"])
