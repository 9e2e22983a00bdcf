"""The worker pods and Service of an admitted TrainingJob: built for its allocation, re-created when missing."""

from __future__ import annotations

from collections.abc import Sequence

from fairshare.api import Phase
from fairshare.control.actions import Action, EnsureChildren
from fairshare.control.reconcile import missing_ranks
from fairshare.control.snapshot import JobView, World
from fairshare.render import RenderSettings, WorkerAllocation, build_headless_service, build_worker_pods

HOSTNAME_LABEL = "kubernetes.io/hostname"


def children(view: JobView, world: World, gpu_class: str, nodes: tuple[str, ...], generation: int,
              settings: RenderSettings, ranks: Sequence[int] | None = None) -> EnsureChildren:
    """Service and pods for an allocation (only those of `ranks`, when given); each pod is pinned to the node the
    core chose (the scheduler still checks the fit and binds it) and tolerates the taints its GPUClass lists."""
    assert view.model is not None and view.tenant is not None
    spec = world.gpu_classes[gpu_class].spec
    allocation = WorkerAllocation(view.tenant, gpu_class, dict(spec.node_selector), len(nodes), generation,
                                  tuple(t.to_body() for t in spec.tolerations))
    pods = build_worker_pods(view.model, allocation, settings)
    for pod, node in zip(pods, nodes, strict=True):
        pod["spec"]["nodeSelector"] = {**pod["spec"].get("nodeSelector", {}), HOSTNAME_LABEL: node}
    if ranks is not None:
        pods = [pods[r] for r in ranks]
    # A job that never has more than one worker rendezvous with itself on localhost: no Service, one write less.
    service = build_headless_service(view.model, settings) if view.model.spec.workers.max > 1 else None
    return EnsureChildren(view.key, service, tuple(pods))


def missing_children_actions(world: World, skip: set[str], settings: RenderSettings) -> list[Action]:
    """An Admitted job short of pods gets its missing workers created, each once no older pod holds its name (after
    a resize the old pods terminate first; or the operator stopped between the status write and the creation; or
    someone deleted one before the gang ran). A Running gang that lost a worker restarts instead (lifecycle)."""
    actions: list[Action] = []
    for key, view in sorted(world.jobs.items()):
        alloc = view.model.status.allocation if view.model and view.model.status else None
        if (key in skip or view.phase is not Phase.ADMITTED or view.tenant is None or alloc is None
                or alloc.gpu_class not in world.gpu_classes or view.rejected is not None or view.deleting):
            continue
        ranks = missing_ranks(view)
        if ranks:
            actions.append(children(view, world, alloc.gpu_class or "", tuple(alloc.nodes), view.generation,
                                     settings, ranks))
    return actions
