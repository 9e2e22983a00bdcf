"""The operator's settings from its environment (what the Helm chart's values become): policy, feedback, lifecycle."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from fairshare.control.transition import LifecycleSettings
from fairshare.core.config import PolicyConfig
from fairshare.feedback.collector import FeedbackSettings

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
