"""Kubeconfig resolution as kubectl does it: which file, which context, which namespace, which credentials, and an
error in words whenever none can be used."""

from __future__ import annotations

import base64
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from fairshare.client import kubeconfig
from fairshare.client.errors import ConfigError
from fairshare.localcluster import pki


def write(path: Path, contexts: dict[str, dict[str, Any]], current: str | None = None,
          clusters: dict[str, dict[str, Any]] | None = None, users: dict[str, dict[str, Any]] | None = None) -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": n, "cluster": c} for n, c in (clusters or {"c": {"server": "http://127.0.0.1:1"}}).items()],
        "users": [{"name": n, "user": u} for n, u in (users or {"u": {}}).items()],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u", **c}} for n, c in contexts.items()],
    }
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), **values}


def test_the_default_file_and_its_current_context_and_namespace(tmp_path: Path) -> None:
    (tmp_path / "home" / ".kube").mkdir(parents=True)
    write(tmp_path / "home" / ".kube" / "config", {"dev": {"namespace": "nlp"}, "prod": {}}, current="dev")
    conn = kubeconfig.load(environ=env(tmp_path))
    assert (conn.context, conn.namespace, conn.server) == ("dev", "nlp", "http://127.0.0.1:1")


@pytest.mark.parametrize(("context", "namespace", "want"), [
    pytest.param(None, None, ("dev", "nlp"), id="current context, its namespace"),
    pytest.param("prod", None, ("prod", "default"), id="--context without a namespace: default"),
    pytest.param("dev", "cv", ("dev", "cv"), id="-n wins over the context's namespace"),
])
def test_context_and_namespace_choice(tmp_path: Path, context: str | None, namespace: str | None,
                                      want: tuple[str, str]) -> None:
    path = write(tmp_path / "kc", {"dev": {"namespace": "nlp"}, "prod": {}}, current="dev")
    conn = kubeconfig.load(str(path), context, namespace, environ=env(tmp_path))
    assert (conn.context, conn.namespace) == want


def test_kubeconfig_lists_are_merged_first_file_wins(tmp_path: Path) -> None:
    first = write(tmp_path / "a", {"dev": {"namespace": "from-a"}})  # no current-context here
    second = write(tmp_path / "b", {"dev": {"namespace": "from-b"}, "other": {}}, current="dev")
    conn = kubeconfig.load(environ=env(tmp_path, KUBECONFIG=f"{tmp_path / 'missing'}:{first}:{second}"))
    assert (conn.context, conn.namespace) == ("dev", "from-a")
    assert kubeconfig.load(context="other", environ=env(tmp_path, KUBECONFIG=f"{first}:{second}")).context == "other"


@pytest.mark.parametrize(("setup", "kwargs", "words"), [
    pytest.param("none", {}, "no kubeconfig: KUBECONFIG is unset and ~/.kube/config does not exist",
                 id="nothing at all"),
    pytest.param("none", {"context": "dev"}, "--context dev: there is no kubeconfig", id="a context without a file"),
    pytest.param("env-missing", {}, "names no existing file", id="KUBECONFIG names nothing"),
    pytest.param("explicit-missing", {}, "--kubeconfig", id="--kubeconfig names nothing"),
    pytest.param("file", {"context": "nope"}, "context 'nope' is not in kubeconfig", id="unknown context"),
    pytest.param("no-current", {}, "sets no current-context; pass --context (one of: dev)", id="no current context"),
])
def test_errors_in_words(tmp_path: Path, setup: str, kwargs: dict[str, Any], words: str) -> None:
    environ = env(tmp_path)
    if setup == "env-missing":
        environ["KUBECONFIG"] = str(tmp_path / "missing")
    if setup == "explicit-missing":
        kwargs = {"kubeconfig": str(tmp_path / "missing")}
    if setup == "file":
        environ["KUBECONFIG"] = str(write(tmp_path / "kc", {"dev": {}}, current="dev"))
    if setup == "no-current":
        environ["KUBECONFIG"] = str(write(tmp_path / "kc", {"dev": {}}))
    with pytest.raises(ConfigError) as err:
        kubeconfig.load(environ=environ, **kwargs)
    assert words in str(err.value)


