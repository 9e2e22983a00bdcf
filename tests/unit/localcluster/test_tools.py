"""The local cluster's pure helpers as tables: the operator's extra environment (kwok's taint tolerated), which
control-plane binaries are missing, where they are cached, and the staging modules read from Kubernetes' go.mod."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairshare.localcluster import toolchain
from fairshare.localcluster.operatorenv import KWOK_TOLERATION, WORKER_POD_ENV, local_operator_env

OTHER = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}


@pytest.mark.parametrize(("settings", "want"), [
    pytest.param(None, {"tolerations": [dict(KWOK_TOLERATION)]}, id="no worker pod settings"),
    pytest.param("  ", {"tolerations": [dict(KWOK_TOLERATION)]}, id="blank settings"),
    pytest.param({"nodeSelector": {"pool": "x"}},
                 {"nodeSelector": {"pool": "x"}, "tolerations": [dict(KWOK_TOLERATION)]}, id="other settings kept"),
    pytest.param({"tolerations": [OTHER]}, {"tolerations": [OTHER, dict(KWOK_TOLERATION)]},
                 id="the user's tolerations kept, kwok's added"),
    pytest.param({"tolerations": [dict(KWOK_TOLERATION)]}, {"tolerations": [dict(KWOK_TOLERATION)]},
                 id="already there: not twice"),
])
def test_local_operator_env(settings: dict[str, object] | str | None, want: dict[str, object]) -> None:
    environ = {"PATH": "/bin"}
    if settings is not None:
        environ[WORKER_POD_ENV] = settings if isinstance(settings, str) else json.dumps(settings)
    got = local_operator_env(environ)
    assert got["PATH"] == "/bin"
    assert json.loads(got[WORKER_POD_ENV]) == want


@pytest.mark.parametrize(("built", "missing", "for_cluster"), [
    pytest.param(["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok", "helm"],
                 [], [], id="everything built"),
    pytest.param(["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"],
                 ["helm"], [], id="no helm: a cluster still runs"),
    pytest.param(["etcd", "kubectl", "helm"], ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"],
                 ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"], id="half built"),
])
def test_missing_binaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built: list[str], missing: list[str],
                          for_cluster: list[str]) -> None:
    monkeypatch.setenv("FAIRSHARE_CACHE", str(tmp_path))
    binaries = toolchain.binaries()
    for path in (binaries.etcd, binaries.kube_apiserver, binaries.kube_controller_manager, binaries.kube_scheduler,
                 binaries.kubectl, binaries.kwok, binaries.helm):
        if path.name in built:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    assert [p.name for p in binaries.missing()] == missing
    assert [p.name for p in binaries.missing_for_cluster()] == for_cluster


def test_binaries_are_cached_by_version_under_the_cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRSHARE_CACHE", str(tmp_path))
    binaries = toolchain.binaries()
    assert binaries.kube_apiserver == tmp_path / "bin" / f"k8s-{toolchain.K8S_VERSION}" / "kube-apiserver"
    assert binaries.kwok == tmp_path / "bin" / f"kwok-{toolchain.KWOK_VERSION}" / "kwok"
    assert binaries.helm == tmp_path / "bin" / f"helm-{toolchain.HELM_VERSION}" / "helm"


@pytest.mark.parametrize(("go_mod", "want"), [
    pytest.param("module k8s.io/kubernetes\n", [], id="no replacements"),
    pytest.param("replace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tk8s.io/client-go => ./staging/src/k8s.io/"
                 "client-go\n)\n", ["k8s.io/api", "k8s.io/client-go"], id="a replace block"),
    pytest.param("replace k8s.io/api => ./staging/src/k8s.io/api\n", [],
                 id="a one-line replace outside a block is not read (Kubernetes' go.mod uses a block)"),
    pytest.param("\tk8s.io/api => ../elsewhere/api\n\tk8s.io/b => ./staging/src/k8s.io/b\n"
                 "\tk8s.io/b => ./staging/src/k8s.io/b\n", ["k8s.io/b"], id="only staging paths, each once"),
])
def test_staging_modules(go_mod: str, want: list[str]) -> None:
    assert toolchain.staging_modules(go_mod) == want
