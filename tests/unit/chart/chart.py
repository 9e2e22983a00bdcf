"""Helpers for the chart tests: the chart's paths, and `helm template` / `helm lint` with the project's helm."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from fairshare.localcluster import toolchain

REPO_ROOT = Path(__file__).resolve().parents[3]
CHART_DIR = REPO_ROOT / "charts" / "fairshare-operator"
DASHBOARD_DIR = CHART_DIR / "dashboards"
ALERTS_FILE = CHART_DIR / "files" / "alerts.yaml"
RELEASE = "fs"
NAMESPACE = "fairshare-system"
# Metric names in PromQL: every series the chart's dashboards and alerts read is the operator's or a trainer's.
METRIC_NAME = re.compile(r"\bfairshare_[a-z0-9_]+\b")


def helm() -> Path:
    path = toolchain.binaries().helm
    assert path.is_file(), f"helm is not built at {path}: run `make toolchain`"
    return path


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is not installed: run `make system-deps` (Debian's prometheus package)"
    return path


def run_helm(*args: str, values: dict[str, Any] | None = None, tmp_path: Path | None = None,
             check: bool = True) -> subprocess.CompletedProcess[str]:
    """helm with `values` (if any) passed as a values file, never --set, so numbers and booleans keep their types."""
    argv = [str(helm()), *args]
    if values is not None:
        assert tmp_path is not None, "a values dict needs tmp_path for its file"
        values_file = tmp_path / "values.yaml"
        values_file.write_text(yaml.safe_dump(values))
        argv += ["-f", str(values_file)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def render(tmp_path: Path, values: dict[str, Any] | None = None, *extra: str) -> list[dict[str, Any]]:
    """Every object `helm template` renders (templates only; CRDs are checked on their own)."""
    proc = run_helm("template", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE, *extra,
                    values=values or {}, tmp_path=tmp_path)
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def render_error(tmp_path: Path, values: dict[str, Any], *extra: str) -> str:
    """stderr of a `helm template` that must fail."""
    proc = run_helm("template", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE, *extra,
                    values=values, tmp_path=tmp_path, check=False)
    assert proc.returncode != 0, f"helm template accepted {values}"
    return proc.stderr


def one(objects: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in found]}"
    return found[0]


def kinds(objects: Iterable[dict[str, Any]]) -> list[str]:
    return sorted(o["kind"] for o in objects)


def container_env(container: dict[str, Any]) -> dict[str, str]:
    """A container's literal env values by name (valueFrom entries left out)."""
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
