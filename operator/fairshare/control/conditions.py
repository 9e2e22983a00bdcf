"""KEP-1623 conditions: set one by type, keeping lastTransitionTime unless its status really changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fairshare.api import Condition

ADMITTED = "Admitted"
RUNNING = "Running"
PREEMPTED = "Preempted"
FINISHED = "Finished"
CONFLICT = "Conflict"  # Tenant: a namespace it lists is held by an older Tenant; GPUClass: its selector overlaps
SYSTEM_NAMESPACE = "SystemNamespace"  # Tenant: it lists a system namespace, which it does not get
UNKNOWN_GPU_CLASS = "UnknownGPUClass"  # Tenant: guaranteed or borrowingLimit names a class that does not exist
READY = "Ready"  # Tenant, GPUClass: False while the operator sets it aside (InvalidSpec, ...); True once it is back


def rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def well_formed(conditions: object) -> list[dict[str, Any]]:
    """The entries that are condition objects; anything else (a status written around the CRD schema) is dropped,
    so one job's broken status is rewritten rather than stopping every cycle."""
    if not isinstance(conditions, list):
        return []
    return [c for c in conditions if isinstance(c, dict) and isinstance(c.get("type"), str)]


def set_condition(conditions: list[dict[str, Any]], type_: str, status: bool, reason: str, message: str,
                  now: float, observed_generation: int | None = None) -> list[dict[str, Any]]:
    """A new list with condition `type_` set; the transition time moves only when the status flips."""
    value = "True" if status else "False"
    conditions = well_formed(conditions)
    out = [dict(c) for c in conditions if c.get("type") != type_]
    previous = next((c for c in conditions if c.get("type") == type_), None)
    since = previous["lastTransitionTime"] if previous and previous.get("status") == value else rfc3339(now)
    condition = Condition.merge_patch(type=type_, status=value, reason=reason, message=message[:32768],
                                      last_transition_time=since)
    if observed_generation is not None:
        condition.update(Condition.merge_patch(observed_generation=observed_generation))
    out.append(condition)
    return sorted(out, key=lambda c: str(c["type"]))


def false_since(conditions: list[dict[str, Any]], type_: str) -> str | None:
    """When condition `type_` last became False (its lastTransitionTime); None unless it is False."""
    return next((str(c["lastTransitionTime"]) for c in well_formed(conditions)
                 if c.get("type") == type_ and c.get("status") == "False" and c.get("lastTransitionTime")), None)


def same_conditions(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Equal ignoring transition times, so unchanged conditions cause no write."""
    def strip(cs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((str(c.get("type")), str(c.get("status")), str(c.get("reason")), str(c.get("message")))
                      for c in well_formed(cs))
    return strip(a) == strip(b)


def is_true(conditions: list[dict[str, Any]], type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True" for c in well_formed(conditions))


def report(conditions: list[dict[str, Any]], type_: str, problem: str | None, reason: str, cleared_reason: str,
           cleared_message: str, now: float, observed_generation: int | None = None) -> list[dict[str, Any]]:
    """A problem condition: True with `problem` as its message while there is one; once gone, False if it had been
    reported, and otherwise absent (no condition for every problem an object does not have)."""
    if problem is not None:
        return set_condition(conditions, type_, True, reason, problem, now, observed_generation)
    if is_true(conditions, type_):
        return set_condition(conditions, type_, False, cleared_reason, cleared_message, now, observed_generation)
    return well_formed(conditions)


def ready_again(conditions: list[dict[str, Any]], now: float, observed_generation: int | None = None) \
        -> list[dict[str, Any]]:
    """Ready turns True once an object set aside (Ready False) is in use again; an object never set aside gets none."""
    if any(c.get("type") == READY and c.get("status") == "False" for c in well_formed(conditions)):
        return set_condition(conditions, READY, True, "InUse", "the operator reads and uses this object again", now,
                             observed_generation)
    return well_formed(conditions)
