"""KEP-1623 conditions: set by type, transition time moves only when the status flips."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.conditions import rfc3339, same_conditions, set_condition
from tests.unit.control.builders import NOW, ts

EARLIER = ts(600)


def c(type_: str, status: str, reason: str = "R", message: str = "m", since: str = EARLIER) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message, "lastTransitionTime": since}


@pytest.mark.parametrize(("conditions", "args", "want"), [
    pytest.param([], ("Admitted", True, "Admitted", "ok"), [c("Admitted", "True", "Admitted", "ok", ts(0))],
                 id="new condition: now"),
    pytest.param([c("Admitted", "True")], ("Admitted", True, "Again", "still"),
                 [c("Admitted", "True", "Again", "still", EARLIER)], id="same status: time kept, reason updated"),
    pytest.param([c("Admitted", "True")], ("Admitted", False, "Preempted", "x"),
                 [c("Admitted", "False", "Preempted", "x", ts(0))], id="status flips: time moves"),
    pytest.param([c("Running", "True"), c("Admitted", "True")], ("Finished", True, "Succeeded", "done"),
                 [c("Admitted", "True"), c("Finished", "True", "Succeeded", "done", ts(0)), c("Running", "True")],
                 id="others kept, sorted by type"),
])
def test_set_condition(conditions: list[dict[str, Any]], args: tuple[Any, ...], want: list[dict[str, Any]]) -> None:
    type_, status, reason, message = args
    before = [dict(x) for x in conditions]
    assert set_condition(conditions, type_, status, reason, message, NOW) == want
    assert conditions == before, "the input list is not modified"


def test_set_condition_truncates_long_messages_and_records_observed_generation() -> None:
    [got] = set_condition([], "Admitted", False, "Waiting", "x" * 40000, NOW, observed_generation=3)
    assert (len(got["message"]), got["observedGeneration"]) == (32768, 3)


@pytest.mark.parametrize(("a", "b", "want"), [
    pytest.param([c("A", "True", since=ts(0))], [c("A", "True", since=ts(999))], True, id="only times differ"),
    pytest.param([c("A", "True"), c("B", "False")], [c("B", "False"), c("A", "True")], True, id="order ignored"),
    pytest.param([c("A", "True")], [c("A", "False")], False, id="status differs"),
    pytest.param([c("A", "True", message="x")], [c("A", "True", message="y")], False, id="message differs"),
    pytest.param([c("A", "True")], [], False, id="one missing"),
])
def test_same_conditions(a: list[dict[str, Any]], b: list[dict[str, Any]], want: bool) -> None:
    assert same_conditions(a, b) is want


def test_rfc3339_is_utc_seconds() -> None:
    assert rfc3339(0.9) == "1970-01-01T00:00:00Z"