@pytest.mark.parametrize(("user", "want"), [
    pytest.param({"token": "abc"}, {"Authorization": "Bearer abc"}, id="token"),
    pytest.param({"tokenFile": "tok"}, {"Authorization": "Bearer from-file"},
                 id="tokenFile, relative to the kubeconfig"),
    pytest.param({"username": "u", "password": "p"}, {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()},
                 id="basic"),
    pytest.param({}, {}, id="none (client certificates)"),
])
def test_credentials(tmp_path: Path, user: dict[str, Any], want: dict[str, str]) -> None:
    (tmp_path / "tok").write_text("from-file\n")
    path = write(tmp_path / "kc", {"dev": {}}, current="dev", users={"u": user})
    assert dict(kubeconfig.load(str(path), environ=env(tmp_path)).headers) == want


def test_an_exec_plugin_is_run_for_its_token(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text("import json, os\nprint(json.dumps({'kind': 'ExecCredential', 'status': {'token': "
                      "os.environ['GREETING'] + '-' + json.loads(os.environ['KUBERNETES_EXEC_INFO'])['kind']}}))\n")
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(plugin)], "env": [{"name": "GREETING", "value": "hi"}]}}
    path = write(tmp_path / "kc", {"dev": {}}, current="dev", users={"u": user})
    assert kubeconfig.load(str(path), environ=env(tmp_path)).headers == {"Authorization": "Bearer hi-ExecCredential"}


def test_a_failing_exec_plugin_and_an_auth_provider_are_errors_in_words(tmp_path: Path) -> None:
    failing = {"exec": {"command": sys.executable, "args": ["-c", "import sys; sys.exit('log in first')"]}}
    path = write(tmp_path / "kc", {"dev": {}}, current="dev", users={"u": failing})
    with pytest.raises(ConfigError, match="exited 1: log in first"):
        kubeconfig.load(str(path), environ=env(tmp_path))
    path = write(tmp_path / "kc", {"dev": {}}, current="dev", users={"u": {"auth-provider": {"name": "gcp"}}})
    with pytest.raises(ConfigError, match="auth-provider \\(gcp\\).*exec credential plugin"):
        kubeconfig.load(str(path), environ=env(tmp_path))


@pytest.mark.parametrize("inline", [False, True], ids=["certificate files", "inline certificate data"])
def test_tls_from_certificate_files_or_inline_data(tmp_path: Path, inline: bool) -> None:
    certs = pki.generate(tmp_path / "pki")
    b64 = lambda p: base64.b64encode(p.read_bytes()).decode()  # noqa: E731
    cluster = {"server": "https://127.0.0.1:6443",
               **({"certificate-authority-data": b64(certs.ca_cert)} if inline else
                  {"certificate-authority": "pki/ca.crt"})}
    user = ({"client-certificate-data": b64(certs.admin_cert), "client-key-data": b64(certs.admin_key)} if inline else
            {"client-certificate": str(certs.admin_cert), "client-key": str(certs.admin_key)})
    path = write(tmp_path / "kc", {"dev": {}}, current="dev", clusters={"c": cluster}, users={"u": user})
    conn = kubeconfig.load(str(path), environ=env(tmp_path))
    assert conn.ssl_context is not None and conn.ssl_context.verify_mode.name == "CERT_REQUIRED"
    assert [c["subject"] for c in conn.ssl_context.get_ca_certs()] and not list(tmp_path.glob("fairshare-cred-*"))


def test_an_unreadable_certificate_is_an_error_naming_the_context(tmp_path: Path) -> None:
    cluster = {"server": "https://127.0.0.1:6443", "certificate-authority": "missing.crt"}
    path = write(tmp_path / "kc", {"dev": {}}, current="dev", clusters={"c": cluster})
    with pytest.raises(ConfigError, match="context 'dev' in .*cannot load its credentials"):
        kubeconfig.load(str(path), environ=env(tmp_path))


def test_inline_keys_go_through_a_private_file_that_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    certs = pki.generate(tmp_path / "pki")

    class Probe:
        def load_cert_chain(self, path: str) -> None:
            seen.append(stat.S_IMODE(Path(path).stat().st_mode))
            assert Path(path).read_bytes().endswith(certs.admin_key.read_bytes())

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    kubeconfig.load_chain_from_memory(Probe(), certs.admin_cert.read_bytes(), certs.admin_key.read_bytes())  # type: ignore[arg-type]
    assert seen == [0o600] and not [p for p in tmp_path.iterdir() if p.name.startswith("fairshare-cred-")]
