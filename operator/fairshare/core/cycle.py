"""The cycle's scratch state (classes with node pools, tenants with usage and queues, pending and running jobs), the
wait causes, and the queue order. core/index.py builds it from a snapshot (step 1); steps 2-10 read and change it."""

from __future__ import annotations

import enum
import math

from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Admit, Migrate, Preempt, Resize
from fairshare.core.placement import NodePool
from fairshare.core.throughput import Curves
from fairshare.core.types import GPUClass, Job, Tenant


class Cause(enum.IntEnum):
    """Why a pending job waits; a lower value is closer to running, and a job reports its lowest cause."""

    CAPACITY = 0
    DEPTH = 1
    ORDER = 2
    SHARE = 3
    BID = 4
    LIMIT = 5
    BUDGET = 6
    NONPREEMPTIBLE = 7
    TOO_BIG = 8
    NO_CLASS = 9
    NO_TENANT = 10


# Cause -> the stable code a Wait carries (decisions.Wait.code): what users, columns and alerts key on.
WAIT_CODES = {
    Cause.CAPACITY: "WaitingForCapacity",
    Cause.DEPTH: "WaitingForCapacity",
    Cause.ORDER: "WaitingInOrder",
    Cause.SHARE: "WaitingForShare",
    Cause.BID: "BidBelowPrice",
    Cause.LIMIT: "BorrowingLimit",
    Cause.BUDGET: "BudgetSpent",
    Cause.NONPREEMPTIBLE: "NonPreemptibleBeyondGuarantee",
    Cause.TOO_BIG: "TooBig",
    Cause.NO_CLASS: "NoMatchingClass",
    Cause.NO_TENANT: "NoTenant",
}


