"""The operator's HTTP endpoint: Prometheus metrics, behind a bearer-token check when one is configured, and /readyz."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from urllib.parse import urlparse

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import MetricsHandler

from fairshare.k8s.metricsauth import Verdict

READY_PATH = "/readyz"
Check = Callable[[str | None], Verdict]  # the request's Authorization header -> what to answer


def handler_class(registry: CollectorRegistry, check: Check | None) -> type[MetricsHandler]:
    """prometheus_client's handler (content negotiation, gzip), answering /readyz without a token and every other
    path with the metrics once `check` (if any) allows the request."""
    base = MetricsHandler.factory(registry)

    class Handler(base):  # type: ignore[misc, valid-type]
        def do_GET(self) -> None:
            if urlparse(self.path).path == READY_PATH:
                self._answer(200, "ok")
                return
            if check is not None:
                verdict = check(self.headers.get("Authorization"))
                if verdict.status != 200:
                    self._answer(verdict.status, verdict.reason, bearer=verdict.status == 401)
                    return
            super().do_GET()

        def _answer(self, status: int, text: str, bearer: bool = False) -> None:
            body = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if bearer:
                self.send_header("WWW-Authenticate", 'Bearer realm="fairshare-operator metrics"')
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            return

    return Handler


def start_metrics_server(port: int, addr: str, registry: CollectorRegistry,
                         check: Check | None = None) -> ThreadingHTTPServer:
    """Serve on a daemon thread; returns the server (its port is server.server_address[1])."""
    server = ThreadingHTTPServer((addr, port), handler_class(registry, check))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
    return server
