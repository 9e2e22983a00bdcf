"""`fairshare queue`: the waiting TrainingJobs in queue order, with position, reason, ask and waiting time."""

from __future__ import annotations

import argparse
import gc
from typing import Any

from fairshare.cli import kubeargs

PAGE_SIZE = 5000  # a LIST page of whole objects, where the CRD predates the queue columns (fairshare.client.jobtable)


def register(sub: Any) -> None:
    p = sub.add_parser("queue", help="list waiting TrainingJobs in queue order (like squeue)")
    kubeargs.add(p)
    p.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    p.add_argument("--tenant", help="every namespace of this Tenant (needs read access to Tenants)")
    p.add_argument("-o", "--output", choices=("wide",), help="wide: add the full reason")
    p.set_defaults(func=cmd_queue)


def cmd_queue(args: argparse.Namespace) -> int:
    # A short-lived process that builds the parsed Table and a row per job and frees nothing: the cyclic collector would
    # only walk them over and over (a fifth of the time spent building 15,000 rows when measured).
    gc.disable()
    from fairshare.client import paths, views
    from fairshare.client.errors import NotFound
    from fairshare.client.jobtable import waiting_rows

    fs = kubeargs.client(args)
    now = views.now_utc()
    with fs:
        if args.tenant:
            try:
                tenant = fs.api.request("GET", paths.tenants(args.tenant))
            except NotFound:
                raise NotFound(404, "NotFound", f"no Tenant {args.tenant}; `fairshare shares` lists the tenants") \
                    from None
            namespaces = (tenant.get("spec") or {}).get("namespaces") or []
            rows = [r for ns in namespaces
                    for r in waiting_rows(fs.api, paths.training_jobs(ns), now, args.tenant, PAGE_SIZE)]
        else:
            scope = None if args.all_namespaces else fs.namespace
            rows = waiting_rows(fs.api, paths.training_jobs(scope), now, None, PAGE_SIZE)
    views.in_queue_order(rows)
    if not rows:
        where = f"tenant {args.tenant}" if args.tenant else "any namespace" if args.all_namespaces else \
            f"namespace {fs.namespace}"
        print(f"No waiting TrainingJobs in {where}.")
        return 0
    print(views.queue_table(rows, wide=args.output == "wide", namespaces=bool(args.all_namespaces or args.tenant)))
    return 0
