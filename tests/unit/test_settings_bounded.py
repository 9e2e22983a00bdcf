"""The bounded-wait settings from the environment: API call timeouts, watch timeouts, the cycle watchdog."""

from __future__ import annotations

import pytest

from fairshare.k8s.client import ApiTimeouts
from fairshare.settings import (
    WatchTimeouts,
    api_timeouts_from_env,
    gc_tenure_seconds_from_env,
    watch_from_env,
    watchdog_periods_from_env,
)


@pytest.mark.parametrize(("environ", "expected"), [
    pytest.param({}, ApiTimeouts(5.0, 30.0), id="defaults"),
    pytest.param({"FAIRSHARE_API_CONNECT_TIMEOUT_SECONDS": "2", "FAIRSHARE_API_READ_TIMEOUT_SECONDS": "7.5"},
                 ApiTimeouts(2.0, 7.5), id="both set"),
    pytest.param({"FAIRSHARE_API_READ_TIMEOUT_SECONDS": " "}, ApiTimeouts(), id="blank keeps the default"),
])
def test_api_timeouts_from_env(environ: dict[str, str], expected: ApiTimeouts) -> None:
    assert api_timeouts_from_env(environ) == expected


@pytest.mark.parametrize(("environ", "expected"), [
    pytest.param({}, WatchTimeouts(300, 70.0, 300.0), id="defaults"),
    pytest.param({"FAIRSHARE_WATCH_TIMEOUT_SECONDS": "20", "FAIRSHARE_WATCH_INACTIVITY_SECONDS": "10",
                  "FAIRSHARE_KOPF_REQUEST_TIMEOUT_SECONDS": "45"}, WatchTimeouts(20, 10.0, 45.0), id="all set"),
])
def test_watch_from_env(environ: dict[str, str], expected: WatchTimeouts) -> None:
    assert watch_from_env(environ) == expected


@pytest.mark.parametrize(("environ", "expected"), [
    pytest.param({}, 12, id="default"),
    pytest.param({"FAIRSHARE_CYCLE_WATCHDOG_PERIODS": "3"}, 3, id="set"),
    pytest.param({"FAIRSHARE_CYCLE_WATCHDOG_PERIODS": "0"}, 0, id="off"),
])
def test_watchdog_periods_from_env(environ: dict[str, str], expected: int) -> None:
    assert watchdog_periods_from_env(environ) == expected


@pytest.mark.parametrize(("environ", "expected"), [
    pytest.param({}, 10.0, id="default"),
    pytest.param({"FAIRSHARE_GC_TENURE_SECONDS": "2.5"}, 2.5, id="set"),
    pytest.param({"FAIRSHARE_GC_TENURE_SECONDS": "0"}, 0.0, id="off"),
])
def test_gc_tenure_seconds_from_env(environ: dict[str, str], expected: float) -> None:
    assert gc_tenure_seconds_from_env(environ) == expected


@pytest.mark.parametrize(("parse", "environ", "message"), [
    pytest.param(api_timeouts_from_env, {"FAIRSHARE_API_READ_TIMEOUT_SECONDS": "0"},
                 "FAIRSHARE_API_READ_TIMEOUT_SECONDS='0': must be more than 0", id="read 0"),
    pytest.param(api_timeouts_from_env, {"FAIRSHARE_API_CONNECT_TIMEOUT_SECONDS": "soon"},
                 "FAIRSHARE_API_CONNECT_TIMEOUT_SECONDS='soon': expected a float", id="connect not a number"),
    pytest.param(watch_from_env, {"FAIRSHARE_WATCH_TIMEOUT_SECONDS": "300.0"},
                 "FAIRSHARE_WATCH_TIMEOUT_SECONDS='300.0': expected a int", id="watch timeout not whole"),
    pytest.param(watch_from_env, {"FAIRSHARE_WATCH_INACTIVITY_SECONDS": "-1"},
                 "FAIRSHARE_WATCH_INACTIVITY_SECONDS='-1': must be more than 0", id="inactivity negative"),
    pytest.param(watchdog_periods_from_env, {"FAIRSHARE_CYCLE_WATCHDOG_PERIODS": "-2"},
                 "FAIRSHARE_CYCLE_WATCHDOG_PERIODS='-2': must be 0", id="watchdog negative"),
    pytest.param(watchdog_periods_from_env, {"FAIRSHARE_CYCLE_WATCHDOG_PERIODS": "2.5"},
                 "FAIRSHARE_CYCLE_WATCHDOG_PERIODS='2.5': expected a int", id="watchdog not whole"),
    pytest.param(gc_tenure_seconds_from_env, {"FAIRSHARE_GC_TENURE_SECONDS": "-1"},
                 "FAIRSHARE_GC_TENURE_SECONDS='-1': must be 0", id="tenure negative"),
    pytest.param(gc_tenure_seconds_from_env, {"FAIRSHARE_GC_TENURE_SECONDS": "nan"},
                 "FAIRSHARE_GC_TENURE_SECONDS='nan': must be 0", id="tenure not a number (nan)"),
    pytest.param(gc_tenure_seconds_from_env, {"FAIRSHARE_GC_TENURE_SECONDS": "inf"},
                 "FAIRSHARE_GC_TENURE_SECONDS='inf': must be 0", id="tenure never (inf)"),
    pytest.param(gc_tenure_seconds_from_env, {"FAIRSHARE_GC_TENURE_SECONDS": "often"},
                 "FAIRSHARE_GC_TENURE_SECONDS='often': expected a float", id="tenure not a number"),
])
def test_bad_bounded_wait_settings_are_refused_naming_the_variable(parse: object, environ: dict[str, str],
                                                                   message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse(environ)  # type: ignore[operator]
