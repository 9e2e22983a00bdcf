"""The operator's settings from its environment (what the Helm chart's values become): policy, feedback, the worker
pods it renders, the namespaces no Tenant may own, leader election, the pod lifecycle, and bounded waits."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import socket
import uuid
from collections.abc import Mapping
from typing import Any

from fairshare.api import SpecError, parse_model
from fairshare.api.types import DNS_LABEL_PATTERN
from fairshare.control.namespaces import DEFAULT_PROTECTED_NAMESPACES
from fairshare.control.transition import LifecycleSettings
from fairshare.core.config import PolicyConfig
from fairshare.feedback.collector import FeedbackSettings
from fairshare.k8s.client import ApiTimeouts
from fairshare.k8s.election import DEFAULT_LEASE_NAME, ElectionSettings
from fairshare.render import RenderSettings
from fairshare.render.workerpod import WorkerPodSettings

POLICY_PREFIX = "FAIRSHARE_POLICY_"


def policy_env_name(field: str) -> str:
    """FAIRSHARE_POLICY_<FIELD>, e.g. half_life_hours -> FAIRSHARE_POLICY_HALF_LIFE_HOURS."""
    return POLICY_PREFIX + field.upper()


def typed_value(name: str, raw: str, default: Any) -> Any:
    """`raw` parsed as the type of `default` (bool, int, float, str); ValueError names `name` and the type."""
    text = raw.strip()
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return text.lower() in ("true", "1", "yes")
        return type(default)(text)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a {type(default).__name__} like {default!r}") from None


def policy_from_env(environ: Mapping[str, str]) -> PolicyConfig:
    """PolicyConfig with every field overridable as FAIRSHARE_POLICY_<FIELD>; unknown FAIRSHARE_POLICY_* names
    are refused, so a typo in the chart's values does not silently keep the default."""
    defaults = PolicyConfig()
    fields = {policy_env_name(f.name): f.name for f in dataclasses.fields(PolicyConfig)}
    unknown = sorted(k for k in environ if k.startswith(POLICY_PREFIX) and k not in fields)
    if unknown:
        raise ValueError(f"unknown policy setting(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    values = {field: typed_value(env, environ[env], getattr(defaults, field))
              for env, field in fields.items() if environ.get(env, "").strip()}
    return dataclasses.replace(defaults, **values)


METRICS_AUTH_MODES = ("none", "tokenreview")


def metrics_auth_from_env(environ: Mapping[str, str]) -> bool:
    """FAIRSHARE_METRICS_AUTH: `tokenreview` makes /metrics require a bearer token that a TokenReview authenticates
    and a SubjectAccessReview allows to get /metrics; `none` (the default) serves it to anyone who reaches the port."""
    raw = environ.get("FAIRSHARE_METRICS_AUTH", "").strip() or "none"
    if raw not in METRICS_AUTH_MODES:
        raise ValueError(f"FAIRSHARE_METRICS_AUTH={raw!r}: expected one of {', '.join(METRICS_AUTH_MODES)} "
                         "(the chart's metrics.auth.enabled sets it)")
    return raw == "tokenreview"


def feedback_from_env(environ: Mapping[str, str]) -> FeedbackSettings:
    """FAIRSHARE_FEEDBACK_SOURCE (scrape|prometheus|off), FAIRSHARE_PROMETHEUS_URL,
    FAIRSHARE_FEEDBACK_PERIOD_SECONDS, FAIRSHARE_FEEDBACK_WARMUP_SECONDS."""
    defaults = FeedbackSettings()
    return FeedbackSettings(
        source=environ.get("FAIRSHARE_FEEDBACK_SOURCE", defaults.source).strip().lower() or defaults.source,
        prometheus_url=environ.get("FAIRSHARE_PROMETHEUS_URL", "").strip(),
        period_seconds=typed_value("FAIRSHARE_FEEDBACK_PERIOD_SECONDS",
                              environ.get("FAIRSHARE_FEEDBACK_PERIOD_SECONDS", "") or str(defaults.period_seconds),
                              defaults.period_seconds),
        warmup_seconds=typed_value("FAIRSHARE_FEEDBACK_WARMUP_SECONDS",
                              environ.get("FAIRSHARE_FEEDBACK_WARMUP_SECONDS", "") or str(defaults.warmup_seconds),
                              defaults.warmup_seconds))


WORKER_POD_ENV = "FAIRSHARE_WORKER_POD"
PROTECTED_NAMESPACES_ENV = "FAIRSHARE_PROTECTED_NAMESPACES"
OPERATOR_NAMESPACE_ENV = "FAIRSHARE_OPERATOR_NAMESPACE"


def worker_pod_from_env(environ: Mapping[str, str]) -> WorkerPodSettings:
    """FAIRSHARE_WORKER_POD: the chart's `workerPod` values as one JSON object; unset or blank gives the defaults.
    ValueError names the variable and the value (`workerPod.tolerations[0].effect`) and says the fix."""
    raw = environ.get(WORKER_POD_ENV, "").strip()
    try:
        values = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"{WORKER_POD_ENV} is not JSON ({exc}); the chart writes it from workerPod") from None
    if not isinstance(values, dict):
        raise ValueError(f"{WORKER_POD_ENV} must be a JSON object (the chart's workerPod), got {raw[:80]!r}")
    try:
        return parse_model(WorkerPodSettings, values)
    except SpecError as err:
        raise ValueError(f"{WORKER_POD_ENV}: " + "; ".join(f"workerPod.{path}: {message}"
                                                           for path, message in err.problems)) from None


