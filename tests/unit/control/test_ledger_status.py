"""The Tenant's ledger as its status holds it: read back, written as a merge patch, and compared."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.api import parse_tenant
from fairshare.control.ledger import changed, foreign_due, ledger_status, stored
from fairshare.core.ledger import TenantLedger
from tests.unit.control.builders import NOW, tenant, ts

START = ts(7200)


def tenant_with(book: dict[str, Any] | None, spend: float = 5.0) -> Any:
    fields: dict[str, Any] = {"spendThisPeriod": spend, "periodStart": START}
    if book is not None:
        fields["ledger"] = book
    return parse_tenant(tenant("nlp").status(**fields).body())


BOOK = {"closedCredits": 1.0, "jobs": {"u1": 3.0, "u2": 1.0}, "closedAt": {"u2": ts(60)},
        "foreignChargedThrough": ts(30)}


def test_stored_reads_every_part() -> None:
    book = stored(tenant_with(BOOK))
    assert book == TenantLedger(NOW - 7200, 1.0, {"u1": 3.0, "u2": 1.0}, {"u2": NOW - 60}, NOW - 30)


@pytest.mark.parametrize(("book", "ledger", "want"), [
    pytest.param(BOOK, TenantLedger(NOW - 7200, 1.0, {"u1": 3.0, "u2": 1.0}, {"u2": NOW - 60}, NOW - 30),
                 {"spendThisPeriod": 5.0, "ledger": {"closedCredits": 1.0, "jobs": {"u1": 3.0, "u2": 1.0},
                                                     "closedAt": {"u2": ts(60)}, "foreignChargedThrough": ts(30)}},
                 id="as stored"),
    pytest.param(BOOK, TenantLedger(NOW - 7200, 2.0, {"u1": 3.0}),
                 {"spendThisPeriod": 5.0, "ledger": {"closedCredits": 2.0, "jobs": {"u1": 3.0, "u2": None},
                                                     "closedAt": {"u2": None}, "foreignChargedThrough": None}},
                 id="an entry folded after its grace, the foreign mark dropped: sent as null"),
    pytest.param(None, TenantLedger(NOW - 7200, 5.0),
                 {"spendThisPeriod": 5.0, "ledger": {"closedCredits": 5.0, "jobs": {}}},
                 id="the first ledger: no closing times, no foreign mark"),
])
def test_ledger_status_is_a_merge_patch(book: dict[str, Any] | None, ledger: TenantLedger,
                                        want: dict[str, Any]) -> None:
    assert ledger_status(ledger, tenant_with(book)) == want


FINAL = {**BOOK, "finalChargedThrough": {"u2": ts(61)}}


def test_a_final_entry_is_read_back_written_and_dropped_with_its_entry() -> None:
    book = stored(tenant_with(FINAL))
    assert book is not None and book.final == {"u2": NOW - 61}
    assert ledger_status(book, tenant_with(BOOK))["ledger"]["finalChargedThrough"] == {"u2": ts(61)}
    assert changed(book, tenant_with(BOOK)) and not changed(book, tenant_with(FINAL))
    folded = TenantLedger(NOW - 7200, 2.0, {"u1": 3.0}, foreign_through=NOW - 30)
    assert ledger_status(folded, tenant_with(FINAL))["ledger"]["finalChargedThrough"] == {"u2": None}


@pytest.mark.parametrize(("ledger", "want"), [
    pytest.param(TenantLedger(NOW - 7200, 1.0, {"u1": 3.0, "u2": 1.0}, {"u2": NOW - 60 + 0.4}, NOW - 30), False,
                 id="the same to the whole second"),
    pytest.param(TenantLedger(NOW - 7200, 1.0, {"u1": 3.0, "u2": 1.0}, {}, NOW - 30), True, id="reopened"),
    pytest.param(TenantLedger(NOW - 7200, 1.0, {"u1": 3.0, "u2": 1.0}, {"u2": NOW - 60}, NOW), True,
                 id="the foreign mark moved"),
    pytest.param(TenantLedger(NOW, 0.0), True, id="a new period"),
])
def test_changed(ledger: TenantLedger, want: bool) -> None:
    assert changed(ledger, tenant_with(BOOK)) is want


@pytest.mark.parametrize(("book", "want"), [
    pytest.param(None, True, id="no ledger yet: the mark is set"),
    pytest.param({**BOOK, "foreignChargedThrough": ts(29)}, False, id="charged 29 s ago"),
    pytest.param({**BOOK, "foreignChargedThrough": ts(30)}, True, id="charged 30 s ago"),
])
def test_foreign_pods_are_charged_every_30_seconds(book: dict[str, Any] | None, want: bool) -> None:
    assert foreign_due(tenant_with(book), NOW) is want
