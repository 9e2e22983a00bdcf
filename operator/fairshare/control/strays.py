"""Worker pods a job's status disowns, deleted: the pod deletions of a status write whose cycle was cut short.

Every cycle that moves a job out of a phase that holds pods writes the status first and deletes the pods after it
(preempted, finished, restarted, requeued as unschedulable, resized or moved to a new generation). A leader that
stops between the two (killed, or its write gate shut at the renew deadline) leaves pods running that the status
says should not be: a Preempted job whose workers never got SIGTERM would wait to drain for ever, and the GPUs
its beneficiary was promised stay taken. Whoever leads next finishes the job from the status alone.
"""

from __future__ import annotations

from typing import Any

from fairshare.api import Phase
from fairshare.api.constants import LABEL_MANAGED_BY, LABEL_RANK, MANAGED_BY
from fairshare.control.actions import Action, DeletePods
from fairshare.control.snapshot import JobView, World

HOLDING = (Phase.ADMITTED, Phase.RUNNING)
FINISHED_POD_PHASES = ("Succeeded", "Failed")


def _live_worker(pod: dict[str, Any]) -> bool:
    """One the operator launched (its managed-by label and a numeric rank: a user's pod that copies only the job
    label is left alone), neither finished nor being deleted."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    labels = meta.get("labels") or {}
    return (labels.get(LABEL_MANAGED_BY) == MANAGED_BY and str(labels.get(LABEL_RANK, "")).isdigit()
            and not meta.get("deletionTimestamp") and status.get("phase") not in FINISHED_POD_PHASES)


def disowned_pods(view: JobView) -> tuple[str, ...]:
    """Rule: a live worker pod belongs to its job only while the job holds GPUs (Admitted or Running) and only in the
    job's current allocation generation; any other is deleted."""
    if view.model is None or view.phase is None:
        return ()
    current = {p["metadata"]["name"] for p in view.current_pods()} if view.phase in HOLDING else set()
    return tuple(sorted(p["metadata"]["name"] for p in view.pods
                        if _live_worker(p) and p["metadata"]["name"] not in current))


def stray_pod_actions(world: World, skip: set[str]) -> list[Action]:
    """Deletions for the pods each job's status disowns, except for jobs this cycle already acts on (`skip`)."""
    return [DeletePods(key, names) for key, view in sorted(world.jobs.items())
            if key not in skip and (names := disowned_pods(view))]
