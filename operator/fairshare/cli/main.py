"""Entry point of the `fairshare` command: parses arguments and dispatches to one subcommand module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fairshare.cli import cluster_cmd, explain_cmd, operator_cmd, simulate_cmd


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fairshare", description="A fair-market GPU scheduler for Kubernetes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cluster_cmd.register(sub)
    operator_cmd.register(sub)
    explain_cmd.register(sub)
    simulate_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:  # user-facing failures carry a message naming what to fix
        print(f"fairshare: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
