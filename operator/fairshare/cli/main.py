"""Entry point of the `fairshare` command: parses arguments and dispatches to one subcommand module.

Only the module of the command being run is imported: the others pull in the Kubernetes client, pydantic, numpy or
the simulator (~1 s together), which `fairshare queue` should not wait for. `fairshare --help` lists every command
from COMMANDS without importing any of them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# command -> (module under fairshare.cli that registers it, its one-line help); a unit test checks each help against
# the module's own.
COMMANDS: dict[str, tuple[str, str]] = {
    "toolchain": ("cluster_cmd", "build (once) and cache etcd, kube-*, kubectl, kwok and helm (and kueue)"),
    "up": ("cluster_cmd", "the embedded default: local cluster, operator, sample tenants and jobs"),
    "down": ("cluster_cmd", "stop everything `fairshare up` started"),
    "cluster": ("cluster_cmd", "manage the local control plane"),
    "operator": ("operator_cmd", "run the operator (kopf, cluster-wide) in the foreground"),
    "explain": ("explain_cmd", "explain a TrainingJob's placement, wait or preemption"),
    "queue": ("queue_cmd", "list waiting TrainingJobs in queue order (like squeue)"),
    "shares": ("shares_cmd", "fair-share factors per tenant and GPU class (like sshare)"),
    "simulate": ("simulate_cmd", "replay a GPU-cluster trace through the scheduling policies"),
}


def build_parser(command: str | None = None, lazy: bool = False) -> argparse.ArgumentParser:
    """The parser with every command's arguments, or (`lazy`) only those of `command` (none when it is None): the
    rest are listed with their help but not imported."""
    parser = argparse.ArgumentParser(prog="fairshare", description="A fair-market GPU scheduler for Kubernetes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = {module for name, (module, _) in COMMANDS.items() if not lazy or name == command}
    loaded: set[str] = set()
    for name, (module, text) in COMMANDS.items():
        if module not in wanted:
            sub.add_parser(name, help=text)
        elif module not in loaded:
            importlib.import_module(f"fairshare.cli.{module}").register(sub)
            loaded.add(module)
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The command word (the first argument that is not an option), when it names a known command."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = command_of(argv)
    args = build_parser(command, lazy=True).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:  # user-facing failures carry a message naming what to fix
        print(f"fairshare: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
