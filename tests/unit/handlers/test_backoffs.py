"""kopf's retry schedule: its own first steps, then every 30 s without end, afresh for each request."""

from __future__ import annotations

import collections.abc
import itertools

from fairshare.handlers.backoffs import EndlessBackoffs


def test_the_schedule_never_ends_and_restarts_for_each_request() -> None:
    backoffs = EndlessBackoffs()
    first = list(itertools.islice(backoffs, 12))
    assert first == [1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 30.0, 30.0, 30.0, 30.0]
    assert list(itertools.islice(backoffs, 12)) == first
    assert list(itertools.islice(iter(backoffs), 10_000, 10_001)) == [30.0]


def test_kopf_counts_no_last_attempt() -> None:
    """kopf gives up after len(backoffs) + 1 attempts when the backoffs have a length."""
    backoffs = EndlessBackoffs()
    assert isinstance(backoffs, collections.abc.Iterable)
    assert not isinstance(backoffs, collections.abc.Sized)
