"""`fairshare queue` and `fairshare shares` rows from raw API bodies: which jobs, in which order, what each column
says."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fairshare.client import views

NOW = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)


def body(name: str, tenant: str | None = "nlp", phase: str | None = "Queued", position: int | None = None,
         created: str = "2026-12-06T11:00:00Z", namespace: str = "nlp", **queue: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "tenant": tenant}
    if position is not None or queue:
        status["queue"] = {"position": position, **queue}
    return {"metadata": {"namespace": namespace, "name": name, "creationTimestamp": created},
            "spec": {"workers": {"min": 2, "max": 2}, "gpusPerWorker": 4}, "status": status}


@pytest.mark.parametrize(("jobs", "tenant", "want"), [
    pytest.param([body("b", position=2), body("a", position=1)], None, ["a", "b"], id="by position"),
    pytest.param([body("x", tenant="vision", position=1), body("y", position=2)], None, ["y", "x"],
                 id="by tenant first: positions count within a tenant's queue"),
    pytest.param([body("run", phase="Running"), body("done", phase="Succeeded"), body("q", position=1)], None, ["q"],
                 id="only waiting jobs"),
    pytest.param([body("new", phase=None, tenant=None), body("q", position=1)], None, ["q", "new"],
                 id="a job the operator has not seen yet comes last"),
    pytest.param([body("old", created="2026-12-06T10:00:00Z"), body("young"), body("q", position=3)], None,
                 ["q", "old", "young"], id="jobs without a position after those with one, oldest first"),
    pytest.param([body("x", tenant="vision", position=1), body("y", position=2)], "vision", ["x"],
                 id="one tenant"),
])
def test_pending_rows_order_and_filter(jobs: list[dict[str, Any]], tenant: str | None, want: list[str]) -> None:
    assert [r.name for r in views.pending_rows(jobs, NOW, tenant)] == want


def test_a_row_carries_position_code_reason_ask_and_wait() -> None:
    job = body("bert", position=0, reasonCode="BidBelowPrice", reason="bid 2.0 < price 2.6")
    job["spec"].update({"workers": {"min": 1, "max": 4}, "gpuClasses": ["a100", "h100"], "maxPricePerGPUHour": 2.0})
    job["status"]["queue"]["since"] = "2026-12-06T11:57:30Z"
    (row,) = views.pending_rows([job], NOW)
    assert row == views.QueueRow(namespace="nlp", name="bert", tenant="nlp", position=0, reason_code="BidBelowPrice",
                                 reason="bid 2.0 < price 2.6", ask="1-4x4 a100,h100 bid 2", waiting_seconds=150.0)


def test_the_wait_starts_at_creation_without_a_queue_entry_since() -> None:
    (row,) = views.pending_rows([body("a")], NOW)
    assert row.waiting_seconds == 3600.0 and row.reason_code is None


@pytest.mark.parametrize(("seconds", "want"), [
    (None, "-"), (45, "45s"), (119, "119s"), (600, "10m"), (3600, "1h"), (12_000, "3h20m"), (190_000, "2d4h"),
])
def test_duration(seconds: float | None, want: str) -> None:
    assert views.duration(seconds) == want


def test_queue_table_shows_the_code_or_else_the_reason_and_wide_adds_the_reason() -> None:
    coded = body("a", position=0, reasonCode="WaitingForShare", reason="tenant nlp is at 1.40x its fair share")
    worded = body("b", position=1, reason="x" * 80)
    rows = views.pending_rows([coded, worded], NOW)
    lines = views.queue_table(rows).splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "TENANT", "POSITION", "REASON", "ASK", "WAITING"]
    assert lines[1].split() == ["nlp", "a", "nlp", "0", "WaitingForShare", "2x4", "any", "1h"]
    assert "x" * 57 + "..." in lines[2]
    wide = views.queue_table(rows, wide=True, namespaces=False).splitlines()
    assert wide[0].split()[-1] == "MESSAGE" and wide[1].endswith("tenant nlp is at 1.40x its fair share")
    assert wide[2].endswith("x" * 80)


TENANT = {"metadata": {"name": "nlp"},
          "spec": {"namespaces": ["nlp"], "weight": 2.0, "guaranteed": {"a100": 8}},
          "status": {"fairShare": {"a100": 12.5, "h100": 0.0}, "allocated": {"h100": 16}, "shareRatio": 1.4,
                     "decayedUsageGPUHours": 310.25, "spendThisPeriod": 120.0, "creditsLeft": 80.0}}
CLASSES = [{"metadata": {"name": n}} for n in ("a100", "h100", "t4")]


def test_share_rows_name_the_classes_a_tenant_is_entitled_to_or_holds() -> None:
    rows = views.share_rows([TENANT], CLASSES)
    assert rows == [
        views.ShareRow("nlp", "a100", 2.0, 8, 12.5, 0, 1.4, 310.25, 120.0, 80.0),
        views.ShareRow("nlp", "h100", 2.0, None, 0.0, 16, 1.4, 310.25, 120.0, 80.0),
    ]


def test_a_tenant_with_nothing_yet_shows_every_class() -> None:
    fresh = {"metadata": {"name": "cv"}, "spec": {"namespaces": ["cv"]}}
    assert [(r.gpu_class, r.weight, r.fair_share, r.held) for r in views.share_rows([fresh], CLASSES)] == [
        ("a100", 1.0, None, 0), ("h100", 1.0, None, 0), ("t4", 1.0, None, 0)]


def test_shares_table() -> None:
    lines = views.shares_table(views.share_rows([TENANT], CLASSES)).splitlines()
    assert lines[0].split() == ["TENANT", "CLASS", "WEIGHT", "GUARANTEED", "FAIRSHARE", "HELD", "RATIO", "USAGE-GPUH",
                                "SPEND", "CREDITS-LEFT"]
    assert lines[1].split() == ["nlp", "a100", "2", "8", "12.50", "0", "1.40", "310.2", "120.00", "80.00"]
    assert lines[2].split()[3] == "-"
