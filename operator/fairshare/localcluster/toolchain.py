"""Build and cache the control-plane binaries (etcd, kube-*, kubectl, kwok, helm, kueue) outside the repo.

Runs with the standard library only, so it works before any virtual environment exists:
``python3 -m fairshare.localcluster.toolchain [--json] [--kueue]`` from ``operator/``.

Kubernetes cannot be ``go install``-ed (its go.mod replaces staging modules with local paths), so a
throwaway wrapper module requires ``k8s.io/kubernetes`` and replaces each staging module with its
published ``v0.<minor>.<patch>`` tag, derived from Kubernetes' own go.mod. etcd's server is already in
that module graph, so a three-line ``etcdmain.Main`` wrapper builds it from the same dependencies.
Kueue's manager (for the side-by-side scale benchmark, with ``--kueue`` only) is a plain ``go install`` of
``cmd/kueue``; its performance-harness configs are read from the same module, downloaded by ``go mod download``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

K8S_VERSION = "v1.34.4"
KWOK_VERSION = "v0.7.0"
HELM_VERSION = "v3.21.4"
KUEUE_VERSION = "v0.17.0"
KUEUE_MODULE = "sigs.k8s.io/kueue"

K8S_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")

ETCD_MAIN = """package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
"""

STAGING_REPLACE = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class StepReport:
    """How long one build step took and the peak resident memory of its largest child process."""

    name: str
    seconds: float
    peak_rss_mib: float
    cached: bool


def cache_root() -> Path:
    """Where built binaries live: $FAIRSHARE_CACHE, else ~/.cache/fairshare."""
    return Path(os.environ.get("FAIRSHARE_CACHE", Path.home() / ".cache" / "fairshare"))


def k8s_bin_dir() -> Path:
    return cache_root() / "bin" / f"k8s-{K8S_VERSION}"


def kwok_bin_dir() -> Path:
    return cache_root() / "bin" / f"kwok-{KWOK_VERSION}"


def helm_bin_dir() -> Path:
    return cache_root() / "bin" / f"helm-{HELM_VERSION}"


def kueue_bin_dir() -> Path:
    return cache_root() / "bin" / f"kueue-{KUEUE_VERSION}"


def kueue_manager() -> Path:
    """Kueue's manager binary, built by ``fairshare toolchain`` (only the scale benchmark needs it)."""
    return kueue_bin_dir() / "kueue"


def kueue_module_dir() -> Path:
    """The unpacked Kueue module (its performance-harness configs and CRDs), fetched through the Go module proxy."""
    env = _go_env()
    proc = subprocess.run(["go", "mod", "download", "-json", f"{KUEUE_MODULE}@{KUEUE_VERSION}"], env=env,
                          cwd=tempfile.gettempdir(), capture_output=True, text=True)
    info = json.loads(proc.stdout or "{}")
    if proc.returncode != 0 or "Dir" not in info:
        raise RuntimeError(f"go mod download {KUEUE_MODULE}@{KUEUE_VERSION} failed: {info.get('Error', proc.stderr)}")
    return Path(info["Dir"])


@dataclasses.dataclass(frozen=True)
class Binaries:
    """Absolute paths of every control-plane binary, once built."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    kwok: Path
    helm: Path

    def missing(self) -> list[Path]:
        """Every binary not built yet."""
        return [p for p in dataclasses.astuple(self) if not Path(p).is_file()]

    def missing_for_cluster(self) -> list[Path]:
        """The binaries a running cluster needs (all but helm) that are not built yet."""
        return [p for p in self.missing() if p != self.helm]


def binaries() -> Binaries:
    k8s = k8s_bin_dir()
    return Binaries(
        etcd=k8s / "etcd",
        kube_apiserver=k8s / "kube-apiserver",
        kube_controller_manager=k8s / "kube-controller-manager",
        kube_scheduler=k8s / "kube-scheduler",
        kubectl=k8s / "kubectl",
        kwok=kwok_bin_dir() / "kwok",
        helm=helm_bin_dir() / "helm",
    )


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOTOOLCHAIN", "local")
    env["CGO_ENABLED"] = "0"
    env["GOFLAGS"] = "-trimpath -buildvcs=false -mod=mod"
    return env


def _timed(name: str, argv: list[str], cwd: Path | None = None,
           env: dict[str, str] | None = None) -> tuple[StepReport, str]:
    """Run one command, raising with its output on failure; return its report and stdout.

    os.wait4 gives this command's own resource usage, whose ru_maxrss is the peak of its process tree
    (the Go compiler and linker), unlike RUSAGE_CHILDREN, which is a running maximum over every step.
    """
    print(f"[toolchain] {name}: {' '.join(argv)}", file=sys.stderr, flush=True)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, cwd=cwd, env=env or _go_env(), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {proc.returncode}):\n{stdout[-4000:]}\n{stderr[-8000:]}")
    report = StepReport(name=name, seconds=round(elapsed, 1), peak_rss_mib=round(usage.ru_maxrss / 1024, 1),
                        cached=False)
    return report, stdout


def staging_modules(kubernetes_go_mod: str) -> list[str]:
    """The k8s.io modules that Kubernetes' go.mod replaces with ./staging paths."""
    return sorted(set(STAGING_REPLACE.findall(kubernetes_go_mod)))