def render_from_env(environ: Mapping[str, str]) -> RenderSettings:
    """The RenderSettings of every worker pod, from FAIRSHARE_WORKER_POD; ValueError for values that are malformed or
    would weaken the restricted Pod Security profile, naming the value."""
    settings = worker_pod_from_env(environ)
    try:
        return settings.render_settings()
    except ValueError as exc:
        raise ValueError(f"{WORKER_POD_ENV}: {exc}") from None


def protected_namespaces_from_env(environ: Mapping[str, str]) -> frozenset[str]:
    """Namespaces no Tenant may own besides kube-*: FAIRSHARE_PROTECTED_NAMESPACES (comma-separated; unset: default)
    and the operator's own, FAIRSHARE_OPERATOR_NAMESPACE."""
    listed = environ.get(PROTECTED_NAMESPACES_ENV)
    names = (DEFAULT_PROTECTED_NAMESPACES if listed is None
             else frozenset(n.strip() for n in listed.split(",") if n.strip()))
    own = environ.get(OPERATOR_NAMESPACE_ENV, "").strip()
    for env, values in ((PROTECTED_NAMESPACES_ENV, names), (OPERATOR_NAMESPACE_ENV, {own} if own else set())):
        bad = sorted(n for n in values if len(n) > 63 or not re.match(DNS_LABEL_PATTERN, n))
        if bad:
            raise ValueError(f"{env}: {', '.join(bad)} is not a namespace name (a DNS-1123 label)")
    return names | ({own} if own else frozenset())


LEADER_ELECTION_ENV = "FAIRSHARE_LEADER_ELECTION"
IDENTITY_ENV = "FAIRSHARE_LEADER_ELECTION_IDENTITY"
LEASE_NAME_ENV = "FAIRSHARE_LEASE_NAME"
ELECTION_TIMES = {"lease_duration_seconds": "FAIRSHARE_LEASE_DURATION_SECONDS",
                  "renew_deadline_seconds": "FAIRSHARE_RENEW_DEADLINE_SECONDS",
                  "retry_period_seconds": "FAIRSHARE_RETRY_PERIOD_SECONDS"}