class ClassState:
    """One GPU class during a cycle: its node pool, price and the running jobs on it."""

    __slots__ = ("gpu_class", "name", "pool", "node_index", "capacity", "list_price", "floor", "price", "running",
                 "victims", "slots_when_empty")

    def __init__(self, gpu_class: GPUClass, pool: NodePool, capacity: int, floor: float) -> None:
        self.gpu_class = gpu_class
        self.name = gpu_class.name
        self.pool = pool
        self.node_index = {n: i for i, n in enumerate(pool.names)}
        self.capacity = capacity
        self.list_price = gpu_class.price_per_gpu_hour
        self.floor = floor
        self.price = floor
        self.running: list[RunState] = []
        self.victims: list[RunState] | None = None
        self.slots_when_empty: dict[int, int] = {}

    def ever_holds(self, workers: int, gpus_per_worker: int) -> bool:
        """True when the class, emptied, could hold a gang of `workers` x `gpus_per_worker` on its schedulable
        nodes."""
        slots = self.slots_when_empty.get(gpus_per_worker)
        if slots is None:
            pool = self.pool
            slots = self.slots_when_empty[gpus_per_worker] = sum(
                c // gpus_per_worker for c, ok in zip(pool.capacity, pool.schedulable, strict=True) if ok)
        return slots >= workers


class TenantState:
    """One tenant during a cycle: what it holds per class, what it spends per hour, and its pending queue."""

    __slots__ = ("tenant", "name", "known", "used", "spend", "held_value", "budget", "queue", "cursor", "entitled",
                 "wants")

    def __init__(self, tenant: Tenant, known: bool) -> None:
        self.tenant = tenant
        self.name = tenant.name
        self.known = known
        self.used: dict[str, int] = {}
        self.spend = 0.0  # credits per hour its full-price holdings cost at this cycle's prices
        self.held_value = 0.0  # the same holdings at list prices (the unit of its entitlement)
        self.budget = 0.0
        self.queue: list[PendingJob] = []
        self.cursor = 0
        self.entitled: dict[str, float] = {}
        # GPUs wanted (max size) by pending jobs without informative throughput, per set of acceptable classes.
        self.wants: dict[tuple[ClassState, ...], int] = {}

    def share_ratio(self) -> float:
        """Spend over entitlement: 1.0 means exactly at its fair share."""
        if self.budget <= 0:
            return float("inf") if self.spend > 0 else 0.0
        return self.spend / self.budget

    def list_ratio(self) -> float:
        """Full-price holdings at list prices over entitlement: the share ratio that no price movement changes."""
        if self.budget <= 0:
            return float("inf") if self.held_value > 0 else 0.0
        return self.held_value / self.budget


class PendingJob:
    """A pending job during a cycle: its minimum gang, the classes it accepts, and what became of it.

    `curves` is set only when measured throughput can change its choice of class (see informative()).
    """

    __slots__ = ("job", "tenant", "workers", "gpw", "need", "options", "curves", "cause", "cause_class", "admitted",
                 "band")

    def __init__(self, job: Job, tenant: TenantState, options: tuple[ClassState, ...], curves: Curves | None,
                 band: int = 0) -> None:
        self.job = job
        self.tenant = tenant
        self.workers = job.min_workers
        self.gpw = job.gpus_per_worker
        self.need = job.min_workers * job.gpus_per_worker
        self.options = options
        self.curves = curves
        self.cause: Cause | None = None
        self.cause_class: ClassState | None = None
        self.admitted: Admit | None = None
        self.band = band  # least-attained-service band (service_band): lower goes first within a priority

    def note(self, cause: Cause, cls: ClassState | None) -> None:
        """Remember the cause closest to running (the first one seen wins a tie)."""
        if self.cause is None or cause < self.cause:
            self.cause = cause
            self.cause_class = cls


class RunState:
    """A running job during a cycle: where its workers are, and whether this cycle shrank or preempted it."""

    __slots__ = ("job", "tenant", "cls", "nodes", "gpw", "opportunistic", "lost_gpu_hours", "charged", "preempted",
                 "resized", "migrated", "attained", "band")

    def __init__(self, job: Job, tenant: TenantState, cls: ClassState, nodes: list[int], now: float,
                 config: PolicyConfig | None = None) -> None:
        alloc = job.allocation
        assert alloc is not None
        self.job = job
        self.tenant = tenant
        self.cls = cls
        self.nodes = nodes
        self.gpw = job.gpus_per_worker
        self.opportunistic = alloc.opportunistic
        since = max(alloc.started_at, alloc.last_checkpoint_at or alloc.started_at)
        self.lost_gpu_hours = max(0.0, now - since) / 3600.0 * len(nodes) * self.gpw
        # Attained service so far: earlier allocations plus this one.
        self.attained = job.attained_gpu_hours + max(0.0, now - alloc.started_at) / 3600.0 * len(nodes) * self.gpw
        self.band = service_band(self.attained, config) if config is not None else 0
        self.charged = 0  # GPUs counted in the tenant's spend at the class price
        self.preempted: Preempt | None = None
        self.resized: Resize | None = None
        self.migrated: Migrate | None = None

    @property
    def gpus(self) -> int:
        """GPUs it holds now (after any shrink this cycle)."""
        return len(self.nodes) * self.gpw


class Cycle:
    """All scratch state of one cycle; built from a snapshot, consumed by the numbered steps."""

    def __init__(self, now: float, config: PolicyConfig) -> None:
        self.now = now
        self.config = config
        self.classes: dict[str, ClassState] = {}
        self.tenants: dict[str, TenantState] = {}
        self.pending: list[PendingJob] = []
        self.running: list[RunState] = []
        self.curves: dict[str, dict[str, tuple[tuple[int, float], ...]]] = {}
        self.ranked: dict[tuple[ClassState, ...], tuple[ClassState, ...]] = {}
        self.ranked_jobs: dict[str, tuple[ClassState, ...]] = {}  # the same for jobs with their own measurements
        self.measured: list[PendingJob] = []  # pending jobs whose throughput can change their class
        self.changes = 0  # bumped whenever GPUs are handed out, so caches of "nothing fits" can expire
        self.prices_settling = False  # a damped price has not reached this cycle's equilibrium yet

    def dismantle(self) -> None:
        """Break the loops between tenants and their queues and between classes and their running jobs, so that
        the cycle's objects are freed by reference counting as soon as it ends instead of by the garbage collector
        (at 15k jobs, a collection that walks them all costs more than some steps)."""
        for ts in self.tenants.values():
            ts.queue = []
        for cs in self.classes.values():
            cs.running = []
            cs.victims = None
        self.pending = []
        self.running = []
        self.measured = []
        self.ranked = {}
        self.ranked_jobs = {}


def informative(curves: Curves | None) -> Curves | None:
    """Curves that can change which class a job prefers: measured on two or more classes. Measured on one, every
    other class is scaled from it by relative speed, so the per-GPU ratios are the prior's anyway."""
    return curves if curves is not None and len(curves) > 1 else None


def sort_queue(queue: list[PendingJob]) -> None:
    """Sort in queue_order, one stable pass per part of the key from the last: each pass compares plain floats,
    ints or strings (CPython's fast paths) instead of tuples; the priority and band passes are skipped when the
    queue holds one value of them (the common case), and keys are compared only among equal submission times."""
    if len(queue) < 2:
        return
    sort_by_submission(queue)
    first = queue[0]
    if any(p.band != first.band for p in queue):
        queue.sort(key=_band)
    if any(p.job.priority != first.job.priority for p in queue):
        queue.sort(key=_negated_priority)


def sort_by_submission(jobs: list[PendingJob]) -> None:
    """Sort by (submission time, key): by time, then each run of equal times (rare) by key."""
    jobs.sort(key=_submitted_at)
    i, n = 0, len(jobs)
    while i < n:
        at = jobs[i].job.submitted_at
        j = i + 1
        while j < n and jobs[j].job.submitted_at == at:
            j += 1
        if j - i > 1:
            jobs[i:j] = sorted(jobs[i:j], key=_job_key)
        i = j


def _job_key(p: PendingJob) -> str:
    return p.job.key


def _submitted_at(p: PendingJob) -> float:
    return p.job.submitted_at


def _band(p: PendingJob) -> int:
    return p.band


def _negated_priority(p: PendingJob) -> int:
    return -p.job.priority


def queue_order(p: PendingJob) -> tuple[int, int, float, str]:
    """A tenant's queue: higher priority first, then least attained service (by band), then first submitted, then
    by key."""
    return (-p.job.priority, p.band, p.job.submitted_at, p.job.key)


def service_band(gpu_hours: float, config: PolicyConfig) -> int:
    """The least-attained-service band of a job that has held `gpu_hours`: 0 below one quantum, then one band per
    factor of `service_band_growth` (0 for everyone when the quantum is 0)."""
    quantum = config.service_quantum_gpu_hours
    if quantum <= 0 or gpu_hours < quantum:
        return 0
    return 1 + math.floor(math.log(gpu_hours / quantum) / math.log(config.service_band_growth))
