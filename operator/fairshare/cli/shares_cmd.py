"""`fairshare shares`: per tenant and GPU class, weight, guarantee, fair share, holdings, usage and budget."""

from __future__ import annotations

import argparse
from typing import Any

from fairshare.cli import kubeargs


def register(sub: Any) -> None:
    p = sub.add_parser("shares", help="fair-share factors per tenant and GPU class (like sshare)")
    kubeargs.add(p)
    p.add_argument("--tenant", help="only this Tenant")
    p.set_defaults(func=cmd_shares)


def cmd_shares(args: argparse.Namespace) -> int:
    """Every tenant by default; -n NS: the tenant that owns NS; --tenant T: that one."""
    from fairshare.client import paths, views

    fs = kubeargs.client(args)
    with fs:
        tenants = fs.api.list(paths.tenants())
        classes = fs.api.list(paths.gpu_classes())
    if args.tenant:
        tenants = [t for t in tenants if t["metadata"]["name"] == args.tenant]
        if not tenants:
            raise RuntimeError(f"no Tenant {args.tenant}; run `fairshare shares` to list them")
    elif args.namespace:
        tenants = [t for t in tenants if args.namespace in ((t.get("spec") or {}).get("namespaces") or [])]
        if not tenants:
            raise RuntimeError(f"no Tenant owns namespace {args.namespace}; an admin lists it in a Tenant's "
                               "spec.namespaces")
    if not tenants:
        print("No Tenants.")
        return 0
    print(views.shares_table(views.share_rows(tenants, classes)))
    return 0
