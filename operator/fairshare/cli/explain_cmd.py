"""`fairshare explain [NAMESPACE/]NAME`: why a TrainingJob waits, runs where it runs, or was preempted, in words."""

from __future__ import annotations

import argparse
from typing import Any

from fairshare.cli import kubeargs


def register(sub: Any) -> None:
    p = sub.add_parser("explain", help="explain a TrainingJob's placement, wait or preemption")
    p.add_argument("job", metavar="[NAMESPACE/]NAME", help="the TrainingJob, e.g. nlp/bert-7, or bert-7 with -n nlp")
    kubeargs.add(p)
    p.set_defaults(func=cmd_explain)


def job_reference(text: str, namespace: str | None) -> tuple[str | None, str]:
    """(namespace, name) from NAMESPACE/NAME or NAME (then -n, else the context's namespace)."""
    ns, sep, name = text.rpartition("/")
    if sep and (not ns or not name or "/" in ns):
        raise RuntimeError(f"expected NAMESPACE/NAME or NAME, got {text!r}")
    if sep and namespace and namespace != ns:
        raise RuntimeError(f"{text!r} names namespace {ns} but -n says {namespace}; give one of them")
    return (ns if sep else namespace), name


def cmd_explain(args: argparse.Namespace) -> int:
    namespace, name = job_reference(args.job, args.namespace)
    with kubeargs.client(args) as fs:
        print(fs.explain(name, namespace))
    return 0