def default_identity() -> str:
    """<hostname>_<random>: unique per process, as client-go's examples build it (two processes on one host never
    share it). The chart passes the pod's name instead, which a restarted container keeps."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def election_from_env(environ: Mapping[str, str]) -> ElectionSettings:
    """FAIRSHARE_LEADER_ELECTION (true: wait as a warm standby while another replica leads; false: be the only one,
    refusing to start while another holds the Lease), FAIRSHARE_LEADER_ELECTION_IDENTITY (default: unique per
    process), FAIRSHARE_LEASE_NAME, the three durations, and the Lease's namespace: FAIRSHARE_OPERATOR_NAMESPACE
    (the chart's release namespace), else `default`. ValueError names the variable."""
    defaults = ElectionSettings()
    raw = environ.get(LEADER_ELECTION_ENV, "").strip()
    standby = typed_value(LEADER_ELECTION_ENV, raw, True) if raw else True
    times = {field: typed_value(env, environ[env], getattr(defaults, field))
             for field, env in ELECTION_TIMES.items() if environ.get(env, "").strip()}
    name = environ.get(LEASE_NAME_ENV, "").strip() or DEFAULT_LEASE_NAME
    namespace = environ.get(OPERATOR_NAMESPACE_ENV, "").strip() or "default"
    for env, value in ((LEASE_NAME_ENV, name), (OPERATOR_NAMESPACE_ENV, namespace)):
        if len(value) > 63 or not re.match(DNS_LABEL_PATTERN, value):
            raise ValueError(f"{env}: {value!r} is not a DNS-1123 label")
    return ElectionSettings(namespace=namespace, name=name,
                            identity=environ.get(IDENTITY_ENV, "").strip() or default_identity(),
                            standby=standby, **times)
LIFECYCLE_ENV = {
    "FAIRSHARE_POD_START_GRACE_SECONDS": "pod_start_grace_seconds",
    "FAIRSHARE_NODE_LOST_GRACE_SECONDS": "node_lost_grace_seconds",
    "FAIRSHARE_RESTART_BACKOFF_SECONDS": "restart_backoff_seconds",
    "FAIRSHARE_RESTART_BACKOFF_MAX_SECONDS": "restart_backoff_max_seconds",
}


def lifecycle_from_env(environ: Mapping[str, str]) -> LifecycleSettings:
    """LifecycleSettings from FAIRSHARE_POD_START_GRACE_SECONDS, FAIRSHARE_NODE_LOST_GRACE_SECONDS,
    FAIRSHARE_RESTART_BACKOFF_SECONDS and FAIRSHARE_RESTART_BACKOFF_MAX_SECONDS (seconds, >= 0); unset keeps the
    default. ValueError names the variable."""
    defaults = LifecycleSettings()
    values = {field: typed_value(env, environ[env], getattr(defaults, field))
              for env, field in LIFECYCLE_ENV.items() if environ.get(env, "").strip()}
    try:
        return dataclasses.replace(defaults, **values)
    except ValueError as exc:
        env = next(e for e, f in LIFECYCLE_ENV.items() if str(exc).startswith(f))
        raise ValueError(f"{env}: {exc}") from None


API_TIMEOUT_ENV = {"FAIRSHARE_API_CONNECT_TIMEOUT_SECONDS": "connect_seconds",
                   "FAIRSHARE_API_READ_TIMEOUT_SECONDS": "read_seconds"}


def api_timeouts_from_env(environ: Mapping[str, str]) -> ApiTimeouts:
    """ApiTimeouts from FAIRSHARE_API_CONNECT_TIMEOUT_SECONDS and FAIRSHARE_API_READ_TIMEOUT_SECONDS (seconds, > 0);
    unset keeps the default. ValueError names the variable."""
    defaults = ApiTimeouts()
    values = {field: typed_value(env, environ[env], getattr(defaults, field))
              for env, field in API_TIMEOUT_ENV.items() if environ.get(env, "").strip()}
    for env, field in API_TIMEOUT_ENV.items():
        if field in values and not values[field] > 0:
            raise ValueError(f"{env}={environ[env]!r}: must be more than 0 seconds")
    return dataclasses.replace(defaults, **values)


@dataclasses.dataclass(frozen=True)
class WatchTimeouts:
    """kopf's requests: the API server ends each watch after `server_seconds` (the client gives up that plus the read
    timeout later), a stream that brings no event, not even a bookmark, for `inactivity_seconds` is taken for dead
    and reopened (the API server sends a bookmark about every 60 s), and any other request of kopf's (the LIST before
    each watch, cluster-wide for pods) may take `request_seconds` in all."""

    server_seconds: int = 300  # the API server takes whole seconds (timeoutSeconds=300.0 is a 400 Bad Request)
    inactivity_seconds: float = 70.0
    request_seconds: float = 300.0  # kopf's own default: a LIST of every pod of a large cluster takes a while


WATCH_ENV = {"FAIRSHARE_WATCH_TIMEOUT_SECONDS": "server_seconds",
             "FAIRSHARE_WATCH_INACTIVITY_SECONDS": "inactivity_seconds",
             "FAIRSHARE_KOPF_REQUEST_TIMEOUT_SECONDS": "request_seconds"}


def watch_from_env(environ: Mapping[str, str]) -> WatchTimeouts:
    """WatchTimeouts from FAIRSHARE_WATCH_TIMEOUT_SECONDS, FAIRSHARE_WATCH_INACTIVITY_SECONDS and
    FAIRSHARE_KOPF_REQUEST_TIMEOUT_SECONDS (seconds, > 0)."""
    defaults = WatchTimeouts()
    values = {field: typed_value(env, environ[env], getattr(defaults, field))
              for env, field in WATCH_ENV.items() if environ.get(env, "").strip()}
    for env, field in WATCH_ENV.items():
        if field in values and not values[field] > 0:
            raise ValueError(f"{env}={environ[env]!r}: must be more than 0 seconds")
    return dataclasses.replace(defaults, **values)


WATCHDOG_ENV = "FAIRSHARE_CYCLE_WATCHDOG_PERIODS"
DEFAULT_WATCHDOG_PERIODS = 12


def watchdog_periods_from_env(environ: Mapping[str, str]) -> int:
    """FAIRSHARE_CYCLE_WATCHDOG_PERIODS: liveness fails once no cycle has completed for this many cycle periods while
    work is pending (default 12; 0 turns the watchdog off). ValueError names the variable."""
    raw = environ.get(WATCHDOG_ENV, "").strip()
    periods = typed_value(WATCHDOG_ENV, raw, DEFAULT_WATCHDOG_PERIODS) if raw else DEFAULT_WATCHDOG_PERIODS
    if periods < 0:
        raise ValueError(f"{WATCHDOG_ENV}={raw!r}: must be 0 (off) or a whole number of cycle periods")
    return int(periods)


GC_TENURE_ENV = "FAIRSHARE_GC_TENURE_SECONDS"
DEFAULT_GC_TENURE_SECONDS = 10.0


def gc_tenure_seconds_from_env(environ: Mapping[str, str]) -> float:
    """FAIRSHARE_GC_TENURE_SECONDS: how often objects that survived the young generations are tenured out of the
    garbage collector's scans (fairshare.gcpauses; default 10 s; 0 turns it off). ValueError names the variable."""
    raw = environ.get(GC_TENURE_ENV, "").strip()
    seconds = typed_value(GC_TENURE_ENV, raw, DEFAULT_GC_TENURE_SECONDS) if raw else DEFAULT_GC_TENURE_SECONDS
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{GC_TENURE_ENV}={raw!r}: must be 0 (off) or a finite number of seconds")
    return float(seconds)
