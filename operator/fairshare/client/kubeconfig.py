"""Where the API server is and how to authenticate to it: kubeconfig files and contexts as kubectl reads them.

The lookup order is kubectl's: an explicit `--kubeconfig`, else the files listed in $KUBECONFIG (merged, the first
file that sets a key wins), else ~/.kube/config, else the pod's service account. This module reads only YAML and the
files it names, so the CLI answers without importing the Kubernetes client library (~0.5 s of imports).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import ssl
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fairshare.client.errors import ConfigError

DEFAULT_PATH = Path("~/.kube/config")
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
EXEC_TIMEOUT_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class Connection:
    """One resolved context: the server URL, TLS settings, the credentials and the default namespace."""

    server: str
    namespace: str
    context: str
    source: str  # the kubeconfig path(s) or "in-cluster", for messages
    ssl_context: ssl.SSLContext | None = None  # None for a plain-HTTP server
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


def kubeconfig_paths(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """The kubeconfig files to merge, in precedence order; empty when none exists (then: in-cluster)."""
    environ = os.environ if environ is None else environ
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"--kubeconfig {explicit}: no such file; pass the path of a kubeconfig file")
        return [path]
    listed = [Path(p).expanduser() for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        found = [p for p in listed if p.is_file()]  # kubectl skips missing entries of the list
        if not found:
            raise ConfigError(f"KUBECONFIG={environ['KUBECONFIG']} names no existing file; unset it to use "
                              f"{DEFAULT_PATH}, or point it at a kubeconfig file")
        return found
    default = Path(environ["HOME"]) / ".kube" / "config" if environ.get("HOME") else DEFAULT_PATH.expanduser()
    return [default] if default.is_file() else []


def merge(documents: list[tuple[Path, Mapping[str, Any]]]) -> dict[str, Any]:
    """kubectl's merge: named clusters, users and contexts from every file (the first file to name one wins), and
    the first current-context set. Each entry remembers its file, because relative paths are relative to it."""
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": None}
    for path, doc in documents:
        for section, key in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for entry in doc.get(section) or []:
                if isinstance(entry, Mapping) and entry.get("name") and entry["name"] not in merged[section]:
                    merged[section][entry["name"]] = (path, entry.get(key) or {})
        if not merged["current-context"] and doc.get("current-context"):
            merged["current-context"] = doc["current-context"]
    return merged


def load(kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None,
         environ: Mapping[str, str] | None = None) -> Connection:
    """The Connection for `context` (default: the current context), or the service account inside a pod."""
    paths = kubeconfig_paths(kubeconfig, environ)
    if not paths:
        if context:
            raise ConfigError(f"--context {context}: there is no kubeconfig (KUBECONFIG is unset and {DEFAULT_PATH} "
                              "does not exist); pass --kubeconfig or set KUBECONFIG")
        return in_cluster(namespace, environ)
    import yaml  # type: ignore[import-untyped]  # (no stubs pinned)

    documents = []
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read kubeconfig {path}: {exc}") from None
        if not isinstance(doc, Mapping):
            raise ConfigError(f"kubeconfig {path} is not a kubeconfig (a YAML mapping with clusters, users, contexts)")
        documents.append((path, doc))
    merged = merge(documents)
    source = os.pathsep.join(str(p) for p in paths)
    name = context or merged["current-context"]
    if not name:
        raise ConfigError(f"kubeconfig {source} sets no current-context; pass --context "
                          f"(one of: {', '.join(sorted(merged['contexts'])) or 'none defined'})")
    if name not in merged["contexts"]:
        raise ConfigError(f"context {name!r} is not in kubeconfig {source}; known contexts: "
                          f"{', '.join(sorted(merged['contexts'])) or 'none'}")
    _, ctx = merged["contexts"][name]
    if ctx.get("cluster") not in merged["clusters"]:
        raise ConfigError(f"context {name!r} names cluster {ctx.get('cluster')!r}, which kubeconfig {source} "
                          "does not define")
    cluster_file, cluster = merged["clusters"][ctx["cluster"]]
    user_file, user = merged["users"].get(ctx.get("user"), (cluster_file, {}))
    server = str(cluster.get("server") or "")
    if not server.startswith(("https://", "http://")):
        raise ConfigError(f"cluster {ctx['cluster']!r} in {cluster_file} has no https:// server URL")
    try:
        headers = auth_headers(user, user_file, name)
        tls = tls_context(cluster, cluster_file, user, user_file) if server.startswith("https://") else None
    except (OSError, ssl.SSLError, ValueError) as exc:  # a missing or unreadable certificate, key or token file
        raise ConfigError(f"context {name!r} in {source}: cannot load its credentials: {exc}") from None
    return Connection(server=server.rstrip("/"), namespace=namespace or ctx.get("namespace") or "default",
                      context=name, source=source, ssl_context=tls, headers=headers)


def in_cluster(namespace: str | None, environ: Mapping[str, str] | None = None) -> Connection:
    """The pod's service account; otherwise the error a user without any kubeconfig should read."""
    environ = os.environ if environ is None else environ
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT", "443")
    token = SERVICE_ACCOUNT_DIR / "token"
    if not host or not token.is_file():
        raise ConfigError(f"no kubeconfig: KUBECONFIG is unset and {DEFAULT_PATH} does not exist (and this is not a "
                          "pod with a service account); pass --kubeconfig PATH or set KUBECONFIG")
    tls = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT_DIR / "ca.crt"))
    ns_file = SERVICE_ACCOUNT_DIR / "namespace"
    default_ns = ns_file.read_text().strip() if ns_file.is_file() else "default"
    host = f"[{host}]" if ":" in host else host
    return Connection(server=f"https://{host}:{port}", namespace=namespace or default_ns, context="in-cluster",
                      source="in-cluster", ssl_context=tls,
                      headers={"Authorization": f"Bearer {token.read_text().strip()}"})


