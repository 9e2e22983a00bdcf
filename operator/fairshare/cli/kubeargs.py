"""The kubeconfig options every API-reading command shares, as kubectl spells them: --kubeconfig, --context, -n."""

from __future__ import annotations

import argparse
from typing import Any


def add(parser: argparse.ArgumentParser, namespace: bool = True) -> None:
    """--kubeconfig, --context and (unless the command is cluster-wide) -n/--namespace."""
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else the "
                                             "pod's service account)")
    parser.add_argument("--context", help="kubeconfig context (default: its current-context)")
    if namespace:
        parser.add_argument("-n", "--namespace", help="namespace (default: the context's, else default)")


def client(args: argparse.Namespace) -> Any:
    """A FairshareClient for the parsed options; a ConfigError in words when there is no usable kubeconfig."""
    from fairshare.client.sdk import FairshareClient

    return FairshareClient(kubeconfig=args.kubeconfig, context=args.context,
                           namespace=getattr(args, "namespace", None))
