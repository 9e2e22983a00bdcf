"""Rows of the API server's TrainingJob Table as the queue view's rows, the same as the objects give (the server's own
Table is compared with the objects in tests/integration/test_client.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fairshare.api.jobstatus import Phase
from fairshare.client import jobtable, views

NOW = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)

# The columns as the CRD prints them, in its order (Name first, columns the view does not read in between).
COLUMNS = ["Name", "Tenant", "Phase", "Class", "GPUs", "Position", "Reason", "Age", "Min-Workers", "Max-Workers",
           "GPUs/Worker", "Classes", "Bid", "Waiting-Since", "Created", "Namespace", "ETA", "Message"]


def row(**cells: Any) -> list[Any]:
    return [cells.get(name) for name in COLUMNS]


WAITING = {"metadata": {"namespace": "nlp", "name": "bert", "creationTimestamp": "2026-12-06T11:55:00Z"},
           "spec": {"workers": {"min": 1, "max": 4}, "gpusPerWorker": 8, "gpuClasses": ["a100", "h100"],
                    "maxPricePerGPUHour": 2.5},
           "status": {"tenant": "nlp", "phase": "Queued",
                      "queue": {"position": 0, "reasonCode": "BidBelowPrice", "reason": "bid 2.5 < price 2.6",
                                "since": "2026-12-06T11:57:30Z"},
                      "conditions": [{"type": "Admitted", "status": "False",
                                      "lastTransitionTime": "2026-12-06T11:57:30Z"}]}}
UNSEEN = {"metadata": {"namespace": "cv", "name": "new", "creationTimestamp": "2026-12-06T11:59:57Z"},
          "spec": {"workers": {"min": 2, "max": 2}, "gpusPerWorker": 4}}
REQUEUED = {"metadata": {"namespace": "cv", "name": "old", "creationTimestamp": "2026-12-06T09:00:00Z"},
            "spec": {"workers": {"min": 2, "max": 2}, "gpusPerWorker": 4, "gpuClasses": []},
            "status": {"tenant": "cv", "phase": "Queued", "queue": {"position": 3, "reason": "x" * 80},
                       "conditions": [{"type": "Admitted", "status": "True",
                                       "lastTransitionTime": "2026-12-06T10:00:00Z"}]}}


@pytest.mark.parametrize(("job", "cells"), [
    pytest.param(WAITING, row(
        Name="bert", Tenant="nlp", Phase="Queued", Position=0, Reason="BidBelowPrice", Age="5m", Namespace="nlp",
        Created="2026-12-06T11:55:00Z", Classes='["a100","h100"]', Bid=2.5,
        Message="bid 2.5 < price 2.6", **{"Waiting-Since": "2026-12-06T11:57:30Z"},
        **{"Min-Workers": 1, "Max-Workers": 4, "GPUs/Worker": 8}), id="waiting: every field the view reads"),
    pytest.param(UNSEEN, row(Name="new", Age="3s", Created="2026-12-06T11:59:57Z", Namespace="cv",
                             **{"Min-Workers": 2, "Max-Workers": 2, "GPUs/Worker": 4}),
                 id="not yet seen by the operator: empty cells, waiting since creation"),
    pytest.param(REQUEUED, row(Name="old", Tenant="cv", Phase="Queued", Position=3, Age="3h", Namespace="cv",
                               Created="2026-12-06T09:00:00Z", Classes="[]", Message="x" * 80,
                               **{"Min-Workers": 2, "Max-Workers": 2, "GPUs/Worker": 4}),
                 id="no code, no since (an entry an older operator wrote): waiting since creation"),
])
def test_a_row_shows_in_the_queue_as_its_object_does(job: dict[str, Any], cells: list[Any]) -> None:
    """`cells` is what the API server prints for `job` (compared on the real server in the integration test)."""
    from_table = jobtable.rows_from_table(COLUMNS, [cells], NOW)
    assert from_table == views.pending_rows([job], NOW)
    assert views.queue_table(from_table, wide=True) == views.queue_table(views.pending_rows([job], NOW), wide=True)


@pytest.mark.parametrize(("cells", "tenant", "want"), [
    pytest.param([row(Name="q", Tenant="nlp", Phase="Queued")], None, ["q"], id="queued"),
    pytest.param([row(Name="new")], None, ["new"], id="no phase yet: waits"),
    pytest.param([row(Name="run", Phase="Running"), row(Name="done", Phase="Succeeded")], None, [],
                 id="settled phases (read without the selector, from a CRD that has none) are left out"),
    pytest.param([row(Name="a", Tenant="nlp", Phase="Queued"), row(Name="b", Tenant="cv", Phase="Queued")], "cv",
                 ["b"], id="one tenant"),
])
def test_only_waiting_rows_of_the_tenant_asked_for(cells: list[list[Any]], tenant: str | None, want: list[str]) -> None:
    assert [r.name for r in jobtable.rows_from_table(COLUMNS, cells, NOW, tenant)] == want


def test_a_row_becomes_the_printed_fields() -> None:
    cells = row(Name="new", Namespace="cv", Classes='["l4"]', Created="2026-12-06T11:59:00Z",
                **{"Min-Workers": 1, "Max-Workers": 2, "GPUs/Worker": 8})
    (queued,) = jobtable.rows_from_table(COLUMNS, [cells], NOW)
    assert queued == views.QueueRow(namespace="cv", name="new", tenant=None, position=None, reason_code=None,
                                    reason=None, ask="1-2x8 l4", waiting_seconds=60.0)


def test_a_table_without_the_queue_columns_names_them() -> None:
    older = ["Name", "Tenant", "Phase", "Position", "Reason", "Age", "Message"]
    assert jobtable.missing_columns(older) == ["Namespace", "Created", "Min-Workers", "Max-Workers", "GPUs/Worker",
                                               "Classes", "Bid", "Waiting-Since"]
    with pytest.raises(ValueError, match="prints no column Namespace, Created, Min-Workers"):
        jobtable.rows_from_table(older, [], NOW)


def test_the_selector_leaves_out_every_phase_but_queued() -> None:
    assert set(jobtable.SETTLED_PHASES) == {p.value for p in Phase} - {Phase.QUEUED.value}
    assert jobtable.WAITING_SELECTOR.split(",")[0] == "status.phase!=Admitted"


@pytest.mark.parametrize(("printed", "want"), [
    pytest.param('["a100","h100"]', ["a100", "h100"], id="the JSON array the API server prints"),
    pytest.param("[]", [], id="no classes"),
    pytest.param("a100", ["a100"], id="not JSON: shown as printed"),
    pytest.param('"a100"', ["a100"], id="a JSON string"),
    pytest.param("[1, 2]", ["1", "2"], id="not names: shown as text"),
])
def test_the_classes_cell_never_fails_the_view(printed: str, want: list[str]) -> None:
    assert jobtable.printed_class_list(printed) == want