def _version_ldflags(version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    stamp = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        stamp += [f"-X {pkg}.gitVersion={version}", f"-X {pkg}.gitMajor={major}", f"-X {pkg}.gitMinor={minor}",
                  f"-X {pkg}.gitTreeState=clean"]
    return "-s -w " + " ".join(stamp)


def build_kubernetes(dest: Path) -> list[StepReport]:
    """Build etcd and the Kubernetes control-plane commands into dest via a wrapper module."""
    reports: list[StepReport] = []
    major_minor_patch = K8S_VERSION.lstrip("v").split(".")
    staging_tag = f"v0.{major_minor_patch[1]}.{major_minor_patch[2]}"
    with tempfile.TemporaryDirectory(prefix="fairshare-k8s-build-") as tmp:
        work = Path(tmp)
        env = _go_env()
        download = ["go", "mod", "download", "-json", f"k8s.io/kubernetes@{K8S_VERSION}"]
        report, stdout = _timed("go mod download kubernetes", download, cwd=work, env=env)
        reports.append(report)
        info = json.loads(stdout)
        modules = staging_modules(Path(info["GoMod"]).read_text())
        if not modules:
            raise RuntimeError(f"no staging replacements found in {info['GoMod']}")
        subprocess.run(["go", "mod", "init", "fairshare.local/controlplane"], cwd=work, env=env,
                       check=True, capture_output=True)
        edits = [f"-require=k8s.io/kubernetes@{K8S_VERSION}"]
        edits += [f"-replace={m}={m}@{staging_tag}" for m in modules]
        subprocess.run(["go", "mod", "edit", *edits], cwd=work, env=env, check=True)
        tools = "//go:build tools\n\npackage tools\n\nimport (\n"
        tools += "".join(f'\t_ "k8s.io/kubernetes/cmd/{c}"\n' for c in K8S_COMMANDS) + ")\n"
        (work / "tools.go").write_text(tools)
        (work / "cmd" / "etcd").mkdir(parents=True)
        (work / "cmd" / "etcd" / "main.go").write_text(ETCD_MAIN)
        reports.append(_timed("go mod tidy", ["go", "mod", "tidy"], cwd=work, env=env)[0])
        out = work / "out"
        out.mkdir()
        pkgs = [f"k8s.io/kubernetes/cmd/{c}" for c in K8S_COMMANDS] + ["./cmd/etcd"]
        reports.append(_timed("go build kube-* kubectl etcd",
                              ["go", "build", "-ldflags", _version_ldflags(K8S_VERSION), "-o", str(out) + "/", *pkgs],
                              cwd=work, env=env)[0])
        _install_dir(out, dest)
    return reports


def build_go_install(name: str, package: str, dest: Path) -> list[StepReport]:
    """go install a module without replace directives (kwok, helm) into dest."""
    with tempfile.TemporaryDirectory(prefix=f"fairshare-{name}-build-") as tmp:
        env = _go_env()
        env["GOBIN"] = tmp
        env["GOFLAGS"] = "-trimpath -buildvcs=false"
        report, _ = _timed(f"go install {name}", ["go", "install", "-ldflags", "-s -w", package],
                           cwd=Path(tmp), env=env)
        _install_dir(Path(tmp), dest)
    return [report]


def _install_dir(src: Path, dest: Path) -> None:
    """Move built binaries into place atomically, so a half-finished build never looks cached."""
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(src, staging, ignore=shutil.ignore_patterns("*.go", "go.mod", "go.sum", "cmd"))
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)


def ensure(verbose: bool = True, with_kueue: bool = False) -> tuple[Binaries, list[StepReport]]:
    """Build whatever binary is missing from the cache (Kueue's manager too when asked); return their paths and a
    report per step."""
    if shutil.which("go") is None:
        raise RuntimeError("Go is required to build the control plane: install Go >= 1.24 and retry")
    reports: list[StepReport] = []
    targets = [
        (k8s_bin_dir(), "etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl",
         lambda d: build_kubernetes(d)),
        (kwok_bin_dir(), "kwok", lambda d: build_go_install("kwok", f"sigs.k8s.io/kwok/cmd/kwok@{KWOK_VERSION}", d)),
        (helm_bin_dir(), "helm", lambda d: build_go_install("helm", f"helm.sh/helm/v3/cmd/helm@{HELM_VERSION}", d)),
    ]
    if with_kueue:
        targets.append((kueue_bin_dir(), "kueue",
                        lambda d: build_go_install("kueue", f"{KUEUE_MODULE}/cmd/kueue@{KUEUE_VERSION}", d)))
    for dest, label, build in targets:
        start = time.monotonic()
        if dest.is_dir() and any(dest.iterdir()):
            reports.append(StepReport(name=f"{label} (cached)", seconds=round(time.monotonic() - start, 3),
                                      peak_rss_mib=0.0, cached=True))
            continue
        reports.extend(build(dest))
    bins = binaries()
    if with_kueue and not kueue_manager().is_file():
        raise RuntimeError(f"toolchain incomplete, missing: {kueue_manager()}")
    if bins.missing():
        raise RuntimeError(f"toolchain incomplete, missing: {', '.join(map(str, bins.missing()))}")
    if verbose:
        for r in reports:
            print(f"[toolchain] {r.name}: {r.seconds}s, peak RSS {r.peak_rss_mib} MiB", file=sys.stderr)
    return bins, reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the step report as JSON")
    parser.add_argument("--kueue", action="store_true", help="also build Kueue's manager (for the scale benchmark)")
    args = parser.parse_args(argv)
    bins, reports = ensure(with_kueue=args.kueue)
    if args.json:
        print(json.dumps({"binaries": {k: str(v) for k, v in dataclasses.asdict(bins).items()},
                          "steps": [dataclasses.asdict(r) for r in reports]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
