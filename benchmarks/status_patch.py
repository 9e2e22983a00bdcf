"""One waiting job's status patch (phase, tenant, queue, conditions) built four ways, in microseconds per patch (best
of 5 repeats): a dict literal (the code before issue #20's item 2), StatusModel.merge_patch (the code since), a
validated pydantic model dumped by alias, and model_construct dumped by alias. All four give the same patch.

    PYTHONPATH=operator .venv/bin/python benchmarks/status_patch.py
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from typing import Any

from fairshare.api import QueueStatus, TrainingJobStatus

AT = "2026-01-01T00:00:00Z"
CONDITIONS = [{"type": "Admitted", "status": "False", "reason": "Waiting", "message": "m" * 200,
               "lastTransitionTime": AT}]


def literal() -> dict[str, Any]:
    return {"phase": "Queued", "tenant": "nlp", "conditions": CONDITIONS,
            "queue": {"position": 3, "reasonCode": "WaitingForShare", "reason": "r", "updatedAt": AT}}


def merge_patch() -> dict[str, Any]:
    queue = QueueStatus.merge_patch(position=3, reason_code="WaitingForShare", reason="r", updated_at=AT)
    return TrainingJobStatus.merge_patch(phase="Queued", tenant="nlp", conditions=CONDITIONS, queue=queue)


def validate_dump() -> dict[str, Any]:
    queue = QueueStatus(position=3, reason_code="WaitingForShare", reason="r", updated_at=AT)  # type: ignore[arg-type]
    status = TrainingJobStatus(phase="Queued", tenant="nlp", conditions=CONDITIONS, queue=queue)  # type: ignore[arg-type]
    return status.model_dump(mode="json", by_alias=True, exclude_unset=True)


def construct_dump() -> dict[str, Any]:
    queue = QueueStatus.model_construct(position=3, reason_code="WaitingForShare", reason="r", updated_at=AT)
    status = TrainingJobStatus.model_construct(phase="Queued", tenant="nlp", conditions=CONDITIONS, queue=queue)
    return status.model_dump(mode="json", by_alias=True, exclude_unset=True, warnings=False)


def main() -> None:
    builders: list[tuple[Callable[[], dict[str, Any]], int]] = [
        (literal, 20_000), (merge_patch, 20_000), (validate_dump, 5_000), (construct_dump, 200)]
    assert all(build() == literal() for build, _ in builders), "the four give the same patch"
    for build, number in builders:
        seconds = min(timeit.repeat(build, number=number, repeat=5)) / number
        print(f"{build.__name__:15s} {seconds * 1e6:9.2f} us")


if __name__ == "__main__":
    main()
