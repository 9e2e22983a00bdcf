"""Trainer configuration: FAIRSHARE_* environment variables and CLI flags, validated into one frozen value."""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MODEL_SIZES = ("tiny", "small", "base")
DEVICES = ("auto", "cpu", "cuda")
MAX_TCP_PORT = 65535
# A Kubernetes namespace and object name: DNS-1123 labels/subdomains, joined by one slash.
_JOB_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")


class ConfigError(ValueError):
    """A setting is invalid; the message names the environment variable or flag that carries it."""


@dataclass(frozen=True)
class TrainerConfig:
    """Everything one trainer process needs to know, after defaults, environment and flags are merged."""

    checkpoint_dir: str = ""  # empty: checkpointing disabled (a local smoke run)
    checkpoint_every_steps: int = 100  # 0: no step-based checkpoints
    checkpoint_every_seconds: float = 300.0  # 0: no time-based checkpoints
    checkpoints_kept: int = 2
    metrics_port: int = 0  # base port; local rank r serves on base + r; 0: no metrics server
    metrics_addr: str = "0.0.0.0"
    job: str = "default/local"  # namespace/name of the TrainingJob, a constant metric label
    gpu_class: str = ""  # the GPUClass the operator placed this job on, a constant metric label
    max_steps: int = 1000  # 0: train until SIGTERM
    model_size: str = "tiny"
    batch_size: int = 16  # sequences per process per step; the global batch is this times the world size
    seed: int = 0
    learning_rate: float = 2e-3
    warmup_steps: int = 20
    grad_clip_norm: float = 1.0
    log_every_steps: int = 10
    device: str = "auto"
    termination_log: str = "/dev/termination-log"  # written at exit only if the file exists (the kubelet creates it)
    # Stand-in for hardware heterogeneity where every "GPU class" is the same CPU (tests, demos): on a class listed
    # here the trainer runs at this fraction of its real speed, by sleeping after each step. Throughput is still
    # measured, not reported from this table. Empty: run at full speed everywhere.
    emulated_class_speed: tuple[tuple[str, float], ...] = ()

    def speed_factor(self) -> float:
        """The emulated speed fraction on the GPU class this process runs on (1.0 when not emulated)."""
        return dict(self.emulated_class_speed).get(self.gpu_class, 1.0)


@dataclass(frozen=True)
class _Setting:
    """How one config field is read: its environment variable, its flag and its parser/validator."""

    field: str
    env: str
    parse: Callable[[str], Any]
    rule: str  # said in the error message when parse fails


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw.strip())
        if value < minimum:
            raise ValueError
        return value

    return parse


def _float_at_least(minimum: float, *, strictly: bool = False) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw.strip())
        if value != value or value < minimum or (strictly and value == minimum):  # NaN fails too
            raise ValueError
        return value

    return parse


