"""`fairshare operator`: run the kopf operator in the foreground against $KUBECONFIG or the in-cluster account."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("operator", help="run the operator (kopf, cluster-wide) in the foreground")
    p.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"), help="default: $KUBECONFIG, else in-cluster")
    p.add_argument("--metrics-port", type=int, default=int(os.environ.get("FAIRSHARE_METRICS_PORT", "8080")),
                   help="Prometheus /metrics port (0 disables)")
    p.add_argument("--liveness-port", type=int, default=8081, help="kopf's /healthz port (0 disables)")
    p.add_argument("--period", type=float, default=float(os.environ.get("FAIRSHARE_CYCLE_PERIOD_SECONDS", "10")),
                   help="seconds between periodic scheduling cycles (default $FAIRSHARE_CYCLE_PERIOD_SECONDS or 10)")
    p.add_argument("--feedback", choices=("scrape", "prometheus", "off"),
                   default=os.environ.get("FAIRSHARE_FEEDBACK_SOURCE", "scrape"),
                   help="how trainer throughput is read: scrape pods (default), query Prometheus, or not at all")
    p.add_argument("--prometheus-url", default=os.environ.get("FAIRSHARE_PROMETHEUS_URL", ""),
                   help="Prometheus base URL for --feedback prometheus, e.g. http://prometheus:9090")
    p.add_argument("--leader-election", action=argparse.BooleanOptionalAction,
                   default=os.environ.get("FAIRSHARE_LEADER_ELECTION", "true").strip().lower() not in
                   ("false", "0", "no"),
                   help="elect a leader on a Lease; the others wait as warm standbys (default, and "
                        "$FAIRSHARE_LEADER_ELECTION). Without it, the process must be the only one: it refuses to "
                        "start while another live process holds the Lease")
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=cmd_operator)


def cmd_operator(args: argparse.Namespace) -> int:
    if args.kubeconfig:
        # Before kopf (and the kubernetes client, which reads $KUBECONFIG once, at import) is imported.
        os.environ["KUBECONFIG"] = args.kubeconfig
    import kopf
    os.environ["FAIRSHARE_METRICS_PORT"] = str(args.metrics_port)
    os.environ["FAIRSHARE_CYCLE_PERIOD_SECONDS"] = str(args.period)
    os.environ["FAIRSHARE_FEEDBACK_SOURCE"] = args.feedback
    os.environ["FAIRSHARE_PROMETHEUS_URL"] = args.prometheus_url
    os.environ["FAIRSHARE_LEADER_ELECTION"] = "true" if args.leader_election else "false"
    from fairshare.settings import (
        IDENTITY_ENV,
        api_timeouts_from_env,
        election_from_env,
        feedback_from_env,
        lifecycle_from_env,
        policy_from_env,
        protected_namespaces_from_env,
        render_from_env,
        watch_from_env,
        watchdog_periods_from_env,
    )

    try:  # refuse bad settings here, with the variable named, rather than inside kopf's startup
        policy_from_env(os.environ)
        feedback_from_env(os.environ)
        render_from_env(os.environ)
        protected_namespaces_from_env(os.environ)
        election = election_from_env(os.environ)
        lifecycle_from_env(os.environ)
        timeouts = api_timeouts_from_env(os.environ)
        watch_from_env(os.environ)
        watchdog_periods_from_env(os.environ)
    except ValueError as exc:
        raise SystemExit(f"fairshare operator: {exc}") from None
    os.environ[IDENTITY_ENV] = election.identity  # the one the startup handler uses: a default is drawn only once
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not election.standby:
        refuse_a_second_instance(election, timeouts)
    # kopf logs every handler success at INFO: one line per watch event, noise at cluster scale.
    logging.getLogger("kopf.objects").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    import fairshare.handlers.operator  # noqa: F401  (registers the handlers)

    liveness = f"http://0.0.0.0:{args.liveness_port}/healthz" if args.liveness_port else None
    kopf.run(clusterwide=True, standalone=True, liveness_endpoint=liveness)
    leadership = fairshare.handlers.operator.RUNTIME.leadership
    return leadership.exit_code if leadership is not None else 0


def refuse_a_second_instance(election: Any, timeouts: Any = None) -> None:
    """Without election the process must be the only one: exit, naming the holder, if another live process holds
    the Lease (one seen to renew it); wait out the Lease of one that died (at most its lease duration)."""
    from fairshare.k8s.client import api_client
    from fairshare.k8s.election import LeaderElector, claim_single_instance
    from fairshare.k8s.lease import KubeLease

    elector = LeaderElector(KubeLease(api_client(timeouts=timeouts), election), election)
    try:
        holder = claim_single_instance(elector)
    except TimeoutError as exc:
        raise SystemExit(f"fairshare operator: {exc}") from None
    if holder:
        raise SystemExit(
            f"fairshare operator: another operator ({holder}) holds Lease {election.namespace}/{election.name} and "
            f"renews it, and leader election is off (--no-leader-election, FAIRSHARE_LEADER_ELECTION=false), so "
            f"this one would schedule the same GPUs twice: not starting. Stop the other one, or run both with "
            f"leader election so that this one waits as a standby.")
