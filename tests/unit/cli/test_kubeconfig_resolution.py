"""Which cluster, context and namespace a command talks to, from its command line and environment, as kubectl
resolves them: --kubeconfig over $KUBECONFIG over ~/.kube/config, --context over current-context, -n over the
context's namespace. Each case parses a real `fairshare queue` command line and builds its client (no request)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fairshare.cli import kubeargs, main
from fairshare.client.errors import ConfigError


def kubeconfig(path: Path, server: str, current: str | None) -> Path:
    """A kubeconfig with two contexts on `server`: dev (namespace nlp) and prod (no namespace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u", "namespace": "nlp"}},
                     {"name": "prod", "context": {"cluster": "c", "user": "u"}}],
    }
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three kubeconfigs on three servers: ~/.kube/config (:1), env.yaml (:2) and flag.yaml (:3); no $KUBECONFIG."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    kubeconfig(tmp_path / "home" / ".kube" / "config", "http://127.0.0.1:1", current="dev")
    kubeconfig(tmp_path / "env.yaml", "http://127.0.0.1:2", current="prod")
    kubeconfig(tmp_path / "flag.yaml", "http://127.0.0.1:3", current=None)
    return tmp_path


@pytest.mark.parametrize(("flags", "env", "want"), [
    pytest.param([], None, ("http://127.0.0.1:1", "dev", "nlp"), id="~/.kube/config, its current context"),
    pytest.param([], "env.yaml", ("http://127.0.0.1:2", "prod", "default"),
                 id="$KUBECONFIG over ~/.kube/config; a context without a namespace: default"),
    pytest.param(["--kubeconfig", "{dir}/flag.yaml", "--context", "dev"], "env.yaml",
                 ("http://127.0.0.1:3", "dev", "nlp"), id="--kubeconfig over $KUBECONFIG"),
    pytest.param(["--context", "prod"], None, ("http://127.0.0.1:1", "prod", "default"),
                 id="--context over current-context"),
    pytest.param(["-n", "cv"], None, ("http://127.0.0.1:1", "dev", "cv"), id="-n over the context's namespace"),
    pytest.param([], "missing.yaml:env.yaml", ("http://127.0.0.1:2", "prod", "default"),
                 id="a $KUBECONFIG list skips missing files"),
])
def test_resolution(files: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], env: str | None,
                    want: tuple[str, str, str]) -> None:
    if env is not None:
        monkeypatch.setenv("KUBECONFIG", ":".join(str(files / name) for name in env.split(":")))
    args = main.build_parser("queue", lazy=True).parse_args(["queue", *[f.format(dir=files) for f in flags]])
    with kubeargs.client(args) as client:
        conn = client.connection
        assert (conn.server, conn.context, conn.namespace) == want
        assert client.namespace == want[2]


@pytest.mark.parametrize(("flags", "env", "words"), [
    pytest.param(["--kubeconfig", "{dir}/nowhere.yaml"], None, "--kubeconfig {dir}/nowhere.yaml: no such file",
                 id="a --kubeconfig that does not exist"),
    pytest.param([], "nowhere.yaml", "names no existing file", id="a $KUBECONFIG naming no file"),
    pytest.param(["--kubeconfig", "{dir}/flag.yaml"], None, "current-context",
                 id="a kubeconfig without a current context, and no --context"),
    pytest.param(["--context", "staging"], None, "staging", id="a context the kubeconfig does not define"),
])
def test_errors_name_the_option_or_file(files: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str],
                                        env: str | None, words: str) -> None:
    if env is not None:
        monkeypatch.setenv("KUBECONFIG", str(files / env))
    args = main.build_parser("queue", lazy=True).parse_args(["queue", *[f.format(dir=files) for f in flags]])
    with pytest.raises(ConfigError) as err:
        kubeargs.client(args)
    assert words.format(dir=files) in str(err.value)
