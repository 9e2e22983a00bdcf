"""Entry point for `python -m fairshare_trainer` and `torchrun ... -m fairshare_trainer`."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

from fairshare_trainer.signals import StopRequest

EXIT_CONFIG_ERROR = 2  # distinct from a crash (1), so the operator can mark the job Failed without retrying


def main(argv: Sequence[str] | None = None) -> int:
    # Handle SIGTERM before the slow torch import: an eviction during start-up must still exit cleanly.
    stop = StopRequest().install()
    # The slim image has no NumPy and the trainer needs none; torch warns about it on import.
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

    from fairshare_trainer.config import ConfigError, load_config
    from fairshare_trainer.placement import placement_from_env

    try:
        placement = placement_from_env(os.environ)
        config = load_config(sys.argv[1:] if argv is None else argv, os.environ, local_rank=placement.local_rank)
        from fairshare_trainer import train

        return train.run(config, placement, stop)
    except ConfigError as error:
        print(f"fairshare_trainer: configuration error: {error}", file=sys.stderr, flush=True)
        return EXIT_CONFIG_ERROR


if __name__ == "__main__":
    sys.exit(main())
