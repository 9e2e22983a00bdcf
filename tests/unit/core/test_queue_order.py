"""A tenant's queue: priority, then least-attained band, then submission time, then key, however it is sorted."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fairshare.core.cycle import PendingJob, TenantState, queue_order, sort_by_submission, sort_queue
from fairshare.core.types import Job, Tenant

jobs = st.lists(st.tuples(st.integers(-2, 2), st.integers(0, 2), st.sampled_from([0.0, 1.0, 2.5, 1e9]),
                          st.integers(0, 40)), max_size=60)


@given(jobs)
def test_sort_queue_is_queue_order(specs: list[tuple[int, int, float, int]]) -> None:
    owner = TenantState(Tenant("t"), known=True)
    queue = [PendingJob(Job(f"t/j{k}-{i}", "t", 1, 1, 1, priority=priority, submitted_at=at), owner, (), None, band)
             for i, (priority, band, at, k) in enumerate(specs)]
    expected = sorted(queue, key=queue_order)
    sort_queue(queue)
    assert [p.job.key for p in queue] == [p.job.key for p in expected]


@given(jobs)
def test_sort_by_submission_is_time_then_key(specs: list[tuple[int, int, float, int]]) -> None:
    owner = TenantState(Tenant("t"), known=True)
    order = [PendingJob(Job(f"t/j{k}-{i}", "t", 1, 1, 1, submitted_at=at), owner, (), None)
             for i, (_, _, at, k) in enumerate(specs)]
    expected = sorted(order, key=lambda p: (p.job.submitted_at, p.job.key))
    sort_by_submission(order)
    assert [p.job.key for p in order] == [p.job.key for p in expected]