def _one_of(choices: Sequence[str]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError
        return value

    return parse


def _port(raw: str) -> int:
    value = int(raw.strip())
    if not 0 <= value <= MAX_TCP_PORT:
        raise ValueError
    return value


def _job(raw: str) -> str:
    value = raw.strip()
    if not _JOB_PATTERN.match(value):
        raise ValueError
    return value


def _class_speeds(raw: str) -> tuple[tuple[str, float], ...]:
    """`a100=1,l4=0.25` -> (("a100", 1.0), ("l4", 0.25)); each fraction in (0, 1]."""
    pairs: list[tuple[str, float]] = []
    for item in raw.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        speed = float(value)
        if not sep or not name.strip() or not 0 < speed <= 1:
            raise ValueError
        pairs.append((name.strip(), speed))
    return tuple(pairs)


def _text(raw: str) -> str:
    return raw.strip()


SETTINGS: tuple[_Setting, ...] = (
    _Setting("checkpoint_dir", "FAIRSHARE_CHECKPOINT_DIR", _text, "a directory path (empty disables checkpoints)"),
    _Setting("checkpoint_every_steps", "FAIRSHARE_CHECKPOINT_EVERY_STEPS", _int_at_least(0), "an integer >= 0"),
    _Setting("checkpoint_every_seconds", "FAIRSHARE_CHECKPOINT_EVERY_SECONDS", _float_at_least(0), "a number >= 0"),
    _Setting("checkpoints_kept", "FAIRSHARE_CHECKPOINTS_KEPT", _int_at_least(1), "an integer >= 1"),
    _Setting("metrics_port", "FAIRSHARE_METRICS_PORT", _port, f"a TCP port 0..{MAX_TCP_PORT} (0 disables)"),
    _Setting("metrics_addr", "FAIRSHARE_METRICS_ADDR", _text, "a listen address"),
    _Setting("job", "FAIRSHARE_JOB", _job, "namespace/name of the TrainingJob, e.g. team-a/bert-7"),
    _Setting("gpu_class", "FAIRSHARE_GPU_CLASS", _text, "the GPUClass name"),
    _Setting("max_steps", "FAIRSHARE_MAX_STEPS", _int_at_least(0), "an integer >= 0 (0: until SIGTERM)"),
    _Setting("model_size", "FAIRSHARE_MODEL_SIZE", _one_of(MODEL_SIZES), "one of " + ", ".join(MODEL_SIZES)),
    _Setting("batch_size", "FAIRSHARE_BATCH_SIZE", _int_at_least(1), "a positive integer"),
    _Setting("seed", "FAIRSHARE_SEED", _int_at_least(0), "an integer >= 0"),
    _Setting("learning_rate", "FAIRSHARE_LEARNING_RATE", _float_at_least(0, strictly=True), "a number > 0"),
    _Setting("warmup_steps", "FAIRSHARE_WARMUP_STEPS", _int_at_least(0), "an integer >= 0"),
    _Setting("grad_clip_norm", "FAIRSHARE_GRAD_CLIP_NORM", _float_at_least(0, strictly=True), "a number > 0"),
    _Setting("log_every_steps", "FAIRSHARE_LOG_EVERY_STEPS", _int_at_least(1), "a positive integer"),
    _Setting("device", "FAIRSHARE_DEVICE", _one_of(DEVICES), "one of " + ", ".join(DEVICES)),
    _Setting("termination_log", "FAIRSHARE_TERMINATION_LOG", _text, "a file path"),
    _Setting("emulated_class_speed", "FAIRSHARE_EMULATED_CLASS_SPEED", _class_speeds,
             "CLASS=FRACTION pairs separated by commas, each fraction in (0, 1], e.g. a100=1,l4=0.25"),
)


def flag_name(setting: _Setting) -> str:
    """The CLI flag for a setting: its field name in kebab case, e.g. --batch-size."""
    return "--" + setting.field.replace("_", "-")


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fairshare_trainer",
        description="Train a small decoder-only transformer LM with DDP. Flags override FAIRSHARE_* variables.",
    )
    defaults = TrainerConfig()
    for setting in SETTINGS:
        # Flags stay strings here so that env and flag values go through the same validation.
        parser.add_argument(
            flag_name(setting),
            dest=setting.field,
            default=None,
            metavar="VALUE",
            help=f"{setting.rule}; env {setting.env}; default {getattr(defaults, setting.field)!r}",
        )
    return parser


def load_config(argv: Sequence[str], environ: Mapping[str, str], *, local_rank: int = 0) -> TrainerConfig:
    """Merge defaults < environment < flags, validate each value, and raise ConfigError naming the culprit."""
    flags = vars(_argument_parser().parse_args(list(argv)))
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if flags[setting.field] is not None:
            raw, source = flags[setting.field], flag_name(setting)
        elif environ.get(setting.env, "").strip():
            raw, source = environ[setting.env], setting.env
        else:
            continue  # unset and empty both mean "use the default"
        try:
            values[setting.field] = setting.parse(raw)
        except ValueError:
            raise ConfigError(f"{source}={raw!r} is invalid: expected {setting.rule}") from None
    config = dataclasses.replace(TrainerConfig(), **values)
    _check_combination(config, local_rank)
    return config


def _check_combination(config: TrainerConfig, local_rank: int) -> None:
    """Rules that involve more than one value."""
    if config.metrics_port and config.metrics_port + local_rank > MAX_TCP_PORT:
        raise ConfigError(
            f"FAIRSHARE_METRICS_PORT={config.metrics_port} plus LOCAL_RANK={local_rank} exceeds {MAX_TCP_PORT}"
        )
