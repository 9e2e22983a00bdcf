"""The chart's bounded-wait values reach the operator's settings: API call timeouts, watch timeouts, the watchdog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fairshare.k8s.client import ApiTimeouts
from fairshare.settings import (
    WatchTimeouts,
    api_timeouts_from_env,
    gc_tenure_seconds_from_env,
    watch_from_env,
    watchdog_periods_from_env,
)
from tests.unit.chart.chart import container_env, one, render, render_error


def env_of(tmp_path: Path, values: dict[str, Any] | None = None) -> dict[str, str]:
    (container,) = one(render(tmp_path, values), "Deployment")["spec"]["template"]["spec"]["containers"]
    return container_env(container)


@pytest.mark.parametrize(("operator", "timeouts", "watch", "periods", "tenure"), [
    pytest.param({}, ApiTimeouts(), WatchTimeouts(), 12, 10.0, id="defaults are the operator's own"),
    pytest.param({"apiConnectTimeoutSeconds": 1.5, "apiReadTimeoutSeconds": 10, "watchTimeoutSeconds": 60,
                  "watchInactivitySeconds": 20, "kopfRequestTimeoutSeconds": 90, "cycleWatchdogPeriods": 0,
                  "gcTenureSeconds": 0}, ApiTimeouts(1.5, 10.0), WatchTimeouts(60, 20.0, 90.0), 0, 0.0,
                 id="every value set"),
])
def test_bounded_wait_values_reach_the_operator(tmp_path: Path, operator: dict[str, Any], timeouts: ApiTimeouts,
                                                watch: WatchTimeouts, periods: int, tenure: float) -> None:
    env = env_of(tmp_path, {"operator": operator} if operator else None)
    assert (api_timeouts_from_env(env), watch_from_env(env), watchdog_periods_from_env(env),
            gc_tenure_seconds_from_env(env)) == (timeouts, watch, periods, tenure)


@pytest.mark.parametrize("operator", [
    pytest.param({"apiReadTimeoutSeconds": 0}, id="read timeout 0"),
    pytest.param({"cycleWatchdogPeriods": -1}, id="watchdog negative"),
    pytest.param({"gcTenureSeconds": -5}, id="tenure negative"),
    pytest.param({"apiConnectTimeoutSeconds": "5s"}, id="a string"),
])
def test_the_schema_refuses_bad_bounded_wait_values(tmp_path: Path, operator: dict[str, Any]) -> None:
    assert next(iter(operator)) in render_error(tmp_path, {"operator": operator})