def _file(entry: Mapping[str, Any], key: str, origin: Path) -> str | None:
    """A path from a kubeconfig entry, relative to the kubeconfig that holds it (as kubectl resolves it)."""
    value = entry.get(key)
    return str((origin.parent / Path(value).expanduser()).resolve()) if value else None


def _data(entry: Mapping[str, Any], key: str) -> bytes | None:
    value = entry.get(f"{key}-data")
    return base64.b64decode(value) if value else None


def tls_context(cluster: Mapping[str, Any], cluster_file: Path, user: Mapping[str, Any],
                user_file: Path) -> ssl.SSLContext:
    """Server verification from the cluster entry, and the client certificate (if any) from the user entry."""
    if cluster.get("insecure-skip-tls-verify"):
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    else:
        ca_data = _data(cluster, "certificate-authority")
        tls = ssl.create_default_context(cafile=_file(cluster, "certificate-authority", cluster_file),
                                         cadata=ca_data.decode() if ca_data else None)
    cert_data, key_data = _data(user, "client-certificate"), _data(user, "client-key")
    cert_file, key_file = _file(user, "client-certificate", user_file), _file(user, "client-key", user_file)
    credential = exec_credential(user) if user.get("exec") else {}
    if credential.get("clientCertificateData"):
        cert_data = credential["clientCertificateData"].encode()
        key_data = credential["clientKeyData"].encode()
    if cert_data or key_data:
        load_chain_from_memory(tls, cert_data or Path(str(cert_file)).read_bytes(),
                               key_data or Path(str(key_file)).read_bytes())
    elif cert_file:
        tls.load_cert_chain(cert_file, key_file)
    return tls


def load_chain_from_memory(tls: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """ssl loads certificates only from files: write them to a private temporary file, load it, delete it."""
    fd, path = tempfile.mkstemp(prefix="fairshare-cred-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(cert.rstrip(b"\n") + b"\n" + key)
        tls.load_cert_chain(path)
    finally:
        os.unlink(path)


def auth_headers(user: Mapping[str, Any], user_file: Path, context: str) -> dict[str, str]:
    """A bearer token (inline, from a file or from an exec plugin) or basic auth; nothing for client certificates."""
    if user.get("auth-provider"):
        raise ConfigError(f"context {context!r} uses an auth-provider ({user['auth-provider'].get('name')}), which "
                          "Kubernetes removed; switch the user to an exec credential plugin (e.g. gke-gcloud-auth-"
                          "plugin, kubelogin)")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = Path(str(_file(user, "tokenFile", user_file))).read_text().strip()
    if not token and user.get("exec"):
        token = exec_credential(user).get("token")
    if token:
        return {"Authorization": f"Bearer {token}"}
    if user.get("username"):
        basic = base64.b64encode(f"{user['username']}:{user.get('password', '')}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}
    return {}


def exec_credential(user: Mapping[str, Any]) -> dict[str, Any]:
    """Run the user's client-go credential plugin (kubectl's `exec`) and return its ExecCredential status."""
    spec = user["exec"]
    env = {**os.environ, **{e["name"]: e["value"] for e in spec.get("env") or []},
           "KUBERNETES_EXEC_INFO": json.dumps({"apiVersion": spec.get("apiVersion"), "kind": "ExecCredential",
                                               "spec": {"interactive": False}})}
    argv = [spec["command"], *(spec.get("args") or [])]
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=EXEC_TIMEOUT_SECONDS,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"credential plugin {spec['command']} failed: {exc}; {spec.get('installHint', '')}") \
            from None
    if proc.returncode != 0:
        raise ConfigError(f"credential plugin {spec['command']} exited {proc.returncode}: {proc.stderr.strip()}")
    try:
        return dict(json.loads(proc.stdout).get("status") or {})
    except ValueError:
        raise ConfigError(f"credential plugin {spec['command']} printed no ExecCredential JSON") from None
